/* libmicrohttpd wrapper. MHD calls the access handler several times per request: first with the
 * headers (a context is allocated and an oversized Content-Length refused up front), then once
 * per body chunk (appended up to max_body_size; past it the rest is discarded and 413 answered),
 * and finally with no data, when the user handler runs. The context is freed in the
 * request-completed callback, which MHD calls however the request ended.
 *
 * Every byte a body buffer holds is charged to one budget shared by all connections
 * (max_in_flight), before it is allocated: slow uploads that each stay under the body limit
 * cannot add up past what the server's memory limit allows. A request whose body does not fit
 * gets 503, its buffer freed at once and the rest of its body discarded unread into memory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "httpd/https-server.h"
#include "httpd/tls-policy.h"
#include "util/fileio.h"
#include "util/macro.h"

#define PEM_MAX_SIZE (1u << 20)

struct HttpsServer {
        struct MHD_Daemon *daemon;
        HttpsServerOptions options;
        char *cert_pem;
        char *key_pem;
        uint16_t port;
        atomic_size_t in_flight;        /* bytes of body buffers, all connections */
};

typedef struct RequestContext {
        char *body;
        size_t size;
        size_t allocated;               /* charged to HttpsServer.in_flight */
        uint64_t declared;              /* Content-Length, 0 when absent */
        bool too_large;
        bool over_budget;
} RequestContext;

void http_reply_error(HttpReply *reply, int status, const char *message) {
        json_auto_t *o = json_pack("{s:s}", "error", message ? message : "");
        free(reply->body);
        reply->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        reply->body_size = reply->body ? strlen(reply->body) : 0;
        reply->status = status;
        reply->content_type = "application/json";
}

/* retry_after: a Retry-After value (seconds) or NULL. */
static enum MHD_Result queue_reply(struct MHD_Connection *connection, HttpReply *reply, const char *retry_after) {
        struct MHD_Response *response;
        if (reply->body)
                response = MHD_create_response_from_buffer_with_free_callback(reply->body_size, reply->body, free);
        else
                response = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!response) {
                free(reply->body);
                return MHD_NO;
        }
        reply->body = NULL;     /* owned by the response now */
        (void) MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                       reply->content_type ? reply->content_type : "application/json");
        if (retry_after)
                (void) MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
        enum MHD_Result r = MHD_queue_response(connection, (unsigned) reply->status, response);
        MHD_destroy_response(response);
        return r;
}

static enum MHD_Result queue_error(struct MHD_Connection *connection, int status, const char *fmt, ...)
        _printf_(3, 4);
static enum MHD_Result queue_error(struct MHD_Connection *connection, int status, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        HttpReply reply = {};
        http_reply_error(&reply, status, msg);
        return queue_reply(connection, &reply, NULL);
}

/* Charges n bytes to the shared budget; false (nothing charged) when they do not fit. */
static bool budget_charge(HttpsServer *s, size_t n) {
        size_t cur = atomic_load(&s->in_flight);
        do {
                if (n > s->options.max_in_flight - cur)
                        return false;
        } while (!atomic_compare_exchange_weak(&s->in_flight, &cur, cur + n));
        return true;
}

static void context_release_body(HttpsServer *s, RequestContext *ctx) {
        free(ctx->body);
        ctx->body = NULL;
        atomic_fetch_sub(&s->in_flight, ctx->allocated);
        ctx->allocated = ctx->size = 0;
}

/* Grows the buffer geometrically, but never past the declared length or the limit, and only with
 * budget for the growth. */
static int append_body(HttpsServer *s, RequestContext *ctx, const char *data, size_t n) {
        size_t max = s->options.max_body_size;
        if (ctx->size + n > max) {
                ctx->too_large = true;
                context_release_body(s, ctx);
                return 0;
        }
        if (ctx->size + n + 1 > ctx->allocated) {
                size_t want = MAX(ctx->allocated * 2, ctx->size + n + 1);
                if (ctx->declared >= ctx->size + n)
                        want = MIN(want, (size_t) ctx->declared + 1);
                want = MIN(want, max + 1);
                if (!budget_charge(s, want - ctx->allocated)) {
                        ctx->over_budget = true;
                        context_release_body(s, ctx);
                        return 0;
                }
                char *p = realloc(ctx->body, want);
                if (!p) {
                        atomic_fetch_sub(&s->in_flight, want - ctx->allocated);
                        return -ENOMEM;
                }
                ctx->body = p;
                ctx->allocated = want;
        }
        memcpy(ctx->body + ctx->size, data, n);
        ctx->size += n;
        ctx->body[ctx->size] = '\0';
        return 0;
}

