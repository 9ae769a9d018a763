/* The OpenAPI document compiled into the server against the routing table: the same routes on
 * both sides, and every operation documents the errors its route's pipeline can answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/api.h"

#include "api/embedded.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const http_methods[] = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};

static int load_document(void **state)
{
    json_error_t error;
    const struct embedded_file *file = embedded_find(api_openapi, "openapi.json");
    json_t *doc;
    if (file == NULL) {
        fprintf(stderr, "the embedded table has no openapi.json\n");
        return -1;
    }
    doc = json_loadb((const char *)file->data, file->len, 0, &error);
    if (doc == NULL) {
        fprintf(stderr, "openapi.json:%d:%d: %s\n", error.line, error.column, error.text);
        return -1;
    }
    *state = doc;
    return 0;
}

static int free_document(void **state)
{
    json_decref(*state);
    return 0;
}

static void lower(char *out, size_t size, const char *in)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* The document's operation for a route, or NULL. */
static json_t *operation_of(json_t *doc, const struct api_route *r)
{
    char method[16];
    lower(method, sizeof method, r->method);
    return json_object_get(json_object_get(json_object_get(doc, "paths"), r->pattern), method);
}

static bool route_exists(const char *method, const char *path)
{
    for (const struct api_route *r = api_routes; r->method != NULL; r++) {
        char lowered[16];
        lower(lowered, sizeof lowered, r->method);
        if (strcmp(lowered, method) == 0 && strcmp(r->pattern, path) == 0)
            return true;
    }
    return false;
}

static void document_is_openapi_3_1(void **state)
{
    json_t *doc = *state;
    const char *version = json_string_value(json_object_get(doc, "openapi"));
    assert_non_null(version);
    assert_memory_equal(version, "3.1.", 4);
    assert_true(json_is_object(json_object_get(doc, "paths")));
    /* embed.sh's array ends with a NUL that len does not count */
    assert_int_equal(api_openapi[0].data[api_openapi[0].len], 0);
}

