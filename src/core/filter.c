/* Payload filters: validation and compilation into a tree of tests, and matching (filter.h). */
#include "core/filter.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

enum node_kind { NODE_ALL, NODE_ANY, NODE_TEST };
enum op { OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_NIN, OP_EXISTS };

struct node {
    enum node_kind kind;
    size_t count; /* NODE_ALL, NODE_ANY: children */
    struct node *children;
    char *path; /* NODE_TEST: the dotted path with each '.' made a NUL */
    size_t segments;
    enum op op;
    json_t *operand; /* owned */
};

struct filter {
    struct node root;
};

static const struct {
    const char *name;
    enum op op;
} operators[] = {
    {"$eq", OP_EQ},   {"$ne", OP_NE}, {"$gt", OP_GT},   {"$gte", OP_GTE},       {"$lt", OP_LT},
    {"$lte", OP_LTE}, {"$in", OP_IN}, {"$nin", OP_NIN}, {"$exists", OP_EXISTS},
};

static void node_clear(struct node *n)
{
    for (size_t i = 0; i < n->count; i++)
        node_clear(&n->children[i]);
    free(n->children);
    free(n->path);
    json_decref(n->operand);
    memset(n, 0, sizeof *n);
}

void filter_free(struct filter *f)
{
    if (f == NULL)
        return;
    node_clear(&f->root);
    free(f);
}

static struct node *add_child(struct node *parent)
{
    parent->children = xrealloc(parent->children, (parent->count + 1) * sizeof *parent->children);
    memset(&parent->children[parent->count], 0, sizeof *parent->children);
    return &parent->children[parent->count++];
}

/* Every fault is on the field "filter"; the message names the path and the operator. */
#define invalid(e, ...) err_invalid(e, "filter", __VA_ARGS__)

/* A path is dotted keys into the envelope's objects, starting with one of its four fields. */
static int check_path(const char *path, struct err *e)
{
    static const char *const roots[] = {"id", "type", "timestamp", "data"};
    size_t len = strlen(path), first = strcspn(path, ".");
    bool known = false;
    if (len == 0)
        return invalid(e, "a path is empty");
    if (len > FILTER_MAX_PATH)
        return invalid(e, "%.60s...: a path is at most %d bytes", path, FILTER_MAX_PATH);
    if (path[0] == '.' || path[len - 1] == '.' || strstr(path, "..") != NULL)
        return invalid(e, "%.100s: a path has no empty segment", path);
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (strlen(roots[i]) == first && strncmp(path, roots[i], first) == 0)
            known = true;
    if (!known)
        return invalid(e, "%.100s: a path starts with id, type, timestamp or data", path);
    return 0;
}

static int check_operand(const char *path, const char *name, enum op op, const json_t *operand,
                         struct err *e)
{
    switch (op) {
    case OP_GT:
    case OP_GTE:
    case OP_LT:
    case OP_LTE:
        if (!json_is_number(operand) && !json_is_string(operand))
            return invalid(e, "%.100s: %s takes a number or a string", path, name);
        break;
    case OP_IN:
    case OP_NIN:
        if (!json_is_array(operand))
            return invalid(e, "%.100s: %s takes an array", path, name);
        if (json_array_size(operand) > FILTER_MAX_ITEMS)
            return invalid(e, "%.100s: %s takes at most %d items", path, name, FILTER_MAX_ITEMS);
        break;
    case OP_EXISTS:
        if (!json_is_boolean(operand))
            return invalid(e, "%.100s: %s takes true or false", path, name);
        break;
    case OP_EQ:
    case OP_NE:
        break;
    }
    return 0;
}

static int add_test(struct node *parent, const char *path, enum op op, const json_t *operand)
{
    struct node *n = add_child(parent);
    n->kind = NODE_TEST;
    n->op = op;
    n->operand = json_deep_copy(operand);
    n->path = xstrdup(path);
    n->segments = 1;
    for (char *p = n->path; *p; p++)
        if (*p == '.') {
            *p = '\0';
            n->segments++;
        }
    return 0;
}

/* {"$gte": 1, "$lt": 9}: each operator one test; a value that is no such object means $eq. */
static int compile_path(struct node *parent, const char *path, const json_t *value, struct err *e)
{
    const char *key;
    json_t *operand;
    bool has_operator = false, has_field = false;

    if (check_path(path, e) != 0)
        return ERR_FAIL;
    if (json_is_object(value))
        json_object_foreach((json_t *)value, key, operand)
        {
            if (key[0] == '$')
                has_operator = true;
            else
                has_field = true;
        }
    if (!has_operator)
        return add_test(parent, path, OP_EQ, value);
    if (has_field)
        return invalid(e, "%.100s: an object of operators holds operators only", path);
    json_object_foreach((json_t *)value, key, operand)
    {
        size_t i = 0, n = sizeof operators / sizeof operators[0];
        while (i < n && strcmp(operators[i].name, key) != 0)
            i++;
        if (i == n)
            return invalid(e, "%.100s: unknown operator %.40s", path, key);
        if (check_operand(path, key, operators[i].op, operand, e) != 0)
            return ERR_FAIL;
        add_test(parent, path, operators[i].op, operand);
    }
    return 0;
}

static int compile_object(struct node *n, const json_t *spec, int depth, struct err *e);

