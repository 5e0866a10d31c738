/* The node agent (`colo agent`): one Agent object owns all mutable state of the daemon (config,
 * cgroup root, tracker, policy state, evictions, metrics, event sources). The files of
 * src/agent each handle one part of it:
 *   agent.c        lifetime: new / free, configuration load and SIGHUP reload
 *   loop.c         sd-event: signals, the period timer, the coalesced immediate tick, watchdog
 *   tick.c         one control period: collect -> estimate -> decide -> enforce -> evict -> status
 *   estimate.c     the online peak estimate (recent maximum until profiles are available)
 *   evict.c        stopping offline workloads: SIGTERM, SIGKILL after the grace period
 *   psi-watch.c    fast reaction: PSI triggers and memory events wake the loop at once
 *   metrics.c      Prometheus text rendering
 *   http.c         libmicrohttpd on the sd-event loop: /metrics, /status, /healthz
 *   status-file.c  <state_dir>/status.json, replaced atomically after every tick
 *   state-dir.c    the state directory, checked and recreated; the state and subtree locks */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "config/config.h"
#include "policy/policy.h"
#include "standalone/status-doc.h"
#include "util/failure-latch.h"
#include "util/prom-histogram.h"

typedef struct Agent Agent;
typedef struct CgRoot CgRoot;
typedef struct CgGroup CgGroup;
typedef struct Tracker Tracker;
typedef struct AgentHttp AgentHttp;
typedef struct PsiWatch PsiWatch;
typedef struct EnforceState EnforceState;
typedef struct ProfileSet ProfileSet;
typedef struct ProfileSample ProfileSample;
typedef struct AgentK8s AgentK8s;

typedef struct AgentOptions {
        const char *config_path;        /* --config; NULL: /etc/colo/colo.yaml if present, else defaults */
        const char *subtree;            /* --subtree overrides agent.subtree */
        const char *state_dir;          /* --state-dir overrides agent.state_dir */
        bool dry_run;                   /* decide and report, write no cgroup file, signal nothing */
} AgentOptions;

/* The online peak estimate until a predictor takes over: the maximum of the online usage over the
 * last RECENT_PEAK_WINDOW_SEC seconds, kept as one maximum per second in a ring (no allocation). */
#define RECENT_PEAK_WINDOW_SEC 30
typedef struct RecentPeak {
        struct {
                uint64_t second;        /* monotonic second this slot holds; 0 = empty */
                double cpu_cores;
                uint64_t mem_bytes;
        } slots[RECENT_PEAK_WINDOW_SEC];
} RecentPeak;

void recent_peak_push(RecentPeak *p, uint64_t now_usec, double cpu_cores, uint64_t mem_bytes);
OnlineEstimate recent_peak_get(const RecentPeak *p, uint64_t now_usec);

/* estimate.c: the usage profiles (built from prediction.*, loaded from the checkpoint) and the
 * estimate of one period into a->estimate. */
int agent_profiles_start(Agent *a);
void agent_profiles_save(Agent *a);     /* checkpoint now (also at exit) */
void agent_estimate(Agent *a, const NodeSample *s, uint64_t now_usec);

/* One eviction in progress or done. Kept after the workload's group is gone so `colo status` and
 * `colo run` can say why it stopped; dropped after EVICTION_RETAIN_USEC. */
#define EVICTION_RETAIN_USEC (10 * 60 * USEC_PER_SEC)
typedef struct EvictionRecord {
        char name[WORKLOAD_NAME_MAX];
        WorkloadTier tier;
        char path[128];
        char reason[STATUS_REASON_MAX];
        uint64_t started_usec;          /* monotonic, SIGTERM sent */
        uint64_t started_realtime_usec;
        bool signalled;                 /* SIGTERM sent (or, dry run, would have been) */
        bool killed;                    /* SIGKILL sent after the grace period */
        bool finished;                  /* the group is empty (or gone) */
        sd_event_source *kill_timer;
        StatusWorkload last;            /* the workload as last seen, for the status document */
} EvictionRecord;

typedef struct AgentMetrics {
        uint64_t ticks_total;
        uint64_t tick_failures_total;
        PromHistogram tick_duration_seconds;    /* every tick */
        PromHistogram reaction_seconds;         /* fast-reaction event -> budget written */
        uint64_t fast_events_total;
        uint64_t evictions_total[_TIER_MAX];
        uint64_t write_failures_total;
        uint64_t reloads_total, reload_failures_total;
        /* Kubernetes mode: what the Eviction API answered (k8s-evict-report.c). */
        uint64_t k8s_evictions_accepted_total, k8s_evictions_blocked_total, k8s_eviction_conflicts_total,
                k8s_evictions_replaced_total, k8s_evictions_gone_total, k8s_eviction_errors_total;
} AgentMetrics;

