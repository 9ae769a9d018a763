/* Transfers and their pool (see transfer.h). */
#include "engine/transfer.h"

#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * count, room = RESPONSE_BODY_MAX - t->body_len;
    if (room > 0) {
        size_t take = len < room ? len : room;
        memcpy(t->body + t->body_len, data, take);
        t->body_len += take;
    }
    return len; /* read and discard the rest */
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    static const char *const kept[] = {"content-type", "retry-after", "location", "server",
                                       "content-length"};
    struct transfer *t = arg;
    size_t len = size * count, name_len;
    char line[512];
    const char *colon;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (after a 1xx) */
        t->response_headers_len = 0;
        t->response_header_count = 0;
        t->retry_after[0] = '\0';
        return len;
    }
    colon = memchr(data, ':', len);
    if (colon == NULL || len >= sizeof line)
        return len;
    name_len = (size_t)(colon - data);
    memcpy(line, data, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    line[name_len] = '\0';
    for (size_t i = 0; i < name_len; i++)
        if (line[i] >= 'A' && line[i] <= 'Z')
            line[i] = (char)(line[i] - 'A' + 'a');
    const char *value = line + name_len + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        size_t room = sizeof t->response_headers - t->response_headers_len;
        if (strcmp(line, kept[i]) != 0 || t->response_header_count == RESPONSE_HEADERS_MAX)
            continue;
        int n = snprintf(t->response_headers + t->response_headers_len, room, "%s: %.200s\n", line,
                         value);
        if (n > 0 && (size_t)n < room) {
            t->response_headers_len += (size_t)n;
            t->response_header_count++;
        }
        if (i == 1)
            text_copy(t->retry_after, sizeof t->retry_after, value);
    }
    return len;
}

/* Refuses a connection to an address that is not allowed, whatever DNS said earlier. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct transfer *t = arg;
    (void)purpose;
    if (!address_is_allowed(&addr->addr, t->allow_private)) {
        t->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* A transfer with its easy handle and the options that are the same for every request; the
 * handle is reused as it is (transfer_start sets the rest): resetting it and setting everything
 * again cost a tenth of the delivery thread. */
static struct transfer *transfer_new(struct transfer_pool *pool)
{
    struct transfer *t = xcalloc(1, sizeof *t);
    CURL *h = curl_easy_init();
    if (h == NULL)
        abort();
    t->easy = h;
    t->allow_private = pool->policy.allow_private;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, pool->policy.allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_PROXY, pool->proxy); /* "" ignores proxy variables */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(h, CURLOPT_PRIVATE, t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->error_text);
    if (pool->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, pool->ca);
    return t;
}

void transfer_pool_init(struct transfer_pool *pool, CURLM *multi, const struct url_policy *policy,
                        const char *proxy, struct curl_blob *ca)
{
    memset(pool, 0, sizeof *pool);
    pool->multi = multi;
    pool->policy = *policy;
    pool->proxy = proxy;
    pool->ca = ca;
    pool->test_hosts = getenv("HOOKD_TEST_HOSTS") != NULL;
}

void transfer_pool_free(struct transfer_pool *pool)
{
    while (pool->free_list) {
        struct transfer *t = pool->free_list;
        pool->free_list = t->next_free;
        curl_easy_cleanup(t->easy);
        free(t);
    }
}

struct transfer *transfer_get(struct transfer_pool *pool)
{
    struct transfer *t = pool->free_list;
    if (t)
        pool->free_list = t->next_free;
    else
        t = transfer_new(pool);
    t->job = NULL;
    t->ping = NULL;
    t->ep = NULL;
    t->body_len = 0;
    t->retry_after[0] = '\0';
    t->error_text[0] = '\0';
    t->blocked = false;
    t->response_headers_len = 0;
    t->response_header_count = 0;
    t->start_ns = time_mono_ns();
    t->started_ms = time_now_ms();
    return t;
}

void transfer_put(struct transfer_pool *pool, struct transfer *t)
{
    if (t->resolve) /* the handle must not keep the list it is about to lose */
        curl_easy_setopt(t->easy, CURLOPT_RESOLVE, NULL);
    curl_slist_free_all(t->resolve);
    t->headers = t->resolve = NULL;
    t->next_free = pool->free_list;
    pool->free_list = t;
}

/* HOOKD_TEST_HOSTS (tests only): the host resolves to what the file says now, replacing what
 * libcurl's DNS cache holds from earlier attempts. */
static void pin_test_host(struct transfer *t, const char *url)
{
    char host[512], address[256], entry[800];
    int port;
    if (!url_host_port(url, host, sizeof host, &port) ||
        !test_hosts_lookup(host, address, sizeof address))
        return;
    snprintf(entry, sizeof entry, "-%s:%d", host, port);
    t->resolve = curl_slist_append(t->resolve, entry);
    snprintf(entry, sizeof entry, strchr(address, ':') ? "%s:%d:[%s]" : "%s:%d:%s", host, port,
             address);
    t->resolve = curl_slist_append(t->resolve, entry);
    curl_easy_setopt(t->easy, CURLOPT_RESOLVE, t->resolve);
}

void transfer_start(struct transfer_pool *pool, struct transfer *t, const char *url,
                    const struct payload *body, int timeout_ms)
{
    CURL *h = t->easy;
    curl_easy_setopt(h, CURLOPT_URL, url);
    /* Waiting to learn whether a connection multiplexes costs a TLS handshake at most over
     * https (ALPN answers it), but over plain http it lasts until the first response: every
     * other endpoint on the host would wait behind a slow one. */
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, strncmp(url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)&body->data[0]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    if (pool->test_hosts)
        pin_test_host(t, url);
    curl_multi_add_handle(pool->multi, h);
    t->prev_active = NULL;
    t->next_active = pool->active;
    if (pool->active)
        pool->active->prev_active = t;
    pool->active = t;
    pool->in_flight++;
}

void transfer_detach(struct transfer_pool *pool, struct transfer *t)
{
    curl_multi_remove_handle(pool->multi, t->easy);
    if (t->prev_active)
        t->prev_active->next_active = t->next_active;
    else
        pool->active = t->next_active;
    if (t->next_active)
        t->next_active->prev_active = t->prev_active;
    pool->in_flight--;
}

/* A server may answer before it has read the whole body and then reset the stream with
 * NO_ERROR (RFC 9113 §8.1: nginx's `return 204` does), which libcurl 7.88 reports as a stream
 * or send error although a complete response came: that response is the receiver's answer. */
static CURLcode early_response_is_answer(CURL *easy, CURLcode code, long status)
{
    long version = 0;
    if ((code != CURLE_HTTP2_STREAM && code != CURLE_SEND_ERROR) || status < 200)
        return code;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    return version == CURL_HTTP_VERSION_2_0 ? CURLE_OK : code;
}

struct transfer *transfer_next_done(struct transfer_pool *pool, CURLcode *code, long *status)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(pool->multi, &left)) != NULL) {
        struct transfer *t;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        *status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, status);
        *code = early_response_is_answer(msg->easy_handle, msg->data.result, *status);
        transfer_detach(pool, t);
        return t;
    }
    return NULL;
}

const char *transfer_error_class(CURLcode code, bool blocked)
{
    if (blocked)
        return "blocked_address";
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "dns";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
        return "tls";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return "connection";
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "protocol";
    default:
        return "network";
    }
}
