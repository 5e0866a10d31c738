/* The local HTTP endpoint: /metrics (Prometheus text), /status (the status JSON), /healthz.
 * The server is colo's one libmicrohttpd wrapper (httpd/https-server.h) with no thread of its
 * own: it runs inside the agent's sd-event loop, its epoll fd an sd-event I/O source and its
 * timeout one timer, both calling https_server_run(), which never blocks. So the handler runs on
 * the loop's thread and reads the Agent without locks. Bound to metrics.listen_address
 * (127.0.0.1 by default).
 *
 * Slow clients (slowloris: headers trickled in, a byte before each timeout) each hold a
 * connection slot, and at the connection limit MHD stops accepting, so one client holding all
 * slots took health and metrics down for everyone. A limit per client address leaves slots for
 * the others (a scraper, the kubelet's probe), and a short idle timeout frees slots of clients
 * that stop sending. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/agent.h"
#include "httpd/https-server.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* A request is one small GET: nothing legitimate holds a connection for long, or many at once,
 * or sends a body. */
#define HTTP_CONNECTION_LIMIT 64
#define HTTP_CONNECTIONS_PER_IP 8
#define HTTP_CONNECTION_TIMEOUT_SEC 5
#define HTTP_MAX_BODY_SIZE 4096
#define HTTP_MAX_IN_FLIGHT (64u << 10)

struct AgentHttp {
        Agent *agent;
        HttpsServer *server;
        sd_event_source *io, *timer;
        uint64_t refused;               /* connections closed at a limit, for the log's rate */
};

/* A static text body, copied: the server frees every body it is given. */
static void reply_text(HttpReply *reply, int status, const char *text) {
        reply->status = status;
        reply->content_type = "text/plain";
        reply->body = strdup(text);
        reply->body_size = reply->body ? strlen(text) : 0;
        if (!reply->body)
                reply->status = 500;
}

static void reply_metrics(Agent *a, HttpReply *reply) {
        int n = agent_render_metrics(a);
        if (n < 0)
                return reply_text(reply, 500, "out of memory\n");
        /* The page goes to the server, which frees it once sent: no copy of it, and no memory
         * held for it between scrapes (100+ KB with a few hundred workloads). */
        reply->body = TAKE_PTR(a->metrics_text);
        reply->body_size = (size_t) n;
        a->metrics_size = 0;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void on_request(const HttpRequest *req, HttpReply *reply, void *userdata) {
        AgentHttp *h = userdata;
        Agent *a = h->agent;

        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
                return reply_text(reply, 405, "method not allowed\n");
        if (strcmp(req->path, "/metrics") == 0)
                return reply_metrics(a, reply);
        if (strcmp(req->path, "/status") == 0) {
                if (!a->status_json)
                        return reply_text(reply, 503, "no status yet\n");
                reply->body = strdup(a->status_json);
                reply->body_size = reply->body ? strlen(reply->body) : 0;
                reply->status = reply->body ? 200 : 500;
                return;
        }
        if (strcmp(req->path, "/healthz") == 0) {
                /* Healthy: a tick succeeded within the last three periods. */
                uint64_t now = now_monotonic_usec();
                bool ok = a->ready && a->last_tick_usec + 3 * a->config.agent.period_usec + USEC_PER_SEC >= now;
                return ok ? reply_text(reply, 200, "ok\n") : reply_text(reply, 503, "not ready or control loop stalled\n");
        }
        reply_text(reply, 404, "not found: try /metrics, /status or /healthz\n");
}

static void http_run(AgentHttp *h) {
        uint64_t timeout_usec;
        if (https_server_run(h->server, &timeout_usec) < 0)
                log_debug("MHD_run() reported an error.");
        if (timeout_usec != UINT64_MAX) {
                (void) sd_event_source_set_time_relative(h->timer, timeout_usec);
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
static void on_server_log(const char *msg, void *userdata) {
        AgentHttp *h = userdata;
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
        https_server_stop(h->server);
        free(h);
        return NULL;
}

int agent_http_start(Agent *a, AgentHttp **ret) {
        const MetricsConfig *mc = &a->config.metrics;
        AgentHttp *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->agent = a;
        HttpsServerOptions o = {
                .bind_address = mc->listen_address,
                .port = mc->port,
                .max_body_size = HTTP_MAX_BODY_SIZE,
                .max_in_flight = HTTP_MAX_IN_FLIGHT,
                .connection_timeout_sec = HTTP_CONNECTION_TIMEOUT_SEC,
                .threads = 0,           /* in the event loop */
                .max_connections = HTTP_CONNECTION_LIMIT,
                .max_connections_per_ip = HTTP_CONNECTIONS_PER_IP,
                .handler = on_request,
                .userdata = h,
                .logger = on_server_log,
        };
        ColoError err = {};
        int r = https_server_start(&o, &h->server, &err);
        if (r < 0) {
                log_error("Cannot serve metrics on %s port %u: %s", mc->listen_address, (unsigned) mc->port,
                          colo_error_msg(&err));
                agent_http_free(h);
                return r == -EIO ? -EADDRINUSE : r;
        }
        int fd = https_server_event_fd(h->server);
        r = fd >= 0 ? sd_event_add_io(a->event, &h->io, fd, EPOLLIN, on_io, h) : fd;
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

        bool v6 = strchr(mc->listen_address, ':') != NULL;
        log_info("Serving /metrics, /status and /healthz on http://%s%s%s:%u/.", v6 ? "[" : "", mc->listen_address,
                 v6 ? "]" : "", (unsigned) https_server_port(h->server));
        *ret = h;
        return 0;
}
