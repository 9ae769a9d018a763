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

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
    size_t need;
    unsigned cp;
    if (s[0] < 0x80)
        return s[0] ? 1 : 0;
    if ((s[0] & 0xE0) == 0xC0) {
        need = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        need = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (need > len)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and values past Unicode are not UTF-8 */
    if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return need;
}

void utf8_scrub(char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_sequence((const unsigned char *)s + i, len - i);
        if (n == 0) {
            s[i++] = '?';
        } else {
            i += n;
        }
    }
    s[len] = '\0';
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
    case JSONV_URL:
        return "a string";
    case JSONV_BOOL:
        return "a boolean";
    case JSONV_INTEGER:
        return "an integer";
    case JSONV_NUMBER:
        return "a number";
    case JSONV_OBJECT:
        return "an object";
    case JSONV_STRING_ARRAY:
        return "an array of strings";
    case JSONV_ANY:
    case JSONV_READ_ONLY:
        break;
    }
    return "a JSON value";
}

static int check_string(const json_t *value, const struct jsonv_field *f, struct err *e)
{
    const char *s = json_string_value(value);
    if (strlen(s) != json_string_length(value))
        return err_set(e, 400, f->type == JSONV_URL ? "invalid_url" : "validation_error", f->name,
                       "%s must not contain NUL characters", f->name);
    if (f->max_chars && utf8_chars(s) > f->max_chars)
        return err_invalid(e, f->name, "%s is longer than %zu characters", f->name, f->max_chars);
    return 0;
}

static int check_field(const json_t *value, const struct jsonv_field *f, struct err *e)
{
    bool ok;
    if (f->type == JSONV_READ_ONLY)
        return err_set(e, 400, "read_only_field", f->name,
                       "%s is set by hookd and cannot be written", f->name);
    if (json_is_null(value))
        return f->nullable ? 0
                           : err_invalid(e, f->name, "%s must be %s, not null", f->name,
                                         type_name(f->type));
    switch (f->type) {
    case JSONV_STRING:
    case JSONV_URL:
        ok = json_is_string(value);
        break;
    case JSONV_BOOL:
        ok = json_is_boolean(value);
        break;
    case JSONV_INTEGER:
        ok = json_is_integer(value);
        break;
    case JSONV_NUMBER:
        ok = json_is_number(value);
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
    if (f->type == JSONV_STRING || f->type == JSONV_URL)
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
