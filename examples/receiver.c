/* A webhook receiver built on libhookd, as a CGI program: the web server (nginx with fcgiwrap,
 * Apache, lighttpd, ...) runs it once per request, with the request's headers in HTTP_*
 * variables and its body on stdin, and sends back what it prints.
 *
 *   build:      cc receiver.c $(pkg-config --cflags --libs hookd) -o receiver
 *   configure:  WEBHOOK_SECRET=whsec_...   the endpoint's secret, in the script's environment
 *               WEBHOOK_SCHEME=hex         for hookd's hex scheme (default: standard)
 *   try it:     printf '{"ok":true}' > body
 *               hookd sign --secret "$WEBHOOK_SECRET" < body   # prints the three headers
 *               REQUEST_METHOD=POST CONTENT_LENGTH=11 HTTP_WEBHOOK_ID=... \
 *                 HTTP_WEBHOOK_TIMESTAMP=... HTTP_WEBHOOK_SIGNATURE=... ./receiver < body
 *
 * It answers 204 once a delivery is verified and handled; 401 for a missing or wrong signature,
 * 400 for a timestamp outside five minutes (a replay or a wrong clock), 405/411/413 for
 * requests that are not webhook deliveries, and 500 if it is misconfigured. */
#include <hookd/hookd.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (1024 * 1024)

/* The application's part: called once per verified delivery with the exact bytes that were
 * signed. A real receiver parses the JSON here, and remembers msg_id for a day to drop the
 * duplicates that at-least-once delivery can bring. */
static int handle_event(const char *msg_id, const char *body, size_t body_len)
{
    fprintf(stderr, "receiver: delivery %s verified, %zu bytes\n", msg_id ? msg_id : "-", body_len);
    (void)body;
    return 0;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    default:
        return "Internal Server Error";
    }
}

/* Prints the CGI response; returns the program's exit code. */
static int respond(int status, const char *detail)
{
    const char *reason = reason_phrase(status);

    printf("Status: %d %s\r\n", status, reason);
    if (detail == NULL) {
        printf("\r\n");
    } else {
        printf("Content-Type: text/plain\r\n\r\n%s\n", detail);
        fprintf(stderr, "receiver: %d %s: %s\n", status, reason, detail);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The request body, exactly CONTENT_LENGTH bytes; the caller frees it. */
static char *read_body(size_t *len, int *http_status)
{
    const char *length_text = getenv("CONTENT_LENGTH");
    char *end = NULL, *body;
    unsigned long length;

    *http_status = 411;
    if (length_text == NULL || length_text[0] < '0' || length_text[0] > '9')
        return NULL;
    length = strtoul(length_text, &end, 10);
    if (*end != '\0')
        return NULL;
    *http_status = 413;
    if (length > MAX_BODY)
        return NULL;
    *http_status = 500;
    body = malloc(length > 0 ? length : 1);
    if (body == NULL || fread(body, 1, length, stdin) != length) {
        free(body);
        *http_status = 400;
        return NULL;
    }
    *len = length;
    return body;
}

int main(void)
{
    const char *secret = getenv("WEBHOOK_SECRET");
    const char *scheme = getenv("WEBHOOK_SCHEME");
    const char *method = getenv("REQUEST_METHOD");
    const char *msg_id = NULL, *timestamp, *signature;
    bool is_hex = scheme != NULL && strcmp(scheme, "hex") == 0;
    hookd_status status;
    size_t body_len = 0;
    int http_status, exit_code;
    char *body;

    if (secret == NULL || secret[0] == '\0' ||
        (scheme != NULL && !is_hex && strcmp(scheme, "standard") != 0))
        return respond(500, "set WEBHOOK_SECRET (and WEBHOOK_SCHEME)");
    if (method == NULL || strcmp(method, "POST") != 0)
        return respond(405, "webhooks are POSTed");
    if (is_hex) {
        timestamp = getenv("HTTP_X_WEBHOOK_TIMESTAMP");
        signature = getenv("HTTP_X_WEBHOOK_SIGNATURE");
    } else {
        msg_id = getenv("HTTP_WEBHOOK_ID");
        timestamp = getenv("HTTP_WEBHOOK_TIMESTAMP");
        signature = getenv("HTTP_WEBHOOK_SIGNATURE");
    }
    if ((!is_hex && msg_id == NULL) || timestamp == NULL || signature == NULL)
        return respond(401, "missing signature headers");

    body = read_body(&body_len, &http_status);
    if (body == NULL)
        return respond(http_status, "cannot read the body");

    /* The whole check: signature over the raw body, in constant time, and a timestamp within
     * five minutes of this machine's clock. Several signatures (a secret rotation) are fine. */
    if (is_hex)
        status = hookd_verify_hex(secret, timestamp, signature, body, body_len,
                                  HOOKD_TOLERANCE_DEFAULT, (long long)time(NULL));
    else
        status = hookd_verify_standard(secret, msg_id, timestamp, signature, body, body_len,
                                       HOOKD_TOLERANCE_DEFAULT, (long long)time(NULL));

    switch (status) {
    case HOOKD_OK:
        exit_code = handle_event(msg_id, body, body_len) == 0
                        ? respond(204, NULL)
                        : respond(500, "the event was not handled");
        break;
    case HOOKD_E_TIMESTAMP_TOO_OLD:
    case HOOKD_E_TIMESTAMP_TOO_NEW:
    case HOOKD_E_MALFORMED_TIMESTAMP:
        exit_code = respond(400, hookd_strerror(status));
        break;
    case HOOKD_E_SIGNATURE_MISMATCH:
    case HOOKD_E_MALFORMED_HEADER:
        exit_code = respond(401, hookd_strerror(status));
        break;
    default: /* a bad secret or an OpenSSL failure: our fault, not the sender's */
        exit_code = respond(500, hookd_strerror(status));
        break;
    }
    free(body);
    return exit_code;
}