typedef struct Agent {
        AgentOptions opts;
        char config_path[256];          /* "" when running on defaults */
        Config config;
        char state_dir[256];
        char subtree[256];
        int state_dir_fd;               /* files in it are opened relative to it, O_NOFOLLOW */
        int lock_fd;                    /* <state_dir>/agent.lock, flocked */
        int subtree_lock_fd;            /* the managed subtree's directory, flocked */
        bool state_dir_lost;            /* deleted and not recreated: logged once */

        sd_event *event;
        sd_event_source *tick_timer;    /* the period */
        sd_event_source *tick_now;      /* defer source: one immediate tick per burst of events */
        sd_event_source *signals[4];

        CgRoot *root;
        Tracker *tracker;
        EnforceState *enforce_state;
        PolicyState policy_state;
        RecentPeak recent_peak;
        ProfileSet *profiles;           /* NULL if it could not be built: recent maximum only */
        ProfileSample *profile_samples; /* per-period buffer, reused */
        size_t profile_samples_cap;
        sd_event_source *checkpoint_timer;
        OnlineEstimate estimate;        /* what the budget is computed from this period */
        OnlineEstimate predicted;       /* the predictor's answer, calibrated or not */
        char estimate_source[64];
        bool has_predicted_peak;        /* estimate comes (at least partly) from the predictor */
        bool cpu_predicted, mem_predicted; /* which resources' estimates do */

        EvictionRecord *evictions;
        size_t n_evictions;

        PsiWatch *psi;
        uint64_t pending_event_usec;    /* monotonic time of the first event not yet acted on; 0 = none */
        uint64_t last_tick_usec;

        AgentHttp *http;
        StatusDoc status;
        char *status_json;              /* the last encoded status document (also served on /status) */
        FailureLatch status_write;      /* status file writes: logged on failing and on recovering only */
        char *metrics_text;             /* the page being rendered; /metrics hands it to the response */
        size_t metrics_size;            /* capacity of metrics_text */
        size_t metrics_last_len;        /* length of the last page rendered, to size the next one */
        AgentMetrics metrics;
        bool ready;                     /* READY=1 sent */
        /* Bit per CgController colo needs that the v2 managed root lacks (agent.c reports each
         * once); with cpu or memory among them isolation is not in force and READY=1 is withheld. */
        unsigned missing_controllers;
        uint64_t write_failures_this_tick;

        AgentK8s *k8s;                  /* Kubernetes mode (k8s-mode.c); NULL in standalone mode */
} Agent;

/* agent.c */
int agent_new(const AgentOptions *opts, Agent **ret);
Agent *agent_free(Agent *a);
static inline void agent_freep(Agent **a) {
        if (*a)
                agent_free(*a);
}
/* SIGHUP: reloads the configuration file; an invalid one keeps the running configuration. */
void agent_reload(Agent *a);

/* loop.c */
int agent_loop_setup(Agent *a);         /* event loop, signals, timers, watchdog */
int agent_run(Agent *a);                /* until SIGTERM/SIGINT; returns the exit code */
void agent_request_tick(Agent *a, uint64_t event_usec); /* from an event: tick now (coalesced) */
int agent_arm_period(Agent *a);         /* (re)arms the period timer after a period change */

/* tick.c */
int agent_tick(Agent *a);
/* The status document's fields both modes share: the plan, the agent and its estimate. */
int agent_status_fill_common(Agent *a, const NodeSample *s, const Plan *plan);

/* k8s-mode.c: kubernetes.enabled. The managed root is kubelet's kubepods cgroup (chosen before
 * it is opened), the workloads are the node's pods from the API server, and agent_tick() hands
 * each period to agent_k8s_tick(). */
void agent_k8s_choose_subtree(Agent *a, bool subtree_option_given);
int agent_k8s_start(Agent *a);          /* after the event loop is set up */
int agent_k8s_tick(Agent *a);
AgentK8s *agent_k8s_free(AgentK8s *k);  /* NULL-safe, returns NULL */

/* evict.c */
void agent_start_eviction(Agent *a, const Eviction *e, size_t workload_index);  /* records it */
void agent_evictions_signal(Agent *a);  /* SIGTERM for new records, once the status says why */
void agent_evictions_update(Agent *a, uint64_t now_usec);       /* finished ones, expiry */
bool agent_is_being_evicted(const Agent *a, const char *name);
void agent_evictions_free(Agent *a);

/* psi-watch.c */
int psi_watch_new(Agent *a, PsiWatch **ret);
PsiWatch *psi_watch_free(PsiWatch *w);
/* Re-arms the v1 memory threshold after the estimate moved; cheap when nothing changed. */
void psi_watch_update(PsiWatch *w, const NodeSample *s);

/* metrics.c: renders into a->metrics_text (allocated when NULL); returns its length or -ENOMEM. */
int agent_render_metrics(Agent *a);
/* Sets up the metrics' histogram buckets (the rest of AgentMetrics starts at zero). */
void agent_metrics_init(AgentMetrics *m);

/* http.c */
int agent_http_start(Agent *a, AgentHttp **ret);
AgentHttp *agent_http_free(AgentHttp *h);

/* status-file.c */
int agent_write_status(Agent *a);

/* state-dir.c. Open: creates the state directory (0755) if missing, refuses one not owned by the
 * agent's uid or writable by group/others or a symlink, and flocks its agent.lock (0600, never
 * through a symlink). Logged; < 0 when the agent must not start. */
int agent_state_dir_open(Agent *a);
void agent_state_dir_close(Agent *a);
/* Before a write: recreates the directory (and retakes its lock) when it was deleted or replaced.
 * 0, or < 0 when it cannot be (logged once until it recovers). */
int agent_state_dir_ensure(Agent *a);
/* Creates name in the state directory for writing, like open(2) (-1 and errno): exclusively,
 * never through a symlink; an old file of that name (a crashed write's) is removed first. */
int agent_state_open_tmp(Agent *a, const char *name);
/* flocks the managed subtree (a->root), so no second agent manages it. Logged. */
int agent_lock_subtree(Agent *a);
