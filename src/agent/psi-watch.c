/* Fast reaction: instead of waiting up to one period, the agent ticks as soon as
 *   - a PSI trigger fires on /proc/pressure/memory (host) or, on v2, on the online parent's
 *     memory.pressure ("some <stall> <window>", POLLPRI),
 *   - with features.cpu_control, a PSI trigger fires on the online parent's cpu.pressure (v2, or
 *     its cgroup2 mirror on hybrid v1), armed so the tick it causes measures the online CPU
 *     pressure above isolation.cpu_pressure_target (see cpu_trigger_stall()); without
 *     CAP_SYS_RESOURCE, where the kernel checks triggers only every 2 s, the agent reads that file
 *     itself every agent.cpu_pressure_poll instead (CpuPoll),
 *   - v2: the online parent's memory.events changes (inotify: high/max/oom events),
 *   - v1: the online parent's memory usage crosses a threshold (cgroup.event_control eventfd)
 *     set one step above what online uses now or is estimated to peak at, so growth beyond the
 *     estimate the budget was computed from wakes the agent; re-armed as the estimate moves.
 * Every source only requests a tick (a->request_tick, loop.c's agent_request_tick()), which
 * coalesces bursts into one. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "workloads/tracker.h"
#include "workloads/tree.h"
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

/* The stand-in for the online CPU trigger where the kernel's would be slow: a timer that reads the
 * online cpu.pressure and does what the trigger does, in user space: a tick when the stall within
 * the last trigger window reaches the trigger's stall, at most once per window. The reads of the
 * last window are kept in a ring (a longer poll interval keeps fewer of them). */
#define CPU_POLL_RING 64
typedef struct CpuPoll {
        PsiWatch *owner;
        int fd;
        sd_event_source *timer;
        struct {
                uint64_t usec, total_usec;
        } ring[CPU_POLL_RING];
        size_t head, n;                 /* ring[head] is the newest of n reads */
        uint64_t last_request_usec;
        bool paused;                    /* offline idle: nothing the controller could take back */
} CpuPoll;

struct PsiWatch {
        Agent *agent;
        PsiSource host_psi, online_psi, online_cpu_psi, online_events, online_threshold;
        CpuPoll cpu_poll;
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

static void cpu_poll_close(CpuPoll *p) {
        p->timer = sd_event_source_disable_unref(p->timer);
        if (p->fd >= 0)
                (void) close(p->fd);
        p->fd = -1;
        p->n = 0;
}

/* Drops the online parent's sources; watch_online() attaches them again once the group is back. */
static void online_close(PsiWatch *w) {
        source_close(&w->online_psi);
        source_close(&w->online_cpu_psi);
        cpu_poll_close(&w->cpu_poll);
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
                w->agent->request_tick(w->agent, now_monotonic_usec());
                return 0;
        }
        if (src->drain) {
                char buf[512];
                while (read(src->fd, buf, sizeof(buf)) > 0)
                        ;
        }
        log_debug("Fast-reaction event from %s.", src->what);
        w->agent->request_tick(w->agent, now_monotonic_usec());
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

static void watch_psi(PsiWatch *w, PsiSource *src, const char *path, const char *what, uint64_t stall_usec,
                      uint64_t window_usec) {
        ColoError err = {};
        int fd = -1;
        int r = cg_psi_trigger_open(path, false, stall_usec, window_usec, &fd, &err);
        if (r >= 0)
                r = source_watch(w, src, fd, EPOLLPRI, what, false);
        if (r < 0)
                log_warning("Cannot watch %s ('%s'): %s; reacting at the period only.", what, path,
                               err.code ? colo_error_msg(&err) : strerror(-r));
        else
                log_info("Watching %s: %s.", what, path);
}

/* The online CPU trigger's window: the kernel's shortest, for the fastest reaction. */
#define CPU_TRIGGER_WINDOW_USEC (500 * USEC_PER_MSEC)

/* The stall that fires the online CPU trigger. The tick it causes measures the stall since the
 * previous sample, up to one period ago: a stall of target x period (plus a fifth, to be clearly
 * above) is above target however long ago that was. At most half the window (the kernel wants the
 * stall below the window), at least 1 ms. */
static uint64_t cpu_trigger_stall(const Agent *a) {
        double stall = a->config.policy.cpu_pressure_target / 100.0 * 1.2 * (double) a->config.agent.period_usec;
        return (uint64_t) MAX((double) USEC_PER_MSEC, MIN(stall, (double) (CPU_TRIGGER_WINDOW_USEC / 2)));
}

/* Whether this process may set PSI triggers with windows under 2 s, which the kernel then checks
 * every window / 10 (CAP_SYS_RESOURCE, bit 24 of CapEff). */
static bool has_cap_sys_resource(void) {
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return false;
        char line[256];
        unsigned long long eff = 0;
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
                found = sscanf(line, "CapEff: %llx", &eff) == 1;
        fclose(f);
        return found && (eff & (1ULL << 24));
}

/* Records one read; returns the stall since the oldest read within the last window. */
static uint64_t cpu_poll_push(CpuPoll *p, uint64_t now, uint64_t total) {
        p->head = (p->head + 1) % CPU_POLL_RING;
        p->ring[p->head].usec = now;
        p->ring[p->head].total_usec = total;
        p->n = MIN(p->n + 1, (size_t) CPU_POLL_RING);
        uint64_t base = total;
        for (size_t i = 1; i < p->n; i++) {
                size_t j = (p->head + CPU_POLL_RING - i) % CPU_POLL_RING;
                if (now - MIN(now, p->ring[j].usec) > CPU_TRIGGER_WINDOW_USEC)
                        break;
                base = p->ring[j].total_usec;
        }
        return total >= base ? total - base : 0;
}

static int on_cpu_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        CpuPoll *p = userdata;
        PsiWatch *w = p->owner;
        Agent *a = w->agent;
        char buf[256];
        CgPressure pr;
        (void) usec;