/* "$and" / "$or": a non-empty array of filters, each one child of the new node. */
static int compile_list(struct node *parent, const char *name, const json_t *list, int depth,
                        struct err *e)
{
    struct node *n;
    size_t i;
    json_t *item;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return invalid(e, "%s takes a non-empty array of filters", name);
    if (json_array_size(list) > FILTER_MAX_ITEMS)
        return invalid(e, "%s takes at most %d filters", name, FILTER_MAX_ITEMS);
    if (depth >= FILTER_MAX_DEPTH)
        return invalid(e, "filters nest deeper than %d levels", FILTER_MAX_DEPTH);
    n = add_child(parent);
    n->kind = strcmp(name, "$or") == 0 ? NODE_ANY : NODE_ALL;
    json_array_foreach(list, i, item)
    {
        struct node *child = add_child(n);
        child->kind = NODE_ALL;
        if (!json_is_object(item))
            return invalid(e, "%s takes an array of filters (objects)", name);
        if (compile_object(child, item, depth + 1, e) != 0)
            return ERR_FAIL;
    }
    return 0;
}

/* One filter object: every key a condition, all of which must hold. */
static int compile_object(struct node *n, const json_t *spec, int depth, struct err *e)
{
    const char *key;
    json_t *value;
    if (json_object_size(spec) == 0)
        return invalid(e, "an empty filter matches everything; use null for no filter");
    json_object_foreach((json_t *)spec, key, value)
    {
        int rc;
        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0)
            rc = compile_list(n, key, value, depth, e);
        else if (key[0] == '$')
            rc = invalid(e, "unknown operator %.40s where a path or $and / $or is expected", key);
        else
            rc = compile_path(n, key, value, e);
        if (rc != 0)
            return ERR_FAIL;
    }
    return 0;
}

struct filter *filter_compile(const json_t *spec, struct err *e)
{
    struct filter *f;
    char *text;
    size_t len;

    if (!json_is_object(spec)) {
        invalid(e, "filter must be an object or null");
        return NULL;
    }
    text = json_dumps(spec, JSON_COMPACT);
    len = text ? strlen(text) : 0;
    free(text);
    if (len == 0 || len > FILTER_MAX_BYTES) {
        invalid(e, "filter is larger than %d bytes serialized", FILTER_MAX_BYTES);
        return NULL;
    }
    f = xcalloc(1, sizeof *f);
    f->root.kind = NODE_ALL;
    if (compile_object(&f->root, spec, 1, e) != 0) {
        filter_free(f);
        return NULL;
    }
    return f;
}

struct filter *filter_compile_text(const char *text)
{
    json_t *spec = json_loads(text, 0, NULL);
    struct filter *f = spec ? filter_compile(spec, NULL) : NULL;
    json_decref(spec);
    return f;
}

/* --- matching --- */

static const json_t *lookup(const json_t *envelope, const struct node *n)
{
    const json_t *v = envelope;
    const char *segment = n->path;
    for (size_t i = 0; i < n->segments; i++) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, segment);
        if (v == NULL)
            return NULL;
        segment += strlen(segment) + 1;
    }
    return v;
}

/* JSON equality where 100 and 100.0 are the same number. */
static bool value_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_array(a) && json_is_array(b)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *value;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach((json_t *)a, key, value)
        {
            const json_t *other = json_object_get(b, key);
            if (other == NULL || !value_equal(value, other))
                return false;
        }
        return true;
    }
    return json_equal(a, b);
}

/* Orders two numbers or two strings (bytewise) into *order; false for any other pair. */
static bool compare(const json_t *a, const json_t *b, int *order)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        *order = x < y ? -1 : x > y;
        return true;
    }
    if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        *order = c != 0 ? c : la < lb ? -1 : la > lb;
        return true;
    }
    return false;
}

static bool is_in(const json_t *value, const json_t *list)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        if (value_equal(value, item))
            return true;
    }
    return false;
}

static bool test_matches(const struct node *n, const json_t *envelope)
{
    const json_t *v = lookup(envelope, n);
    int order = 0;
    switch (n->op) {
    case OP_EQ:
        return v && value_equal(v, n->operand);
    case OP_NE:
        return !v || !value_equal(v, n->operand);
    case OP_GT:
        return v && compare(v, n->operand, &order) && order > 0;
    case OP_GTE:
        return v && compare(v, n->operand, &order) && order >= 0;
    case OP_LT:
        return v && compare(v, n->operand, &order) && order < 0;
    case OP_LTE:
        return v && compare(v, n->operand, &order) && order <= 0;
    case OP_IN:
        return v && is_in(v, n->operand);
    case OP_NIN:
        return !v || !is_in(v, n->operand);
    case OP_EXISTS:
        return (v != NULL) == json_is_true(n->operand);
    }
    return false;
}

static bool node_matches(const struct node *n, const json_t *envelope)
{
    if (n->kind == NODE_TEST)
        return test_matches(n, envelope);
    for (size_t i = 0; i < n->count; i++) {
        bool is_match = node_matches(&n->children[i], envelope);
        if (n->kind == NODE_ANY && is_match)
            return true;
        if (n->kind == NODE_ALL && !is_match)
            return false;
    }
    return n->kind == NODE_ALL;
}

bool filter_matches(const struct filter *f, const json_t *envelope)
{
    return node_matches(&f->root, envelope);
}
