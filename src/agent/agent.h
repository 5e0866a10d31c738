/* The node agent (`colo agent`): one Agent object owns all mutable state of the daemon (config,
 * cgroup root, tracker, policy state, evictions, metrics, event sources). One tick serves both
 * modes: the tracker samples the workloads of a workload source (workloads/source.h: the managed
 * tree, or the node's pods), the pure core decides, enforce_apply() writes; what differs by mode
 * is an AgentFront, an operations table agent.c picks at start-up. The files of src/agent each
 * handle one part, and call each other without cycles (agent.c wires the loop's callbacks):
 *   agent.c          lifetime: new / free, configuration load and SIGHUP reload; picks the front
 *   loop.c           sd-event: signals, the period timer, the coalesced immediate tick, watchdog
 *   tick.c           one control period: refresh -> sample -> estimate -> decide -> enforce -> front
 *   standalone-mode.c the standalone front: evictions by signal, empty leaves, its status text
 *   offline-slice.c  standalone on cgroup v2: the idle systemd slice and delegated scope for offline work
 *   k8s-mode.c       the Kubernetes front (k8s-mode.h): API client, Node budget, Eviction API
 *   k8s-pods.c       the node's pods as a workload source, and the plan mapped onto kubelet's tree
 *   k8s-api-loop.c   the API client's curl multi handle on the sd-event loop
 *   estimate.c       the usage profiles behind the online peak estimate (predict/estimate.h)
 *   evict.c          stopping offline workloads: SIGTERM, SIGKILL after the grace period
 *   psi-watch.c      fast reaction: PSI triggers and memory events wake the loop at once
 *   metrics.c        Prometheus text rendering
 *   http.c           libmicrohttpd on the sd-event loop: /metrics, /status, /healthz
 *   status-file.c    <state_dir>/status.json, replaced atomically after every tick
 *   state-dir.c      the state directory, checked and recreated; the state and subtree locks */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "config/config.h"
#include "policy/policy.h"
#include "predict/estimate.h"
#include "status/status-doc.h"
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
typedef struct TrackedWorkload TrackedWorkload;
typedef struct TreeWorkload TreeWorkload;
typedef struct WorkloadSource WorkloadSource;

/* What differs between standalone and Kubernetes mode in one tick (tick.c), as an operations
 * table. Hooks marked optional may be NULL. */
typedef struct AgentFront {
        const char *offline_noun;       /* "work", "pods": "Offline pods squeezed" */
        bool needs_controllers;         /* READY=1 withheld while cpu or memory is missing (v2) */
        /* Optional: before the tracker refreshes (Kubernetes: follow the pod store). */
        void (*begin)(Agent *a, uint64_t now_usec);
        /* Optional: the tracker adopted (added) or dropped a workload. */
        void (*workload_change)(Agent *a, const TreeWorkload *w, bool added);
        /* Whether colo is already stopping this workload (the policy then never picks it again). */
        bool (*being_evicted)(Agent *a, const TrackedWorkload *w);
        /* Optional: the plan as enforce_apply() takes it, when the groups are not colo's own
         * tree: *ret is a new plan the caller frees. */
        int (*transform_plan)(Agent *a, const Plan *plan, Plan **ret);
        /* Optional: after enforce_apply(), with the plan as applied (the transform's, if any). */
        void (*after_apply)(Agent *a, const Plan *applied);
        /* The plan's evictions, after it was applied. */
        void (*evict)(Agent *a, const Plan *plan, uint64_t now_usec);
        /* Optional: after the decision; s and plan NULL when the period has no fresh one. */
        void (*after_decide)(Agent *a, const NodeSample *s, const Plan *plan, uint64_t now_usec);
        /* Adds the front's own parts to the status document (evictions in progress). */
        int (*fill_status)(Agent *a, StatusDoc *d);
        /* Optional: after the status was written. */
        void (*after_status)(Agent *a, uint64_t now_usec);
        /* Optional: last, on every path out of the tick. */
        void (*end)(Agent *a);
        /* The sd_notify STATUS= text, without "STATUS=". */
        void (*describe)(Agent *a, char *buf, size_t size);
        /* Logs the line that goes with READY=1. */
        void (*log_ready)(Agent *a);
} AgentFront;

extern const AgentFront agent_standalone_front;        /* standalone-mode.c */
extern const AgentFront agent_k8s_front;               /* k8s-mode.c */

typedef struct AgentOptions {
        const char *config_path;        /* --config; NULL: /etc/colo/colo.yaml if present, else defaults */
        const char *subtree;            /* --subtree overrides agent.subtree */
        const char *state_dir;          /* --state-dir overrides agent.state_dir */
        bool dry_run;                   /* decide and report, write no cgroup file, signal nothing */
} AgentOptions;

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

