/* `hookd sign` and `hookd verify` (§5): libhookd on the command line, body on stdin. They use
 * only the public API of include/hookd/, as a receiver's own program would. */
#include "cli/cli.h"

#include "core/id.h"
#include "hookd/hookd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SECRETS_MAX 8 /* enough for any rotation */
#define HEADERS_MAX 64

static const char sign_usage[] =
    "usage: hookd sign --secret S [--scheme standard|hex|ed25519] [--id ID] [--timestamp UNIX]\n"
    "                  < body\n"
    "\n"
    "Signs the body read from stdin (raw bytes) and prints the headers a delivery carries, one\n"
    "'Name: value' line each.\n"
    "  --secret S         the endpoint's secret (whsec_...) or Ed25519 secret key (whsk_...);\n"
    "                     give it again for each secret of a rotation and the signature header\n"
    "                     carries one signature per secret\n"
    "  --scheme SCHEME    standard (default): webhook-id, webhook-timestamp, webhook-signature;\n"
    "                     v1,<HMAC> for a whsec_ secret, v1a,<Ed25519> for a whsk_ key\n"
    "                     ed25519: the same headers, every secret an Ed25519 key (v1a)\n"
    "                     hex: X-Webhook-Signature (sha256=<hex>), X-Webhook-Timestamp\n"
    "  --id ID            the message id, not for hex (default: a new msg_ id)\n"
    "  --timestamp UNIX   the signing time in unix seconds (default: now)\n";

static const char verify_usage[] =
    "usage: hookd verify --secret S [--scheme standard|hex|ed25519] [--tolerance SECONDS]\n"
    "                    -H 'Name: value'... < body\n"
    "\n"
    "Verifies the signature of a webhook whose body is read from stdin (raw bytes). Exits 0 if\n"
    "it is valid, 1 if it is not (the reason on stderr), 2 on a usage error.\n"
    "  --secret S           the secret (whsec_...), or the Ed25519 public key (whpk_...) whose\n"
    "                       v1a signatures are checked (a whsk_ secret key works too); give it\n"
    "                       again to accept any of several\n"
    "  --scheme SCHEME      standard (default): needs webhook-id, webhook-timestamp and\n"
    "                       webhook-signature (or svix-id, svix-timestamp, svix-signature)\n"
    "                       ed25519: the same, every key an Ed25519 one (v1a)\n"
    "                       hex: needs X-Webhook-Signature and X-Webhook-Timestamp\n"
    "  --tolerance SECONDS  how far the timestamp may be from now (default 300; 0: no check)\n"
    "  -H, --header 'Name: value'\n"
    "                       a request header; names are case-insensitive, other headers are\n"
    "                       ignored, and repeated signature headers are joined\n";

enum scheme { SCHEME_STANDARD, SCHEME_HEX, SCHEME_ED25519 };

struct options {
    const char *secrets[SECRETS_MAX];
    size_t n_secrets;
    enum scheme scheme;
    const char *id;
    const char *timestamp;
    const char *tolerance;
    const char *headers[HEADERS_MAX];
    size_t n_headers;
};

