/* JSON request validation. */
#include "core/jsonv.h"

#include <string.h>

size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

int jsonv_depth(const json_t *value)
{
    int deepest = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)value, key, child)
        {
            int d = jsonv_depth(child);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(value)) {
        size_t i;
        json_t *child;
        json_array_foreach(value, i, child)
        {
            int d = jsonv_depth(child);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

json_t *jsonv_parse_object(const char *body, size_t len, bool empty_is_object, struct err *e)
{
    json_error_t jerr;
    json_t *value;

    if (len == 0) {
        if (empty_is_object)
            return json_object();
        err_set(e, 400, "invalid_json", NULL, "the request body is empty; a JSON object is needed");
        return NULL;
    }
    value = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (value == NULL) {
        err_set(e, 400, "invalid_json", NULL, "the body is not valid JSON: %s (at byte %d)",
                jerr.text, jerr.position);
        return NULL;
    }
    if (!json_is_object(value)) {
        json_decref(value);
        err_set(e, 400, "invalid_json", NULL, "the body must be a JSON object");
        return NULL;
    }
    if (jsonv_depth(value) > JSONV_MAX_DEPTH) {
        json_decref(value);
        err_set(e, 400, "invalid_json", NULL, "the body nests deeper than %d levels",
                JSONV_MAX_DEPTH);
        return NULL;
    }
    return value;
}

static const char *type_name(enum jsonv_type type)
{
    switch (type) {
    case JSONV_STRING:
        return "a string";
    case JSONV_BOOL:
        return "a boolean";
    case JSONV_INTEGER:
        return "an integer";
    case JSONV_OBJECT:
        return "an object";
    case JSONV_STRING_ARRAY:
        return "an array of strings";
    case JSONV_ANY:
        break;
    }
    return "a JSON value";
}

static int check_string(const json_t *value, const struct jsonv_field *f, struct err *e)
{
    const char *s = json_string_value(value);
    if (strlen(s) != json_string_length(value))
        return err_invalid(e, f->name, "%s must not contain NUL characters", f->name);
    if (f->max_chars && utf8_chars(s) > f->max_chars)
        return err_invalid(e, f->name, "%s is longer than %zu characters", f->name, f->max_chars);
    return 0;
}

static int check_field(const json_t *value, const struct jsonv_field *f, struct err *e)
{
    bool ok;
    if (json_is_null(value))
        return f->nullable ? 0
                           : err_invalid(e, f->name, "%s must be %s, not null", f->name,
                                         type_name(f->type));
    switch (f->type) {
    case JSONV_STRING:
        ok = json_is_string(value);
        break;
    case JSONV_BOOL:
        ok = json_is_boolean(value);
        break;
    case JSONV_INTEGER:
        ok = json_is_integer(value);
        break;
    case JSONV_OBJECT:
        ok = json_is_object(value);
        break;
    case JSONV_STRING_ARRAY:
        ok = json_is_array(value);
        break;
    default:
        ok = true;
        break;
    }
    if (!ok)
        return err_invalid(e, f->name, "%s must be %s", f->name, type_name(f->type));
    if (f->type == JSONV_STRING)
        return check_string(value, f, e);
    if (f->type == JSONV_STRING_ARRAY) {
        size_t i;
        json_t *item;
        if (f->max_items && json_array_size(value) > f->max_items)
            return err_invalid(e, f->name, "%s has more than %zu items", f->name, f->max_items);
        json_array_foreach(value, i, item)
        {
            if (!json_is_string(item))
                return err_invalid(e, f->name, "%s must be an array of strings", f->name);
            if (check_string(item, f, e) != 0)
                return ERR_FAIL;
        }
    }
    return 0;
}

int jsonv_check(const json_t *obj, const struct jsonv_field *fields, struct err *e)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)obj, key, value)
    {
        const struct jsonv_field *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (f->name == NULL)
            return err_set(e, 400, "unknown_field", key, "unknown field '%.100s'", key);
        if (check_field(value, f, e) != 0)
            return ERR_FAIL;
    }
    for (const struct jsonv_field *f = fields; f->name; f++)
        if (f->required && json_object_get(obj, f->name) == NULL)
            return err_invalid(e, f->name, "%s is required", f->name);
    return 0;
}
