/* The event type catalog (§2.3): one for the installation, kept with admin keys, readable by
 * any key. */
#include "api/api.h"

#include "core/eventname.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *event_type_json(const struct event_type *et)
{
    json_t *schema = et->schema ? json_loads(et->schema, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", et->name, "description", et->description,
                     "schema", schema ? schema : json_null(), "created_at",
                     api_time(et->created_at), "updated_at", api_time(et->updated_at));
}

static const struct jsonv_field create_fields[] = {
    {"name", JSONV_STRING, true, false, EVENT_NAME_MAX, 0},
    {"description", JSONV_STRING, false, false, LIMIT_DESCRIPTION_CHARS, 0},
    {"schema", JSONV_OBJECT, false, true, 0, 0},
    {NULL, 0, false, false, 0, 0},
};

static const struct jsonv_field update_fields[] = {
    {"description", JSONV_STRING, false, false, LIMIT_DESCRIPTION_CHARS, 0},
    {"schema", JSONV_OBJECT, false, true, 0, 0},
    {"name", JSONV_READ_ONLY, false, false, 0, 0}, /* the type's name is its key */
    JSONV_SET_BY_HOOKD,
    {NULL, 0, false, false, 0, 0},
};

#define SCHEMA_MAX_BYTES (64 * 1024)

/* Validates the body; answers 400 and returns non-zero if it does not fit. */
static int check_body(struct api_call *call, const struct jsonv_field *fields)
{
    json_t *schema;
    char *text;
    size_t len;
    struct err e;
    if (api_check_body(call, fields) != 0)
        return ERR_FAIL;
    schema = json_object_get(call->body, "schema");
    if (schema == NULL || json_is_null(schema))
        return 0;
    text = json_dumps(schema, JSON_COMPACT);
    len = text ? strlen(text) : 0;
    free(text);
    if (len > SCHEMA_MAX_BYTES) {
        err_invalid(&e, "schema", "schema is larger than %d bytes", SCHEMA_MAX_BYTES);
        api_fail(call, &e);
        return ERR_FAIL;
    }
    return 0;
}

/* Copies description and schema from the (checked) body; absent fields stay as they are. */
static void read_fields(const struct api_call *call, struct event_type *et)
{
    json_t *description = json_object_get(call->body, "description");
    json_t *schema = json_object_get(call->body, "schema");
    if (description)
        text_copy(et->description, sizeof et->description, json_string_value(description));
    if (schema) {
        free(et->schema);
        et->schema = json_is_null(schema) ? NULL : json_dumps(schema, JSON_COMPACT);
    }
}

static void event_type_free(void *ptr)
{
    event_type_clear(ptr);
    free(ptr);
}

static int create_apply(struct store_conn *tx, struct api_call *call)
{
    struct event_type *et = call->data;
    int rc = store_event_type_insert(tx, et);
    if (rc == ERR_CONFLICT)
        return err_set(&call->error, 409, "conflict", "name", "event type %s exists", et->name);
    if (rc != 0)
        return rc;
    call->reply_status = 201;
    call->reply = event_type_json(et);
    return 0;
}

void event_types_create(struct api_call *call)
{
    struct event_type *et;
    struct err e;
    const char *name;

    if (check_body(call, create_fields) != 0)
        return;
    name = json_string_value(json_object_get(call->body, "name"));
    if (!event_name_is_valid(name)) {
        err_invalid(&e, "name", "name must match [a-z0-9_]+(.[a-z0-9_]+)*");
        api_fail(call, &e);
        return;
    }
    et = xcalloc(1, sizeof *et);
    api_set_data(call, et, event_type_free);
    text_copy(et->name, sizeof et->name, name);
    et->created_at = et->updated_at = time_now_ms();
    read_fields(call, et);
    api_write(call, create_apply);
}

void event_types_list(struct api_call *call)
{
    struct page page;
    struct event_type *items;
    struct store_conn *conn;
    int count = 0, rc;

    if (api_page(call, &page) != 0 || (conn = api_conn(call)) == NULL)
        return;
    items = xcalloc((size_t)page.limit + 1, sizeof *items);
    rc = store_event_type_list(conn, &page, items, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "event type");
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(data, event_type_json(&items[i]));
        /* the catalog is ordered by name: the cursor holds the last name shown */
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(data, count, &page, 0, items[last].name));
    }
    for (int i = 0; i < count; i++)
        event_type_clear(&items[i]);
    free(items);
}

void event_types_get(struct api_call *call)
{
    struct event_type et = {0};
    struct store_conn *conn = api_conn(call);
    int rc;
    if (conn == NULL)
        return;
    rc = store_event_type_get(conn, call->params.value[0], &et);
    if (rc != 0) {
        api_fail_store(call, rc, "event type");
        return;
    }
    api_reply(call, 200, event_type_json(&et));
    event_type_clear(&et);
}

static int update_apply(struct store_conn *tx, struct api_call *call)
{
    struct event_type current = {0};
    int rc = store_event_type_get(tx, call->params.value[0], &current);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such event type");
    if (rc != 0)
        return rc;
    read_fields(call, &current);
    current.updated_at = time_now_ms();
    rc = store_event_type_update(tx, &current);
    if (rc == 0) {
        call->reply_status = 200;
        call->reply = event_type_json(&current);
    }
    event_type_clear(&current);
    return rc;
}

void event_types_update(struct api_call *call)
{
    if (check_body(call, update_fields) == 0)
        api_write(call, update_apply);
}

#define SUBSCRIBERS_NAMED 5 /* endpoints a refused delete names */

/* The endpoints that hold name in their events, by the name itself or by a wildcard that
 * matches no other type: 409 naming them, as the type cannot go while they need it. */
static int check_unsubscribed(struct store_conn *tx, const char *name, struct err *e)
{
    char pattern[EVENT_NAME_MAX + 2], list[SUBSCRIBERS_NAMED * (ID_MAX + 2)] = "";
    struct endpoint_ref refs[SUBSCRIBERS_NAMED];
    int found = 0, rc = store_endpoint_subscribers(tx, name, refs, SUBSCRIBERS_NAMED, &found);
    for (const char *dot = strchr(name, '.'); rc == 0 && found == 0 && dot;
         dot = strchr(dot + 1, '.')) {
        long others = 0;
        snprintf(pattern, sizeof pattern, "%.*s", (int)(dot - name + 1), name);
        rc = store_event_type_count_prefix(tx, pattern, &others);
        if (rc == 0 && others == 1) { /* name alone under this prefix: "prefix.*" holds it */
            strcat(pattern, "*");
            rc = store_endpoint_subscribers(tx, pattern, refs, SUBSCRIBERS_NAMED, &found);
        }
    }
    if (rc != 0 || found == 0)
        return rc;
    for (int i = 0; i < found; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 refs[i].id);
    return err_set(e, 409, "conflict", "name",
                   "endpoints subscribe to %s (%s%s); take it out of their events first", name,
                   list, found == SUBSCRIBERS_NAMED ? ", ..." : "");
}

static int delete_apply(struct store_conn *tx, struct api_call *call)
{
    int rc = check_unsubscribed(tx, call->params.value[0], &call->error);
    if (rc != 0)
        return rc;
    rc = store_event_type_delete(tx, call->params.value[0]);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such event type");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = json_pack("{s:s, s:s}", "name", call->params.value[0], "status", "deleted");
    return 0;
}

void event_types_delete(struct api_call *call)
{
    api_write(call, delete_apply);
}