static bool has_prefix(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Whether a --secret is an Ed25519 key: the standard scheme tells v1 from v1a by the key's
 * prefix, as the Standard Webhooks key formats intend; the ed25519 scheme takes keys only. */
static bool is_ed25519_key(const struct options *opts, const char *secret)
{
    return opts->scheme == SCHEME_ED25519 ||
           (opts->scheme == SCHEME_STANDARD &&
            (has_prefix(secret, "whsk_") || has_prefix(secret, "whpk_")));
}

static int usage_error(const char *command, const char *usage, const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "hookd %s: %s '%s'\n\n%s", command, what, arg, usage);
    else
        fprintf(stderr, "hookd %s: %s\n\n%s", command, what, usage);
    return 2;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Parses the options shared by both commands; verify also takes -H and --tolerance, sign --id
 * and --timestamp. Returns -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, bool is_verify, const char *usage,
                         struct options *opts)
{
    const char *command = argv[0];
    const char *scheme = NULL;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(arg)) {
            fputs(usage, stdout);
            return 0;
        }
        bool known =
            strcmp(arg, "--secret") == 0 || strcmp(arg, "--scheme") == 0 ||
            (!is_verify && (strcmp(arg, "--id") == 0 || strcmp(arg, "--timestamp") == 0)) ||
            (is_verify && (strcmp(arg, "--tolerance") == 0 || strcmp(arg, "-H") == 0 ||
                           strcmp(arg, "--header") == 0));
        if (!known)
            return usage_error(command, usage, "unknown option", arg);
        if (value == NULL)
            return usage_error(command, usage, "missing value for", arg);
        i++;
        if (strcmp(arg, "--secret") == 0) {
            if (opts->n_secrets == SECRETS_MAX)
                return usage_error(command, usage, "too many secrets", NULL);
            opts->secrets[opts->n_secrets++] = value;
        } else if (strcmp(arg, "--scheme") == 0) {
            scheme = value;
        } else if (strcmp(arg, "--id") == 0) {
            opts->id = value;
        } else if (strcmp(arg, "--timestamp") == 0) {
            opts->timestamp = value;
        } else if (strcmp(arg, "--tolerance") == 0) {
            opts->tolerance = value;
        } else {
            if (opts->n_headers == HEADERS_MAX)
                return usage_error(command, usage, "too many headers", NULL);
            opts->headers[opts->n_headers++] = value;
        }
    }
    if (opts->n_secrets == 0)
        return usage_error(command, usage, "--secret is required", NULL);
    if (scheme == NULL || strcmp(scheme, "standard") == 0)
        opts->scheme = SCHEME_STANDARD;
    else if (strcmp(scheme, "hex") == 0)
        opts->scheme = SCHEME_HEX;
    else if (strcmp(scheme, "ed25519") == 0)
        opts->scheme = SCHEME_ED25519;
    else
        return usage_error(command, usage, "unknown scheme (standard, hex or ed25519)", scheme);
    if (!is_verify) {
        for (size_t i = 0; i < opts->n_secrets; i++)
            if (has_prefix(opts->secrets[i], "whpk_"))
                return usage_error(command, usage,
                                   "a public key cannot sign; give the secret key (whsk_...)",
                                   NULL);
    }
    if (opts->scheme == SCHEME_HEX && opts->id != NULL)
        return usage_error(command, usage, "--id applies to the standard scheme only", NULL);
    return -1;
}