        ssize_t n = pread(p->fd, buf, sizeof(buf) - 1, 0);
        if (n > 0)
                buf[n] = '\0';
        if (n <= 0 || cg_parse_pressure(buf, &pr) < 0 || !pr.valid) {
                log_warning("Cannot read the online cpu.pressure; polling again when the group is back.");
                online_close(w);
                a->request_tick(a, now_monotonic_usec());
                return 0;
        }
        uint64_t now = now_monotonic_usec();
        uint64_t stall = cpu_poll_push(p, now, pr.some_total_usec);
        if (stall >= cpu_trigger_stall(a) && now - MIN(now, p->last_request_usec) >= CPU_TRIGGER_WINDOW_USEC) {
                p->last_request_usec = now;
                log_debug("Online CPU stall %llu us within the last %llu ms.", (unsigned long long) stall,
                          (unsigned long long) (CPU_TRIGGER_WINDOW_USEC / USEC_PER_MSEC));
                a->request_tick(a, now);
        }
        (void) sd_event_source_set_time_relative(s, a->config.agent.cpu_pressure_poll_usec);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* The poll runs only while offline work uses CPU: with offline idle, online pressure is not
 * offline's doing and the controller has nothing to take back, so the 40 reads a second (most of
 * the poll's cost, about a third of an idle agent's CPU at 200 workloads) wait for the tick that
 * sees offline busy again (at most one period late). */
#define OFFLINE_BUSY_CORES 0.01

static void cpu_poll_set_active(CpuPoll *p, const Agent *a, bool active) {
        if (!p->timer || p->paused == !active)
                return;
        p->paused = !active;
        p->n = 0;               /* the window restarts: a read before the pause is no baseline */
        if (active)
                (void) sd_event_source_set_time_relative(p->timer, a->config.agent.cpu_pressure_poll_usec);
        (void) sd_event_source_set_enabled(p->timer, active ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        log_debug("Online CPU pressure poll %s (offline CPU %s).", active ? "resumed" : "paused",
                  active ? "in use" : "idle");
}

/* The online CPU trigger, or where the kernel would check it only every 2 s, the poll. */
static void watch_online_cpu(PsiWatch *w, const char *path) {
        Agent *a = w->agent;
        uint64_t interval = a->config.agent.cpu_pressure_poll_usec;
        if (interval == 0 || has_cap_sys_resource()) {
                watch_psi(w, &w->online_cpu_psi, path, "online CPU PSI", cpu_trigger_stall(a), CPU_TRIGGER_WINDOW_USEC);
                return;
        }
        CpuPoll *p = &w->cpu_poll;
        p->owner = w;
        p->fd = open(path, O_RDONLY | O_CLOEXEC);
        int r = p->fd < 0 ? -errno :
                sd_event_add_time_relative(a->event, &p->timer, CLOCK_MONOTONIC, interval, USEC_PER_MSEC, on_cpu_poll, p);
        if (r < 0) {
                log_warning("Cannot poll the online CPU pressure ('%s'): %s; reacting at the period only.", path,
                            strerror(-r));
                cpu_poll_close(p);
                return;
        }
        (void) sd_event_source_set_description(p->timer, "online CPU pressure poll");
        /* Normal priority, not important: a poll due again before the loop comes back (an agent
         * starved of CPU by the very online spinners it measures) would otherwise always win
         * the dispatch and starve the period timer and the HTTP endpoint. A stall it sees
         * requests tick_now, which is important. */
        (void) sd_event_source_set_priority(p->timer, SD_EVENT_PRIORITY_NORMAL);
        log_info("Polling the online CPU pressure every %llu ms (no CAP_SYS_RESOURCE: the kernel would check a "
                 "trigger only every 2 s): %s.", (unsigned long long) (interval / USEC_PER_MSEC), path);
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
        const AgentConfig *ac = &w->agent->config.agent;
        char path[512];
        if (cg_group_pressure_path(w->online, "memory", path, sizeof(path)) >= 0)
                watch_psi(w, &w->online_psi, path, "online memory PSI", ac->psi_trigger_stall_usec,
                          ac->psi_trigger_window_usec);
        const PolicyConfig *pc = &w->agent->config.policy;
        /* The same choice of inputs as the controller's (a kernel without cpu.idle has no such file). */
        bool cpu_input = policy_cpu_control_takes_cpu_input(pc, cg_group_has_file(w->online, CG_CTRL_CPU, "cpu.idle"));
        if (cpu_input && pc->cpu_quota != FEATURE_OFF &&
            cg_group_pressure_path(w->online, "cpu", path, sizeof(path)) >= 0)
                watch_online_cpu(w, path);

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
        w->host_psi.fd = w->online_psi.fd = w->online_cpu_psi.fd = w->online_events.fd = w->online_threshold.fd = -1;
        w->cpu_poll.fd = -1;
        const AgentConfig *ac = &a->config.agent;
        if (access("/proc/pressure/memory", F_OK) == 0)
                watch_psi(w, &w->host_psi, "/proc/pressure/memory", "host memory PSI", ac->psi_trigger_stall_usec,
                          ac->psi_trigger_window_usec);
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
        cpu_poll_set_active(&w->cpu_poll, w->agent, s->offline_cpu_usage >= OFFLINE_BUSY_CORES);
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
