/* Kubernetes mode's API client on the agent's sd-event loop: curl's multi interface asks for
 * its sockets to be watched and a timer to be armed (KubeLoopHooks); each becomes an sd-event
 * source, so the API server is never waited for. A wake-up timer starts what is due (a watch
 * after its list, retries of evictions) at its backoff. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/k8s-mode.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define TIMER_ACCURACY_USEC (10 * USEC_PER_MSEC)


/* After any network activity: start whatever is due (a watch after its list, retries), and
 * re-arm the timer for the next backoff. */
void k8s_api_after_io(AgentK8s *k) {
        pod_watch_dispatch(k->watch);
        kube_evictor_dispatch(k->evictor);
        k8s_api_rearm(k);
}

static int on_socket_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        AgentK8s *k = userdata;
        (void) s;
        int events = (revents & (EPOLLIN | EPOLLERR | EPOLLHUP) ? KUBE_POLL_IN : 0) |
                     (revents & (EPOLLOUT | EPOLLERR) ? KUBE_POLL_OUT : 0);
        (void) kube_client_socket_action(k->client, fd, events);
        k8s_api_after_io(k);
        return 0;
}

static KubeSocket *find_socket(AgentK8s *k, int fd) {
        for (size_t i = 0; i < k->n_sockets; i++)
                if (k->sockets[i].fd == fd)
                        return &k->sockets[i];
        return NULL;
}

static int watch_socket(void *userdata, int fd, int events) {
        AgentK8s *k = userdata;
        KubeSocket *ks = find_socket(k, fd);
        if (events == 0) {
                if (ks) {
                        sd_event_source_disable_unref(ks->source);
                        *ks = k->sockets[--k->n_sockets];
                }
                return 0;
        }
        uint32_t mask = (events & KUBE_POLL_IN ? EPOLLIN : 0) | (events & KUBE_POLL_OUT ? EPOLLOUT : 0);
        if (ks && sd_event_source_set_io_events(ks->source, mask) >= 0)
                return 0;
        if (ks) {
                /* The fd number was reused behind our back: register it afresh. */
                sd_event_source_disable_unref(ks->source);
                *ks = k->sockets[--k->n_sockets];
        }
        KubeSocket *n = realloc(k->sockets, (k->n_sockets + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        k->sockets = n;
        ks = &k->sockets[k->n_sockets];
        int r = sd_event_add_io(k->agent->event, &ks->source, fd, mask, on_socket_io, k);
        if (r < 0) {
                log_warning("Cannot watch the API server connection: %s", strerror(-r));
                return r;
        }
        (void) sd_event_source_set_description(ks->source, "kube-api-socket");
        ks->fd = fd;
        k->n_sockets++;
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        AgentK8s *k = userdata;
        (void) s;
        (void) usec;
        (void) kube_client_socket_action(k->client, KUBE_SOCKET_TIMEOUT, 0);
        k8s_api_after_io(k);
        return 0;
}

static int arm_timer(AgentK8s *k, sd_event_source **src, uint64_t at_usec, sd_event_time_handler_t cb,
                     const char *description) {
        int r;
        if (at_usec == UINT64_MAX)
                return *src ? sd_event_source_set_enabled(*src, SD_EVENT_OFF) : 0;
        if (!*src) {
                r = sd_event_add_time(k->agent->event, src, CLOCK_MONOTONIC, at_usec, TIMER_ACCURACY_USEC, cb, k);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(*src, description);
                return 0;
        }
        r = sd_event_source_set_time(*src, at_usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

static int set_curl_timer(void *userdata, uint64_t timeout_usec) {
        AgentK8s *k = userdata;
        uint64_t at = timeout_usec == UINT64_MAX ? UINT64_MAX : now_monotonic_usec() + timeout_usec;
        int r = arm_timer(k, &k->curl_timer, at, on_curl_timer, "kube-api-timer");
        if (r < 0)
                log_warning("Cannot arm the API client timer: %s", strerror(-r));
        return r;
}

static int on_wakeup(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        k8s_api_after_io(userdata);
        return 0;
}

void k8s_api_rearm(AgentK8s *k) {
        uint64_t at = MIN(pod_watch_next_wakeup(k->watch), kube_evictor_next_wakeup(k->evictor));
        int r = arm_timer(k, &k->wakeup_timer, at, on_wakeup, "kube-retry");
        if (r < 0)
                log_warning("Cannot arm the API retry timer: %s", strerror(-r));
}

void k8s_api_loop_install(AgentK8s *k) {
        KubeLoopHooks hooks = { .watch_socket = watch_socket, .set_timer = set_curl_timer, .userdata = k };
        kube_client_set_loop(k->client, &hooks);
}

void k8s_api_loop_free(AgentK8s *k) {
        for (size_t i = 0; i < k->n_sockets; i++)
                sd_event_source_disable_unref(k->sockets[i].source);
        free(k->sockets);
        k->sockets = NULL;
        k->n_sockets = 0;
        k->curl_timer = sd_event_source_disable_unref(k->curl_timer);
        k->wakeup_timer = sd_event_source_disable_unref(k->wakeup_timer);
}
