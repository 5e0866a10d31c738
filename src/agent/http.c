/* The local HTTP endpoint: /metrics (Prometheus text), /status (the status JSON), /healthz.
 * libmicrohttpd runs inside the agent's sd-event loop, no thread: MHD_USE_EPOLL gives one epoll
 * fd (MHD_DAEMON_INFO_EPOLL_FD) that becomes an sd-event I/O source, and MHD_get_timeout() drives
 * one timer; both call MHD_run(), which never blocks (MHD's sockets are non-blocking in this
 * mode). Bound to metrics.listen_address (127.0.0.1 by default).
 *
 * Slow clients (slowloris: headers trickled in, a byte before each timeout) each hold a
 * connection slot, and at the connection limit MHD stops accepting, so one client holding all
 * slots took health and metrics down for everyone. A limit per client address leaves slots for
 * the others (a scraper, the kubelet's probe), and a short idle timeout frees slots of clients
 * that stop sending. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>

#include <microhttpd.h>

#include "agent/agent.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* A request is one small GET: nothing legitimate holds a connection for long, or many at once. */
#define HTTP_CONNECTION_LIMIT 64
#define HTTP_CONNECTIONS_PER_IP 8
#define HTTP_CONNECTION_TIMEOUT_SEC 5

struct AgentHttp {
        Agent *agent;
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer;
        uint64_t refused;               /* connections closed at a limit, for the log's rate */
};

/* Queues resp (NULL: out of memory) and drops our reference. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *content_type,
                             struct MHD_Response *resp) {
        if (!resp)
                return MHD_NO;
        (void) MHD_add_response_header(resp, "Content-Type", content_type);
        enum MHD_Result r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *content_type, const char *body,
                               size_t size) {
        return queue(c, status, content_type, MHD_create_response_from_buffer(size, (void *) body, MHD_RESPMEM_MUST_COPY));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls) {
        AgentHttp *h = cls;
        Agent *a = h->agent;
        (void) version;
        (void) upload_data;

        /* MHD calls once with the headers, then again for the body; we answer on the first call of
         * a GET (no body) and refuse everything else. */
        if (*upload_data_size != 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        (void) req_cls;
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
                static const char msg[] = "method not allowed\n";
                return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg, sizeof(msg) - 1);
        }
        if (strcmp(url, "/metrics") == 0) {
                int n = agent_render_metrics(a);
                if (n < 0) {
                        static const char msg[] = "out of memory\n";
                        return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", msg, sizeof(msg) - 1);
                }
                /* The page goes to MHD, which frees it once sent: no copy of it, and no memory
                 * held for it between scrapes (100+ KB with a few hundred workloads). */
                char *page = TAKE_PTR(a->metrics_text);
                a->metrics_size = 0;
                struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback((size_t) n, page, free);
                if (!resp)
                        free(page);
                return queue(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", resp);
        }
        if (strcmp(url, "/status") == 0) {
                if (!a->status_json) {
                        static const char msg[] = "no status yet\n";
                        return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", msg, sizeof(msg) - 1);
                }
                return respond(c, MHD_HTTP_OK, "application/json", a->status_json, strlen(a->status_json));
        }
        if (strcmp(url, "/healthz") == 0) {
                /* Healthy: a tick succeeded within the last three periods. */
                uint64_t now = now_monotonic_usec();
                bool ok = a->ready && a->last_tick_usec + 3 * a->config.agent.period_usec + USEC_PER_SEC >= now;
                static const char good[] = "ok\n", bad[] = "not ready or control loop stalled\n";
                return ok ? respond(c, MHD_HTTP_OK, "text/plain", good, sizeof(good) - 1)
                          : respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", bad, sizeof(bad) - 1);
        }
        static const char msg[] = "not found: try /metrics, /status or /healthz\n";
        return respond(c, MHD_HTTP_NOT_FOUND, "text/plain", msg, sizeof(msg) - 1);
}

static void http_run(AgentHttp *h) {
        if (MHD_run(h->daemon) != MHD_YES)
                log_debug("MHD_run() reported an error.");
        MHD_UNSIGNED_LONG_LONG timeout_ms;
        if (MHD_get_timeout(h->daemon, &timeout_ms) == MHD_YES) {
                (void) sd_event_source_set_time_relative(h->timer, timeout_ms * USEC_PER_MSEC);
                (void) sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) s;
        (void) fd;
        (void) revents;
        http_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        http_run(userdata);
        return 0;
}

/* A client opening connections past the limits makes MHD report each refusal: logged on the 1st,
 * 2nd, 4th, 8th... so a flood cannot flood the journal too. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        AgentHttp *h = cls;
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n > 0 && msg[n - 1] == '\n')
                msg[--n] = '\0';
        if (strstr(msg, "connection limit")) {
                h->refused++;
                if ((h->refused & (h->refused - 1)) != 0)
                        log_debug("HTTP: %s", msg);
                else
                        log_warning("HTTP: %s (%" PRIu64 " connections refused so far)", msg, h->refused);
                return;
        }
        log_warning("HTTP: %s", msg);
}

AgentHttp *agent_http_free(AgentHttp *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        if (h->daemon)
                MHD_stop_daemon(h->daemon);
        free(h);
        return NULL;
}

int agent_http_start(Agent *a, AgentHttp **ret) {
        const MetricsConfig *mc = &a->config.metrics;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(mc->port) };
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(mc->port) };
        const struct sockaddr *sa;
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

        if (inet_pton(AF_INET, mc->listen_address, &sin.sin_addr) == 1)
                sa = (const struct sockaddr *) &sin;
        else if (inet_pton(AF_INET6, mc->listen_address, &sin6.sin6_addr) == 1) {
                sa = (const struct sockaddr *) &sin6;
                flags |= MHD_USE_IPv6;
        } else {
                log_error("metrics.listen_address '%s' is not an IPv4 or IPv6 address.", mc->listen_address);
                return -EINVAL;
        }

        AgentHttp *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->agent = a;
        /* The logger goes first, so MHD reports problems with the other options through it too. */
        h->daemon = MHD_start_daemon(flags, mc->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
                                     h, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned) HTTP_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                     (unsigned) HTTP_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned) HTTP_CONNECTION_TIMEOUT_SEC, MHD_OPTION_END);
        if (!h->daemon) {
                log_error("Cannot serve metrics on %s port %u (address in use?).", mc->listen_address, (unsigned) mc->port);
                agent_http_free(h);
                return -EADDRINUSE;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        int r = info ? sd_event_add_io(a->event, &h->io, info->epoll_fd, EPOLLIN, on_io, h) : -EOPNOTSUPP;
        if (r >= 0)
                r = sd_event_add_time_relative(a->event, &h->timer, CLOCK_MONOTONIC, 0, 0, on_timer, h);
        if (r < 0) {
                log_error("Cannot attach the HTTP server to the event loop: %s", strerror(-r));
                agent_http_free(h);
                return r;
        }
        (void) sd_event_source_set_description(h->io, "http");
        (void) sd_event_source_set_description(h->timer, "http-timer");
        (void) sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        http_run(h);

        const union MHD_DaemonInfo *port = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
        log_info("Serving /metrics, /status and /healthz on http://%s%s%s:%u/.", sa->sa_family == AF_INET6 ? "[" : "",
                 mc->listen_address, sa->sa_family == AF_INET6 ? "]" : "", port ? (unsigned) port->port : mc->port);
        *ret = h;
        return 0;
}