static enum MHD_Result queue_busy(struct MHD_Connection *connection, const HttpsServer *s) {
        HttpReply reply = {};
        char msg[160];
        snprintf(msg, sizeof(msg), "server busy: request bodies in flight would exceed %zu bytes, retry later",
                 s->options.max_in_flight);
        http_reply_error(&reply, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
        return queue_reply(connection, &reply, "1");
}

/* The first call, with the headers: refuses what cannot fit before any body byte is read. */
static enum MHD_Result on_headers(HttpsServer *s, struct MHD_Connection *connection, RequestContext *ctx) {
        const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!cl || parse_u64(cl, &ctx->declared) < 0)
                ctx->declared = 0;
        if (ctx->declared > s->options.max_body_size)
                return queue_error(connection, MHD_HTTP_CONTENT_TOO_LARGE,
                                   "request body of %s bytes exceeds the limit of %zu", cl, s->options.max_body_size);
        if (ctx->declared > s->options.max_in_flight - MIN(atomic_load(&s->in_flight), s->options.max_in_flight))
                return queue_busy(connection, s);
        return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        HttpsServer *s = cls;
        RequestContext *ctx = *con_cls;
        (void) version;

        if (!ctx) {
                ctx = calloc(1, sizeof(*ctx));
                if (!ctx)
                        return MHD_NO;
                *con_cls = ctx;
                return on_headers(s, connection, ctx);
        }
        if (*upload_data_size > 0) {
                if (!ctx->too_large && !ctx->over_budget && append_body(s, ctx, upload_data, *upload_data_size) < 0)
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (ctx->too_large)
                return queue_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, "request body exceeds the limit of %zu bytes",
                                   s->options.max_body_size);
        if (ctx->over_budget)
                return queue_busy(connection, s);

        HttpRequest req = {
                .method = method,
                .path = url,
                .content_type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                .body = ctx->body ? ctx->body : "",
                .body_size = ctx->size,
        };
        HttpReply reply = { .status = 200, .content_type = "application/json" };
        s->options.handler(&req, &reply, s->options.userdata);
        context_release_body(s, ctx);   /* back to the budget while the reply is sent */
        return queue_reply(connection, &reply, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        (void) connection;
        (void) toe;
        RequestContext *ctx = *con_cls;
        if (ctx) {
                context_release_body(cls, ctx);
                free(ctx);
                *con_cls = NULL;
        }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        HttpsServer *s = cls;
        if (!s->options.logger)
                return;
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        s->options.logger(msg, s->options.userdata);
}

HttpsServer *https_server_stop(HttpsServer *s) {
        if (!s)
                return NULL;
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        free(s->cert_pem);
        if (s->key_pem) {
                explicit_bzero(s->key_pem, strlen(s->key_pem));
                free(s->key_pem);
        }
        free(s);
        return NULL;
}

int https_listen_parse(const char *s, char *addr, size_t addr_size, uint16_t *ret_port) {
        const char *colon = strrchr(s, ':');
        if (!colon)
                return -EINVAL;
        const char *host = s;
        size_t host_len = (size_t) (colon - s);
        if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
                host++;
                host_len -= 2;
        } else if (memchr(host, ':', host_len))
                return -EINVAL;                 /* bare IPv6 needs brackets */
        if (host_len == 0) {
                host = "0.0.0.0";
                host_len = strlen(host);
        }
        uint64_t port;
        if (host_len >= addr_size || parse_u64(colon + 1, &port) < 0 || port > 65535)
                return -EINVAL;
        memcpy(addr, host, host_len);
        addr[host_len] = '\0';
        *ret_port = (uint16_t) port;
        return 0;
}

int https_server_event_fd(HttpsServer *s) {
        if (s->options.threads > 0)
                return -EOPNOTSUPP;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        return info ? info->epoll_fd : -EOPNOTSUPP;
}

int https_server_run(HttpsServer *s, uint64_t *ret_timeout_usec) {
        if (s->options.threads > 0)
                return -EOPNOTSUPP;
        int r = MHD_run(s->daemon) == MHD_YES ? 0 : -EIO;
        MHD_UNSIGNED_LONG_LONG timeout_ms;
        if (MHD_get_timeout(s->daemon, &timeout_ms) == MHD_YES)
                *ret_timeout_usec = timeout_ms >= UINT64_MAX / 1000 ? UINT64_MAX - 1 : (uint64_t) timeout_ms * 1000;
        else
                *ret_timeout_usec = UINT64_MAX;
        return r;
}

