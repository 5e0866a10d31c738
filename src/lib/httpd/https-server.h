/* A small HTTP(S) server for JSON endpoints on libmicrohttpd: TLS from PEM cert/key files (MHD is
 * built with GnuTLS in Debian; the policy of tls-policy.h is enforced) or plain HTTP for tests,
 * HTTP/1.1 keep-alive, and an internal thread pool that calls one handler per complete request,
 * or no thread at all, run from the caller's event loop (threads = 0).
 * Hostile clients are bounded: a limit per request body, a memory budget shared by all bodies
 * being received (503 past it), connection limits in total and per client address, and an idle
 * timeout per connection. Used by `colo webhook` and `colo extender` (thread pool) and by the
 * agent's metrics endpoint (inside its sd-event loop). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct HttpRequest {
        const char *method;             /* "POST", "GET", ... */
        const char *path;               /* "/filter" */
        const char *content_type;       /* NULL when absent */
        const char *body;               /* NUL-terminated; "" without a body */
        size_t body_size;
} HttpRequest;

typedef struct HttpReply {
        int status;                     /* 200 unless the handler sets it */
        const char *content_type;       /* static string; "application/json" unless set */
        char *body;                     /* malloc'd; the server frees it. NULL = empty body */
        size_t body_size;
} HttpReply;

/* Called on a pool thread, concurrently: must be thread-safe. With threads = 0 it is called from
 * https_server_run(), on the caller's thread. */
typedef void (*HttpHandler)(const HttpRequest *req, HttpReply *reply, void *userdata);
/* Receives libmicrohttpd's diagnostics (TLS handshake failures and the like), any thread. */
typedef void (*HttpLogger)(const char *message, void *userdata);

typedef struct HttpsServerOptions {
        const char *bind_address;       /* numeric IPv4 or IPv6, e.g. "0.0.0.0", "::", "127.0.0.1" */
        uint16_t port;                  /* 0 picks a free port (see https_server_port()) */
        const char *cert_file;          /* PEM; both NULL = plain HTTP */
        const char *key_file;
        size_t max_body_size;           /* larger bodies get 413 */
        size_t max_in_flight;           /* bytes all bodies being received may hold together, >=
                                         * max_body_size (0: that); past it requests get 503 */
        unsigned connection_timeout_sec;/* idle connections are closed after this */
        unsigned threads;               /* size of the thread pool; 0: no thread, the caller runs
                                         * the server (https_server_event_fd(), https_server_run()) */
        unsigned max_connections;       /* 0 = libmicrohttpd's default */
        unsigned max_connections_per_ip;/* 0 = no limit per client address */
        HttpHandler handler;
        void *userdata;
        HttpLogger logger;              /* optional */
} HttpsServerOptions;

typedef struct HttpsServer HttpsServer;

/* Starts serving in background threads. -EINVAL on bad options, -errno/-EIO when the
 * certificate cannot be read or the socket not bound, -EKEYREJECTED for a key too weak for the
 * TLS policy, with the reason (naming the file) in err. */
int https_server_start(const HttpsServerOptions *o, HttpsServer **ret, ColoError *err);

/* threads = 0: the epoll fd that becomes readable when the server has work; -EOPNOTSUPP with a
 * thread pool. */
int https_server_event_fd(HttpsServer *s);

/* threads = 0: does the work that is ready without blocking (accepting, reading, calling the
 * handler, writing) and sets *ret_timeout_usec to when it must run again even if the fd stays
 * quiet (UINT64_MAX: not before it becomes readable). -EOPNOTSUPP with a thread pool, -EIO when
 * libmicrohttpd reports an error (the server stays usable). */
int https_server_run(HttpsServer *s, uint64_t *ret_timeout_usec);

/* The port actually bound. */
uint16_t https_server_port(const HttpsServer *s);

/* Bytes the body buffers of all connections hold right now (<= max_in_flight). */
size_t https_server_in_flight(HttpsServer *s);

/* Stops accepting, waits for the threads to finish and frees. NULL-safe; returns NULL. */
HttpsServer *https_server_stop(HttpsServer *s);

static inline void https_server_stopp(HttpsServer **s) {
        https_server_stop(*s);
}

/* Splits "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all addresses: "0.0.0.0") for the options.
 * -EINVAL when malformed. */
int https_listen_parse(const char *s, char *addr, size_t addr_size, uint16_t *ret_port);

/* Convenience for handlers: sets reply to status with a JSON body {"error": message}. */
void http_reply_error(HttpReply *reply, int status, const char *message);
