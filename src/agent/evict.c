/* Evictions in standalone mode: the whole offline workload is stopped, SIGTERM to every task
 * first, SIGKILL to whatever is left after agent.evict_grace_period. The record is written to
 * the status file before the first signal goes out (so `colo run` can tell its user why), and
 * kept for EVICTION_RETAIN_USEC after the workload's group is gone. */
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "workloads/tracker.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static EvictionRecord *find_record(const Agent *a, const char *name) {
        for (size_t i = 0; i < a->n_evictions; i++)
                if (strcmp(a->evictions[i].name, name) == 0)
                        return &a->evictions[i];
        return NULL;
}

bool agent_is_being_evicted(const Agent *a, const char *name) {
        EvictionRecord *r = find_record(a, name);
        return r && !r->finished;
}

/* Signals every task of the workload's group. Returns the number signalled or -errno. */
static int signal_group(Agent *a, const EvictionRecord *rec, int sig) {
        ColoError err = {};
        CgGroup *g = NULL;
        int r = cg_group_open(a->root, rec->path, false, &g, &err);
        if (r == -ENOENT)
                return 0;
        if (r >= 0) {
                r = cg_group_kill(g, sig, &err);
                cg_group_free(g);
        }
        if (r < 0)
                log_warning("Failed to send %s to workload '%s': %s", sig == SIGKILL ? "SIGKILL" : "SIGTERM", rec->name,
                            colo_error_msg(&err));
        return r;
}

static int on_grace_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        (void) usec;
        for (size_t i = 0; i < a->n_evictions; i++) {
                EvictionRecord *rec = &a->evictions[i];
                if (rec->kill_timer != s)
                        continue;
                rec->kill_timer = sd_event_source_unref(rec->kill_timer);
                if (rec->finished)
                        return 0;
                int n = signal_group(a, rec, SIGKILL);
                rec->killed = true;
                if (n > 0)
                        log_kv(LOG_WARNING, "evict-kill", "workload=%s tasks=%d grace_seconds=%.1f", rec->name, n,
                               (double) a->config.agent.evict_grace_usec / USEC_PER_SEC);
                return 0;
        }
        return 0;
}

void agent_start_eviction(Agent *a, const Eviction *e, size_t workload_index) {
        TrackedWorkload *w = tracker_get(a->tracker, workload_index);
        if (!w || agent_is_being_evicted(a, e->name))
                return;

        /* A new eviction of a name evicted before replaces the old record. */
        EvictionRecord *rec = find_record(a, e->name);
        if (!rec) {
                EvictionRecord *n = realloc(a->evictions, (a->n_evictions + 1) * sizeof(*n));
                if (!n) {
                        log_error("Out of memory recording the eviction of '%s'; it is not evicted.", e->name);
                        return;
                }
                a->evictions = n;
                rec = &a->evictions[a->n_evictions++];
        } else
                sd_event_source_unref(rec->kill_timer);

        *rec = (EvictionRecord) {
                .tier = w->id.tier,
                .started_usec = now_monotonic_usec(),
                .started_realtime_usec = now_realtime_usec(),
        };
        memcpy(rec->name, w->id.name, sizeof(rec->name));
        memcpy(rec->path, w->id.path, MIN(sizeof(rec->path), sizeof(w->id.path)));
        rec->path[sizeof(rec->path) - 1] = '\0';
        snprintf(rec->reason, sizeof(rec->reason), "%s", e->reason[0] ? e->reason : "memory pressure");
        w->being_evicted = true;
        if (w->id.tier >= 0 && w->id.tier < _TIER_MAX)
                a->metrics.evictions_total[w->id.tier]++;
        log_kv(LOG_WARNING, a->opts.dry_run ? "evict-dry-run" : "evict",
               "workload=%s class=offline tier=%s tasks=%zu memory_working_set=%" PRIu64 " reason=\"%s\"", rec->name,
               workload_tier_to_string(rec->tier), w->usage.nr_tasks, w->usage.mem_working_set, rec->reason);
}

/* Sends SIGTERM for evictions recorded this tick (after the status file says why) and arms
 * their SIGKILL timers. */
void agent_evictions_signal(Agent *a) {
        for (size_t i = 0; i < a->n_evictions; i++) {
                EvictionRecord *rec = &a->evictions[i];
                if (rec->signalled || rec->finished)
                        continue;
                rec->signalled = true;
                if (a->opts.dry_run)
                        continue;
                (void) signal_group(a, rec, SIGTERM);
                int r = sd_event_add_time_relative(a->event, &rec->kill_timer, CLOCK_MONOTONIC,
                                                   a->config.agent.evict_grace_usec, 10 * USEC_PER_MSEC,
                                                   on_grace_expired, a);
                if (r < 0) {
                        log_warning("Failed to arm the SIGKILL timer of '%s': %s; killing now.", rec->name, strerror(-r));
                        (void) signal_group(a, rec, SIGKILL);
                        rec->killed = true;
                }
        }
}

void agent_evictions_update(Agent *a, uint64_t now_usec) {
        size_t keep = 0;
        for (size_t i = 0; i < a->n_evictions; i++) {
                EvictionRecord *rec = &a->evictions[i];
                int idx = tracker_find(a->tracker, rec->name);
                TrackedWorkload *w = idx >= 0 ? tracker_get(a->tracker, (size_t) idx) : NULL;
                if (w && strcmp(w->id.path, rec->path) != 0)
                        w = NULL;       /* moved elsewhere meanwhile: no longer this eviction's group */
                if (!rec->finished && rec->signalled && (!w || w->usage.nr_tasks == 0 || a->opts.dry_run)) {
                        rec->finished = true;
                        rec->kill_timer = sd_event_source_unref(rec->kill_timer);
                        log_kv(LOG_INFO, "evict-done", "workload=%s seconds=%.1f killed=%s", rec->name,
                               (double) (now_usec - MIN(now_usec, rec->started_usec)) / USEC_PER_SEC,
                               rec->killed ? "true" : "false");
                }
                if (w) {
                        w->being_evicted = !rec->finished;
                        rec->last = (StatusWorkload) {
                                .cls = CLASS_OFFLINE,
                                .tier = rec->tier,
                                .cpu_usage_cores = w->cpu_cores,
                                .mem_usage = w->usage.mem_usage,
                                .mem_working_set = w->usage.mem_working_set,
                                .nr_tasks = w->usage.nr_tasks,
                        };
                } else
                        rec->last = (StatusWorkload) { .cls = CLASS_OFFLINE, .tier = rec->tier };
                memcpy(rec->last.name, rec->name, sizeof(rec->last.name));
                memcpy(rec->last.reason, rec->reason, sizeof(rec->last.reason));
                rec->last.state = WORKLOAD_EVICTED;
                rec->last.evicted_realtime_usec = rec->started_realtime_usec;

                /* Drop a finished record once retained long enough, or once a new workload took its name. */
                bool expired = rec->finished && now_usec - MIN(now_usec, rec->started_usec) > EVICTION_RETAIN_USEC;
                bool replaced = rec->finished && idx >= 0 && (!w || w->usage.nr_tasks > 0);
                if (expired || replaced) {
                        sd_event_source_unref(rec->kill_timer);
                        continue;
                }
                a->evictions[keep++] = *rec;
        }
        a->n_evictions = keep;
}

void agent_evictions_free(Agent *a) {
        for (size_t i = 0; i < a->n_evictions; i++)
                sd_event_source_unref(a->evictions[i].kill_timer);
        free(a->evictions);
        a->evictions = NULL;
        a->n_evictions = 0;
}
