/* Fast reaction: instead of waiting up to one period, the agent ticks as soon as
 *   - a PSI trigger fires on /proc/pressure/memory (host) or, on v2, on the online parent's
 *     memory.pressure ("some <stall> <window>", POLLPRI),
 *   - v2: the online parent's memory.events changes (inotify: high/max/oom events),
 *   - v1: the online parent's memory usage crosses a threshold (cgroup.event_control eventfd)
 *     set one step above what online uses now or is estimated to peak at, so growth beyond the
 *     estimate the budget was computed from wakes the agent; re-armed as the estimate moves.
 * Every source only requests a tick; agent_request_tick() coalesces bursts into one. */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "standalone/tracker.h"
#include "standalone/tree.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define THRESHOLD_STEP_MIN (64ULL << 20)
/* A source that fires more often than this is paused by sd-event for the rest of the interval:
 * a flapping threshold or a misbehaving file must not turn the agent into a busy loop. */
#define EVENT_RATELIMIT_INTERVAL_USEC USEC_PER_SEC
#define EVENT_RATELIMIT_BURST 20

typedef struct PsiWatch PsiWatch;

typedef struct PsiSource {
        PsiWatch *owner;
        int fd;
        sd_event_source *src;
        const char *what;
        bool drain;                     /* eventfd / inotify: read to re-arm */
} PsiSource;

struct PsiWatch {
        Agent *agent;
        PsiSource host_psi, online_psi, online_events, online_threshold;
        CgGroup *online;
        uint64_t threshold;             /* armed v1 threshold, 0 = none */
        bool threshold_unsupported;
};

static void source_close(PsiSource *s) {
        s->src = sd_event_source_disable_unref(s->src);
        if (s->fd >= 0)
                (void) close(s->fd);
        s->fd = -1;
}

/* Drops the online parent's sources; watch_online() attaches them again once the group is back. */
static void online_close(PsiWatch *w) {
        source_close(&w->online_psi);
        source_close(&w->online_events);
        source_close(&w->online_threshold);
        w->threshold = 0;
        w->online = cg_group_free(w->online);
}

PsiWatch *psi_watch_free(PsiWatch *w) {
        if (!w)
                return NULL;
        source_close(&w->host_psi);
        online_close(w);
        free(w);
        return NULL;
}

static int on_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PsiSource *src = userdata;
        PsiWatch *w = src->owner;
        (void) s;
        (void) fd;
        /* EPOLLERR: the file's group was removed (a PSI trigger then also reports EPOLLPRI,
         * forever). Tick once, since something changed, and stop watching the dead file. */
        if (revents & (EPOLLERR | EPOLLHUP)) {
                log_warning("Fast-reaction source %s is gone (events 0x%x); re-arming when its group is back.", src->what,
                            revents);
                if (src == &w->host_psi)
                        source_close(src);
                else
                        online_close(w);
                agent_request_tick(w->agent, now_monotonic_usec());
                return 0;
        }
        if (src->drain) {
                char buf[512];
                while (read(src->fd, buf, sizeof(buf)) > 0)
                        ;
        }
        log_debug("Fast-reaction event from %s.", src->what);
        agent_request_tick(w->agent, now_monotonic_usec());
        return 0;
}