/* Knobs the reconcile restored, by file name ("cpu.shares"). */
typedef struct AgentKnobRestored {
        char file[32];
        uint64_t total;
} AgentKnobRestored;

typedef struct AgentMetrics {
        uint64_t ticks_total;
        uint64_t tick_failures_total;
        PromHistogram tick_duration_seconds;    /* every tick */
        PromHistogram reaction_seconds;         /* fast-reaction event -> budget written */
        uint64_t fast_events_total;
        uint64_t evictions_total[_TIER_MAX];
        uint64_t write_failures_total;
        AgentKnobRestored knob_restored[16];
        size_t n_knob_restored;
        uint64_t reloads_total, reload_failures_total;
        /* Kubernetes mode: what the Eviction API answered (k8s-evict-report.c). */
        uint64_t k8s_evictions_accepted_total, k8s_evictions_blocked_total, k8s_eviction_conflicts_total,
                k8s_evictions_replaced_total, k8s_evictions_gone_total, k8s_eviction_errors_total;
        /* systemd driver (systemd-slices.c): unit properties colo had in force, lost and set again;
         * SetUnitProperties calls that failed. */
        uint64_t systemd_restores_total, systemd_failures_total;
} AgentMetrics;

typedef struct Agent {
        AgentOptions opts;
        char config_path[256];          /* "" when running on defaults */
        Config config;
        char state_dir[256];
        char subtree[256];
        char own_leaf_dir[256];         /* v2: the parent of the agent's cgroup and of the subtree; "" if neither */
        char own_leaf_name[256];        /* v2: the agent's cgroup in it: "agent" (moved) or where it runs */
        bool own_group_failed;          /* agent_own_group_hold() said so; quiet until it recovers */
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
        uint64_t write_failures_this_tick;

        AgentK8s *k8s;                  /* Kubernetes mode (k8s-mode.c); NULL in standalone mode */
        /* Standalone mode on v2 under systemd: the offline slice and scope (offline-slice.c); NULL
         * where offline work is not placed there. */
        struct AgentOfflineSlice *offline_slice;        /* typedef below */
        const AgentFront *front;        /* the mode's part of a tick */
        /* Wired by agent.c, so loop.c and psi-watch.c call back without depending on the files
         * that implement them. */
        int (*tick)(Agent *a);
        void (*reload)(Agent *a);
        void (*request_tick)(Agent *a, uint64_t event_usec);
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

/* tick.c: one period, for either front. */
int agent_tick(Agent *a);

/* k8s-mode.c: kubernetes.enabled. The managed root is kubelet's kubepods cgroup (chosen before
 * it is opened), the workloads are the node's pods from the API server. */
void agent_k8s_choose_subtree(Agent *a, bool subtree_option_given);
/* After the event loop is set up; *ret_source: the pods, for the tracker. */
int agent_k8s_start(Agent *a, WorkloadSource *ret_source);
AgentK8s *agent_k8s_free(AgentK8s *k);  /* NULL-safe, returns NULL */

/* offline-slice.c: standalone mode on cgroup v2 under systemd, the units that make offline work
 * idle next to the whole machine (the layout is in src/lib/systemd/offline-units.h), made through
 * systemd's API so that systemd keeps owning the top of the tree, found again and reused by a
 * restarted agent, the slice's CPUWeight=idle held every period against other writers. */
typedef struct AgentOfflineSlice AgentOfflineSlice;
/* Before the managed root is opened: with agent.offline_placement top, standalone mode and a
 * cgroup2 mount, makes or finds the slice, the delegated scope and its holder process. Returns
 * the object for agent_offline_slice_hold() with the scope's directory (from the v2 root) in
 * ret_dir, or NULL: then ret_cause says why, "" when nothing was asked of systemd here (v1, the
 * subtree placement, Kubernetes mode: the cgroup layer knows those). Logs what it made. */
AgentOfflineSlice *agent_offline_slice_ensure(Agent *a, char *ret_dir, size_t dir_size, char *ret_cause,
                                              size_t cause_size);
/* Every period: the slice's CPUWeight back to idle if systemd no longer holds it (set-property). */
void agent_offline_slice_hold(AgentOfflineSlice *o);
AgentOfflineSlice *agent_offline_slice_free(AgentOfflineSlice *o);     /* NULL-safe, returns NULL */

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

/* write-log.c: the dry run's record of writes (agent.opts.dry_run makes the root record-only) and
 * the reconcile's log and count of knobs restored. After the root and the enforce state exist. */
void agent_writes_setup(Agent *a);
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

/* own-group.c: in standalone mode, the agent in a cpu group of its own beside the managed root at
 * the root's weight (v1 "<subtree name>.agent"; v2 its leaf "<own>/agent"). At start and every
 * period; logged, and loudly once when it cannot be had. */
void agent_own_group_hold(Agent *a);
