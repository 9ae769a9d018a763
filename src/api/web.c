/* The dashboard (§6) and the customer portal: static pages compiled into the binary, served
 * without a key (the pages ask for one, or for a portal token, and call the API with it). */
#include "api/api.h"

#include "api/embedded.h"

#include <string.h>

/* Scripts and styles only from hookd itself, no inline script, nothing framed; images may come
 * from an org's branding (its logo URL). */
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "       \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name)
{
    for (const struct embedded_file *f = table; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static const char *content_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void serve(struct api_call *call, const char *name)
{
    const struct embedded_file *f = embedded_find(web_files, name);
    struct err e;
    if (f == NULL) {
        err_set(&e, 404, "not_found", NULL, "no such file");
        api_fail(call, &e);
        return;
    }
    http_add_header(call->http, "Content-Security-Policy", WEB_CSP);
    http_add_header(call->http, "X-Content-Type-Options", "nosniff");
    http_add_header(call->http, "Referrer-Policy", "no-referrer");
    http_add_header(call->http, "Cache-Control", "no-cache");
    http_reply_text(call->http, 200, content_type_of(name), (const char *)f->data, f->len);
}

void web_dashboard(struct api_call *call)
{
    serve(call, "index.html");
}

void web_asset(struct api_call *call)
{
    serve(call, call->params.value[0]); /* one path segment: a name never climbs out of web/ */
}