/* Adopts fd into src and watches it; closes fd on failure. */
static int source_watch(PsiWatch *w, PsiSource *src, int fd, uint32_t events, const char *what, bool drain) {
        src->owner = w;
        src->fd = fd;
        src->what = what;
        src->drain = drain;
        /* Drained until EAGAIN, so never block the loop on a read. */
        int flags = fcntl(fd, F_GETFL);
        if (drain && (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
                int r = -errno;
                source_close(src);
                return r;
        }
        int r = sd_event_add_io(w->agent->event, &src->src, fd, events, on_event, src);
        if (r < 0) {
                source_close(src);
                return r;
        }
        (void) sd_event_source_set_description(src->src, what);
        (void) sd_event_source_set_priority(src->src, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_ratelimit(src->src, EVENT_RATELIMIT_INTERVAL_USEC, EVENT_RATELIMIT_BURST);
        return 0;
}

static void watch_psi(PsiWatch *w, PsiSource *src, const char *path, const char *what) {
        const AgentConfig *ac = &w->agent->config.agent;
        ColoError err = {};
        int fd = -1;
        int r = cg_psi_trigger_open(path, false, ac->psi_trigger_stall_usec, ac->psi_trigger_window_usec, &fd, &err);
        if (r >= 0)
                r = source_watch(w, src, fd, EPOLLPRI, what, false);
        if (r < 0)
                log_warning("Cannot watch %s ('%s'): %s; reacting at the period only.", what, path,
                               err.code ? colo_error_msg(&err) : strerror(-r));
        else
                log_info("Watching %s: %s.", what, path);
}

/* The online parent appears when the agent creates the tree (not in a dry run on a fresh node),
 * so the v2 sources are attached whenever it is found. */
static void watch_online(PsiWatch *w) {
        if (w->online)
                return;
        Tracker *t = w->agent->tracker;
        if (!t || !tracker_class_group(t, CLASS_ONLINE))
                return;
        if (cg_group_open(w->agent->root, tree_class_path(CLASS_ONLINE), false, &w->online, NULL) < 0) {
                w->online = NULL;
                return;
        }
        char path[512];
        if (cg_group_pressure_path(w->online, "memory", path, sizeof(path)) >= 0)
                watch_psi(w, &w->online_psi, path, "online memory PSI");

        ColoError err = {};
        int fd = -1;
        int r = cg_group_memory_events_fd(w->online, &fd, &err);
        if (r >= 0) {
                r = source_watch(w, &w->online_events, fd, EPOLLIN, "online memory.events", true);
                if (r < 0)
                        log_warning("Cannot watch the online memory.events: %s", strerror(-r));
        } else if (r != -EOPNOTSUPP)
                log_warning("Cannot watch the online memory.events: %s", colo_error_msg(&err));
}

int psi_watch_new(Agent *a, PsiWatch **ret) {
        PsiWatch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->agent = a;
        w->host_psi.fd = w->online_psi.fd = w->online_events.fd = w->online_threshold.fd = -1;
        if (access("/proc/pressure/memory", F_OK) == 0)
                watch_psi(w, &w->host_psi, "/proc/pressure/memory", "host memory PSI");
        else
                log_info("No /proc/pressure/memory (kernel without PSI); memory events only.");
        watch_online(w);
        *ret = w;
        return 0;
}

void psi_watch_update(PsiWatch *w, const NodeSample *s) {
        if (!w)
                return;
        watch_online(w);
        if (!w->online || w->threshold_unsupported)
                return;

        const CgUsage *online = tracker_class_usage(w->agent->tracker, CLASS_ONLINE);
        uint64_t step = MAX(THRESHOLD_STEP_MIN, s->mem_capacity / 50);
        uint64_t base = MAX(online ? online->mem_usage : 0, w->agent->estimate.mem_bytes);
        uint64_t want = base + step;
        if (w->threshold != 0 && want + step / 2 > w->threshold && want < w->threshold + step / 2)
                return;         /* close enough: re-registering costs more than it buys */

        ColoError err = {};
        int fd = -1;
        int r = cg_group_memory_threshold_fd(w->online, want, &fd, &err);
        if (r == -EOPNOTSUPP) {
                w->threshold_unsupported = true;        /* v2: memory.events and PSI cover it */
                return;
        }
        source_close(&w->online_threshold);
        w->threshold = 0;
        if (r >= 0)
                r = source_watch(w, &w->online_threshold, fd, EPOLLIN, "online memory threshold", true);
        if (r < 0) {
                log_warning("Cannot arm the online memory threshold at %" PRIu64 " bytes: %s", want,
                            err.code ? colo_error_msg(&err) : strerror(-r));
                w->threshold_unsupported = true;
                return;
        }
        w->threshold = want;
        log_debug("Online memory threshold armed at %" PRIu64 " bytes.", want);
}