uint16_t https_server_port(const HttpsServer *s) {
        return s->port;
}

size_t https_server_in_flight(HttpsServer *s) {
        return atomic_load(&s->in_flight);
}

typedef union SocketAddress {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
} SocketAddress;

/* A numeric IPv4 or IPv6 address and port; -EINVAL for anything else (no name lookups). */
static int socket_address_parse(const char *address, uint16_t port, SocketAddress *ret, bool *ret_ipv6) {
        *ret = (SocketAddress) {};
        *ret_ipv6 = false;
        if (inet_pton(AF_INET, address, &ret->in4.sin_addr) == 1) {
                ret->in4.sin_family = AF_INET;
                ret->in4.sin_port = htons(port);
                return 0;
        }
        if (inet_pton(AF_INET6, address, &ret->in6.sin6_addr) != 1)
                return -EINVAL;
        ret->in6.sin6_family = AF_INET6;
        ret->in6.sin6_port = htons(port);
        *ret_ipv6 = true;
        return 0;
}

/* MHD's options for s into opts: at most 10 and the end marker. */
static void daemon_options(HttpsServer *s, const struct sockaddr *sa, struct MHD_OptionItem opts[static 16]) {
        const HttpsServerOptions *o = &s->options;
        size_t n = 0;
        /* The logger first: MHD reports problems with later options through it. */
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) on_mhd_log, s };
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0, (void *) sa };
        if (o->threads > 1)
                opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL };
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_sec, NULL };
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) on_completed, s };
        if (o->max_connections > 0)
                opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL };
        if (o->max_connections_per_ip > 0)
                opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip,
                                                      NULL };
        if (s->cert_pem) {
                opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem };
                opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem };
                opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) TLS_POLICY_PRIORITIES };
        }
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
}

int https_server_start(const HttpsServerOptions *o, HttpsServer **ret, ColoError *err) {
        if (!o->handler || o->max_body_size == 0 || !o->bind_address)
                return colo_error_setf_plain(err, EINVAL, "http server: handler, body limit and address needed");
        if (o->max_in_flight != 0 && o->max_in_flight < o->max_body_size)
                return colo_error_setf_plain(err, EINVAL, "http server: the budget for bodies in flight (%zu bytes) "
                                             "is smaller than one body (%zu bytes)", o->max_in_flight,
                                             o->max_body_size);
        if (!o->cert_file != !o->key_file)
                return colo_error_setf_plain(err, EINVAL, "http server: TLS needs both a certificate and a key");

        SocketAddress addr;
        bool ipv6;
        if (socket_address_parse(o->bind_address, o->port, &addr, &ipv6) < 0)
                return colo_error_setf_plain(err, EINVAL, "http server: '%s' is not a numeric IP address", o->bind_address);

        _cleanup_(https_server_stopp) HttpsServer *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "http server");
        s->options = *o;
        if (s->options.max_in_flight == 0)
                s->options.max_in_flight = o->max_body_size;
        /* Without a thread, MHD_USE_EPOLL gives the caller one fd to watch, and MHD's sockets are
         * non-blocking, so MHD_run() never blocks its loop. */
        unsigned flags = (o->threads > 0 ? MHD_USE_INTERNAL_POLLING_THREAD : 0) | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        if (ipv6)
                flags |= MHD_USE_IPv6;
        if (o->cert_file) {
                int r = read_full_file(o->cert_file, PEM_MAX_SIZE, &s->cert_pem, NULL, err);
                if (r < 0)
                        return colo_error_wrap(err, "TLS certificate");
                size_t key_size;
                r = read_full_file(o->key_file, PEM_MAX_SIZE, &s->key_pem, &key_size, err);
                if (r < 0)
                        return colo_error_wrap(err, "TLS key");
                r = tls_policy_check_key(o->key_file, s->key_pem, key_size, err);
                if (r < 0)
                        return r;
                flags |= MHD_USE_TLS;
        }

        struct MHD_OptionItem opts[16];
        daemon_options(s, &addr.sa, opts);
        s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
        if (!s->daemon)
                return colo_error_setf_plain(err, EIO, "http server: cannot listen on %s port %u%s (address in use, "
                                             "or the certificate/key is invalid)", o->bind_address, o->port,
                                             s->cert_pem ? " with TLS" : "");
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : o->port;
        *ret = TAKE_PTR(s);
        return 0;
}
