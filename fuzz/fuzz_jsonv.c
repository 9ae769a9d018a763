/* Fuzzes the API's request validation (§2.1): a body through jsonv_parse_object and jsonv_check
 * with the endpoints' and events' field tables, the body as a payload filter (compiled and
 * matched against an envelope), utf8_scrub, and the event-name functions. */
#include "fuzz.h"

#include "core/eventname.h"
#include "core/filter.h"
#include "core/jsonv.h"

#include <jansson.h>

/* Like POST /v1/endpoints: limited strings, string arrays, booleans, integers, a nullable number,
 * objects. */
static const struct jsonv_field endpoint_fields[] = {
    {"url", JSONV_STRING, true, false, 0, 0},
    {"name", JSONV_STRING, false, false, LIMIT_NAME_CHARS, 0},
    {"description", JSONV_STRING, false, false, LIMIT_DESCRIPTION_CHARS, 0},
    {"events", JSONV_STRING_ARRAY, false, false, EVENT_NAME_MAX, 50},
    {"is_active", JSONV_BOOL, false, false, 0, 0},
    {"timeout_seconds", JSONV_INTEGER, false, false, 0, 0},
    {"rate_limit", JSONV_NUMBER, false, true, 0, 0},
    {"max_in_flight", JSONV_INTEGER, false, false, 0, 0},
    {"headers", JSONV_OBJECT, false, false, 0, 0},
    {"signature_scheme", JSONV_STRING, false, false, 16, 0},
    {"metadata", JSONV_OBJECT, false, false, 0, 0},
    {"org_id", JSONV_STRING, false, false, 39, 0},
    {NULL, 0, false, false, 0, 0},
};

/* Like POST /v1/events: a required value of any type, a nullable string, a bounded array. */
static const struct jsonv_field event_fields[] = {
    {"type", JSONV_STRING, true, false, EVENT_NAME_MAX, 0},
    {"data", JSONV_ANY, true, false, 0, 0},
    {"id", JSONV_STRING, false, false, 200, 0},
    {"endpoint_ids", JSONV_STRING_ARRAY, false, false, 39, 8},
    {"until", JSONV_STRING, false, true, 40, 0},
    {NULL, 0, false, false, 0, 0},
};

/* The body as an endpoint's filter: a fault is a 400 on the field filter; one that compiles
 * matches without crashing, against an envelope and against the body itself. */
static void check_filter(const json_t *body)
{
    static const char envelope_text[] =
        "{\"id\":\"evt_1\",\"type\":\"invoice.paid\",\"timestamp\":\"2026-12-04T19:00:00.000Z\","
        "\"data\":{\"amount\":12900,\"currency\":\"EUR\",\"customer\":{\"country\":\"DE\"}}}";
    struct err e = {0};
    struct filter *f = filter_compile(body, &e);
    json_t *envelope;
    if (f == NULL) {
        FUZZ_CHECK(e.status == 400 && strcmp(e.field, "filter") == 0 && e.message[0] != '\0');
        return;
    }
    envelope = json_loads(envelope_text, 0, NULL);
    FUZZ_CHECK(envelope != NULL);
    (void)filter_matches(f, envelope);
    (void)filter_matches(f, body);
    json_decref(envelope);
    filter_free(f);
}

static void check_body(const uint8_t *data, size_t size)
{
    struct err e = {0};
    json_t *body = jsonv_parse_object((const char *)data, size, size % 2 == 0, &e);

    if (body == NULL) {
        FUZZ_CHECK(e.status == 400 && strcmp(e.code, "invalid_json") == 0);
        return;
    }
    FUZZ_CHECK(json_is_object(body));
    FUZZ_CHECK(jsonv_depth(body) >= 1 && jsonv_depth(body) <= JSONV_MAX_DEPTH);
    if (jsonv_check(body, endpoint_fields, &e) != 0)
        FUZZ_CHECK(e.status == 400 && e.code[0] != '\0');
    if (jsonv_check(body, event_fields, &e) != 0)
        FUZZ_CHECK(e.status == 400 && e.code[0] != '\0');
    check_filter(body);
    json_decref(body);
}

/* utf8_scrub must leave text that a JSON encoder takes as a string, with no NULs, and that a
 * second scrub does not change. */
static void check_scrub(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size), *again;
    json_t *string;

    utf8_scrub(text, size);
    FUZZ_CHECK(strlen(text) == size);
    FUZZ_CHECK(utf8_chars(text) <= size);
    string = json_stringn(text, size);
    FUZZ_CHECK(string != NULL);
    json_decref(string);
    again = fuzz_strndup((const uint8_t *)text, size);
    utf8_scrub(again, size);
    FUZZ_CHECK(memcmp(text, again, size) == 0);
    free(again);
    free(text);
}

static void check_event_name(const uint8_t *data, size_t size)
{
    char *name = fuzz_strndup(data, size);
    char prefix[EVENT_NAME_MAX + 2], filter[EVENT_NAME_MAX + 8];
    bool is_name = event_name_is_valid(name), is_pattern = event_pattern_is_valid(name);

    (void)event_filter_matches("[\"invoice.paid\",\"customer.*\",\"a.b.*\"]", name);
    (void)event_filter_matches("[]", name);
    /* the input as a stored filter, which hookd only writes from valid patterns, still must
     * not read out of bounds */
    (void)event_filter_matches(name, "invoice.paid");
    if (is_name) {
        FUZZ_CHECK(is_pattern);
        FUZZ_CHECK(event_pattern_matches(name, name));
        FUZZ_CHECK(event_filter_matches("[]", name));
        snprintf(filter, sizeof filter, "[\"%s\"]", name);
        FUZZ_CHECK(event_filter_matches(filter, name));
    }
    /* as endpoints.c uses it: the prefix of a valid pattern, with room left for a '.' */
    if (is_pattern && event_pattern_prefix(name, prefix, sizeof prefix - 1)) {
        FUZZ_CHECK(strlen(prefix) + 1 < sizeof prefix);
        FUZZ_CHECK(event_name_is_valid(prefix));
    }
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_body(data, size);
    check_scrub(data, size);
    check_event_name(data, size);
    return 0;
}