static void every_route_is_documented(void **state)
{
    int missing = 0;
    for (const struct api_route *r = api_routes; r->method != NULL; r++) {
        if (operation_of(*state, r) == NULL) {
            fprintf(stderr, "openapi.json lacks the route %s %s\n", r->method, r->pattern);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

static void every_documented_operation_is_a_route(void **state)
{
    json_t *paths = json_object_get(*state, "paths");
    const char *path;
    json_t *item;
    int extra = 0, operations = 0;

    json_object_foreach(paths, path, item)
    {
        const char *key;
        json_t *value;
        json_object_foreach(item, key, value)
        {
            bool is_method = false;
            for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
                is_method = is_method || strcmp(key, http_methods[i]) == 0;
            if (!is_method)
                continue;
            operations++;
            if (!route_exists(key, path)) {
                fprintf(stderr, "openapi.json names %s %s, which is no route\n", key, path);
                extra++;
            }
        }
    }
    assert_int_equal(extra, 0);
    assert_true(operations > 0);
}

static bool documents(json_t *op, const char *status)
{
    return json_object_get(json_object_get(op, "responses"), status) != NULL;
}

static int expect_status(const struct api_route *r, json_t *op, const char *status, const char *why)
{
    if (documents(op, status))
        return 0;
    fprintf(stderr, "openapi.json: %s %s lacks its %s response (%s)\n", r->method, r->pattern,
            status, why);
    return 1;
}

/* What the dispatcher itself answers before a handler runs (api.c), by the route's flags. */
static void every_operation_documents_its_pipeline_errors(void **state)
{
    int missing = 0;
    for (const struct api_route *r = api_routes; r->method != NULL; r++) {
        json_t *op = operation_of(*state, r);
        if (op == NULL)
            continue; /* every_route_is_documented says so */
        /* the HTTP layer's, before routing: a header name that is no token, headers over
         * 32 KiB, a body over --max-body or not JSON; and a failure of the server itself */
        missing += expect_status(r, op, "400", "any route: a bad header name");
        missing += expect_status(r, op, "413", "any route: the body is limited");
        missing += expect_status(r, op, "415", "any route: a body must be JSON");
        missing += expect_status(r, op, "431", "any route: headers are limited");
        missing += expect_status(r, op, "500", "any route");
        if (!(r->flags & ROUTE_PUBLIC)) {
            missing += expect_status(r, op, "400", "unknown query parameters");
            missing += expect_status(r, op, "401", "an API key is needed");
            missing += expect_status(r, op, "429", "the key's rate limit");
            missing += expect_status(r, op, "503", "the store or a stopping server");
            if (!(r->flags & ROUTE_ANY_KEY))
                missing += expect_status(r, op, "403", "a scope is needed");
        }
        if (strchr(r->pattern, '{') != NULL)
            missing += expect_status(r, op, "404", "the path names an object");
        if (r->flags & ROUTE_CREATES && !(r->flags & ROUTE_PUBLIC))
            missing += expect_status(r, op, "409", "Idempotency-Key with another body");
    }
    assert_int_equal(missing, 0);
}

/* Every error response of every operation is the §2.1 error JSON: a schema that is, or
 * builds on, a schema of the document whose name ends in Error (or the ping's and the
 * inbound rejections' shapes, which carry the same fields). */
static bool is_error_schema(json_t *doc, json_t *schema, int depth)
{
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    json_t *alternatives = json_object_get(schema, "oneOf");
    json_t *bases = json_object_get(schema, "allOf");
    size_t i;
    json_t *base;
    if (depth > 8 || schema == NULL)
        return false;
    json_array_foreach(bases, i, base)
    {
        if (is_error_schema(doc, base, depth + 1))
            return true;
    }
    if (ref != NULL) {
        const char *name = strrchr(ref, '/');
        if (name == NULL)
            return false;
        name++;
        if (strcmp(name, "Error") == 0)
            return true;
        return is_error_schema(
            doc,
            json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name),
            depth + 1);
    }
    if (json_is_array(alternatives) && json_array_size(alternatives) > 0) {
        json_t *alternative;
        json_array_foreach(alternatives, i, alternative)
        {
            if (!is_error_schema(doc, alternative, depth + 1))
                return false;
        }
        return true;
    }
    /* a shape of its own must still hold the two fields every error has */
    json_t *required = json_object_get(schema, "required");
    bool has_error = false, has_message = false;
    json_t *name;
    json_array_foreach(required, i, name)
    {
        has_error = has_error || strcmp(json_string_value(name), "error") == 0;
        has_message = has_message || strcmp(json_string_value(name), "message") == 0;
    }
    return has_error && has_message;
}

static json_t *resolve_response(json_t *doc, json_t *response)
{
    const char *ref = json_string_value(json_object_get(response, "$ref"));
    const char *prefix = "#/components/responses/";
    if (ref == NULL || strncmp(ref, prefix, strlen(prefix)) != 0)
        return response;
    return json_object_get(json_object_get(json_object_get(doc, "components"), "responses"),
                           ref + strlen(prefix));
}

static void every_error_response_is_the_error_json(void **state)
{
    json_t *doc = *state;
    int wrong = 0;
    for (const struct api_route *r = api_routes; r->method != NULL; r++) {
        json_t *op = operation_of(doc, r);
        const char *status;
        json_t *response;
        json_object_foreach(json_object_get(op, "responses"), status, response)
        {
            if (status[0] != '4' && status[0] != '5')
                continue;
            json_t *resolved = resolve_response(doc, response);
            json_t *schema = json_object_get(
                json_object_get(json_object_get(resolved, "content"), "application/json"),
                "schema");
            if (!is_error_schema(doc, schema, 0)) {
                fprintf(stderr, "openapi.json: %s %s %s is not an Error\n", r->method, r->pattern,
                        status);
                wrong++;
            }
        }
    }
    assert_int_equal(wrong, 0);
}

static bool takes_idempotency_key(json_t *op)
{
    size_t i;
    json_t *parameter;
    json_array_foreach(json_object_get(op, "parameters"), i, parameter)
    {
        const char *ref = json_string_value(json_object_get(parameter, "$ref"));
        if (ref != NULL && strcmp(ref, "#/components/parameters/IdempotencyKey") == 0)
            return true;
    }
    return false;
}

/* Idempotency-Key applies to the creating POSTs (ROUTE_CREATES) and to nothing else. */
static void idempotency_key_is_documented_where_it_applies(void **state)
{
    int wrong = 0;
    for (const struct api_route *r = api_routes; r->method != NULL; r++) {
        json_t *op = operation_of(*state, r);
        bool creates = (r->flags & ROUTE_CREATES) != 0;
        if (op != NULL && takes_idempotency_key(op) != creates) {
            fprintf(stderr, "openapi.json: %s %s %s Idempotency-Key\n", r->method, r->pattern,
                    creates ? "lacks" : "must not take");
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(document_is_openapi_3_1),
        cmocka_unit_test(every_route_is_documented),
        cmocka_unit_test(every_documented_operation_is_a_route),
        cmocka_unit_test(every_operation_documents_its_pipeline_errors),
        cmocka_unit_test(every_error_response_is_the_error_json),
        cmocka_unit_test(idempotency_key_is_documented_where_it_applies),
    };
    return cmocka_run_group_tests(tests, load_document, free_document);
}