/* A non-negative decimal integer, the whole text. */
static bool parse_seconds(const char *text, long long *value)
{
    char *end = NULL;
    if (text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    *value = strtoll(text, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Reads all of stdin into a new buffer (NUL bytes included); NULL on a read error. */
static char *read_body(size_t *len)
{
    size_t cap = 64 * 1024, used = 0;
    char *buf = malloc(cap);

    while (buf != NULL) {
        used += fread(buf + used, 1, cap - used, stdin);
        if (used < cap)
            break;
        char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf == NULL || ferror(stdin)) {
        fprintf(stderr, "hookd: cannot read the body from stdin: %s\n",
                buf == NULL ? "out of memory" : strerror(errno));
        free(buf);
        return NULL;
    }
    *len = used;
    return buf;
}

int cli_sign(int argc, char **argv)
{
    struct options opts = {0};
    char id[ID_MAX];
    char signatures[SECRETS_MAX * HOOKD_SIGNATURE_MAX];
    long long timestamp = (long long)time(NULL);
    size_t body_len = 0, used = 0;
    char *body;
    int rc = parse_options(argc, argv, false, sign_usage, &opts);

    if (rc >= 0)
        return rc;
    if (opts.timestamp != NULL && !parse_seconds(opts.timestamp, &timestamp))
        return usage_error("sign", sign_usage, "--timestamp wants unix seconds, not",
                           opts.timestamp);
    if (opts.id != NULL && opts.id[0] == '\0')
        return usage_error("sign", sign_usage, "--id must not be empty", NULL);
    if (opts.id == NULL && opts.scheme != SCHEME_HEX) {
        id_new("msg_", id);
        opts.id = id;
    }
    body = read_body(&body_len);
    if (body == NULL)
        return 1;
    for (size_t i = 0; i < opts.n_secrets; i++) {
        hookd_status status;
        if (i > 0)
            signatures[used++] = opts.scheme != SCHEME_HEX ? ' ' : ',';
        if (is_ed25519_key(&opts, opts.secrets[i]))
            status = hookd_sign_ed25519(opts.secrets[i], opts.id, timestamp, body, body_len,
                                        signatures + used, sizeof signatures - used);
        else if (opts.scheme == SCHEME_STANDARD)
            status = hookd_sign_standard(opts.secrets[i], opts.id, timestamp, body, body_len,
                                         signatures + used, sizeof signatures - used);
        else
            status = hookd_sign_hex(opts.secrets[i], timestamp, body, body_len, signatures + used,
                                    sizeof signatures - used);
        if (status != HOOKD_OK) {
            fprintf(stderr, "hookd sign: %s%s\n", hookd_strerror(status),
                    opts.n_secrets > 1 ? " (one of the secrets)" : "");
            free(body);
            return status == HOOKD_E_BAD_SECRET || status == HOOKD_E_INVALID_ARGUMENT ? 2 : 1;
        }
        used += strlen(signatures + used);
    }
    free(body);
    if (opts.scheme != SCHEME_HEX)
        printf("webhook-id: %s\nwebhook-timestamp: %lld\nwebhook-signature: %s\n", opts.id,
               timestamp, signatures);
    else
        printf("X-Webhook-Signature: %s\nX-Webhook-Timestamp: %lld\n", signatures, timestamp);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The headers a verification needs, found among the -H options. */
struct request_headers {
    const char *id;
    const char *timestamp;
    char signatures[HOOKD_HEADER_MAX + 2];
    bool has_signatures;
};

static const char *trim(char *text)
{
    char *end;
    while (*text == ' ' || *text == '\t')
        text++;
    end = text + strlen(text);
    while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        *--end = '\0';
    return text;
}

static bool name_is(const char *name, size_t len, const char *expected)
{
    return strlen(expected) == len && strncasecmp(name, expected, len) == 0;
}

/* Splits each "Name: value" (modifying it) and keeps the ones of the scheme. Returns -1 to go
 * on, else the exit code. */
static int collect_headers(struct options *opts, struct request_headers *req)
{
    bool is_standard = opts->scheme != SCHEME_HEX;
    char sep = is_standard ? ' ' : ',';

    for (size_t i = 0; i < opts->n_headers; i++) {
        char *line = (char *)opts->headers[i];
        char *colon = strchr(line, ':');
        const char *name = line, *value, **slot = NULL;
        size_t name_len;
        if (colon == NULL || colon == line)
            return usage_error("verify", verify_usage, "a header is 'Name: value', not", line);
        name_len = (size_t)(colon - line);
        if (strcspn(name, " \t") < name_len)
            return usage_error("verify", verify_usage, "a header name has no spaces:", line);
        value = trim(colon + 1);
        if (is_standard &&
            (name_is(name, name_len, "webhook-id") || name_is(name, name_len, "svix-id"))) {
            slot = &req->id;
        } else if (name_is(name, name_len,
                           is_standard ? "webhook-timestamp" : "x-webhook-timestamp") ||
                   (is_standard && name_is(name, name_len, "svix-timestamp"))) {
            slot = &req->timestamp;
        } else if (name_is(name, name_len,
                           is_standard ? "webhook-signature" : "x-webhook-signature") ||
                   (is_standard && name_is(name, name_len, "svix-signature"))) {
            /* Repeated signature headers read as one list, as HTTP folds them. */
            size_t used = strlen(req->signatures);
            int n = snprintf(req->signatures + used, sizeof req->signatures - used, "%s%s",
                             req->has_signatures ? (sep == ' ' ? " " : ",") : "", value);
            if (n < 0 || (size_t)n >= sizeof req->signatures - used) {
                fprintf(stderr, "hookd verify: invalid: %s\n",
                        hookd_strerror(HOOKD_E_MALFORMED_HEADER));
                return 1;
            }
            req->has_signatures = true;
            continue;
        } else {
            continue;
        }
        if (*slot != NULL) {
            fprintf(stderr, "hookd verify: invalid: header %.*s given twice\n", (int)name_len,
                    name);
            return 1;
        }
        *slot = value;
    }
    return -1;
}

static int missing_header(const char *name)
{
    fprintf(stderr, "hookd verify: invalid: missing header %s\n", name);
    return 1;
}

/* v1a signatures checked with a public key (whpk_), or with the public key of a secret key. */
static hookd_status verify_ed25519(const char *key, const struct request_headers *req,
                                   const char *body, size_t body_len, long long tolerance,
                                   long long now)
{
    char public_key[HOOKD_ED25519_KEY_LEN + 1];
    if (has_prefix(key, "whsk_")) {
        hookd_status status = hookd_ed25519_public_key(key, public_key, sizeof public_key);
        if (status != HOOKD_OK)
            return status;
        key = public_key;
    }
    return hookd_verify_ed25519(key, req->id, req->timestamp, req->signatures, body, body_len,
                                tolerance, now);
}

int cli_verify(int argc, char **argv)
{
    struct options opts = {0};
    struct request_headers req = {0};
    long long tolerance = HOOKD_TOLERANCE_DEFAULT;
    hookd_status status = HOOKD_E_SIGNATURE_MISMATCH;
    size_t body_len = 0;
    char *body;
    int rc = parse_options(argc, argv, true, verify_usage, &opts);

    if (rc >= 0)
        return rc;
    if (opts.tolerance != NULL && !parse_seconds(opts.tolerance, &tolerance))
        return usage_error("verify", verify_usage, "--tolerance wants seconds, not",
                           opts.tolerance);
    rc = collect_headers(&opts, &req);
    if (rc >= 0)
        return rc;
    if (opts.scheme != SCHEME_HEX && req.id == NULL)
        return missing_header("webhook-id");
    if (req.timestamp == NULL)
        return missing_header(opts.scheme != SCHEME_HEX ? "webhook-timestamp"
                                                        : "X-Webhook-Timestamp");
    if (!req.has_signatures)
        return missing_header(opts.scheme != SCHEME_HEX ? "webhook-signature"
                                                        : "X-Webhook-Signature");
    body = read_body(&body_len);
    if (body == NULL)
        return 1;
    /* Valid if any secret verifies; otherwise the first secret's verdict is the reason. */
    for (size_t i = 0; i < opts.n_secrets; i++) {
        long long now = (long long)time(NULL);
        hookd_status s;
        if (is_ed25519_key(&opts, opts.secrets[i]))
            s = verify_ed25519(opts.secrets[i], &req, body, body_len, tolerance, now);
        else if (opts.scheme == SCHEME_STANDARD)
            s = hookd_verify_standard(opts.secrets[i], req.id, req.timestamp, req.signatures, body,
                                      body_len, tolerance, now);
        else
            s = hookd_verify_hex(opts.secrets[i], req.timestamp, req.signatures, body, body_len,
                                 tolerance, now);
        if (s == HOOKD_OK || s == HOOKD_E_BAD_SECRET || s == HOOKD_E_INVALID_ARGUMENT) {
            status = s;
            break;
        }
        if (i == 0)
            status = s;
    }
    free(body);
    if (status == HOOKD_OK)
        return 0;
    if (status == HOOKD_E_BAD_SECRET || status == HOOKD_E_INVALID_ARGUMENT) {
        fprintf(stderr, "hookd verify: %s\n", hookd_strerror(status));
        return 2;
    }
    fprintf(stderr, "hookd verify: invalid: %s\n", hookd_strerror(status));
    return 1;
}
