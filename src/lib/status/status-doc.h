/* The status document: what `colo status` shows and what the agent publishes in
 * <state_dir>/status.json and on /status. Plain structs here; JSON (jansson) only at the edges,
 * encoded by the agent (or by `colo status` for its one-shot snapshot) and decoded by the CLI. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/workload.h"
#include "policy/policy.h"
#include "util/error.h"

#define STATUS_DOC_VERSION 1
#define STATUS_REASON_MAX 256

typedef struct StatusWorkload {
        char name[WORKLOAD_NAME_MAX];
        WorkloadClass cls;
        WorkloadTier tier;
        double cpu_usage_cores;
        uint64_t mem_usage;
        uint64_t mem_working_set;
        uint64_t nr_tasks;
        WorkloadState state;
        char reason[STATUS_REASON_MAX];         /* why squeezed or evicted; "" when running */
        uint64_t evicted_realtime_usec;         /* when colo evicted it; 0 otherwise */
} StatusWorkload;

/* One protection colo puts in force on the node: a controller ("cpu", "memory", "io") or a knob
 * ("cpu.idle"). Where it is not in force, the cgroup it is missing in, why and what to change. */
#define STATUS_PROTECTIONS_MAX 8
typedef struct StatusProtection {
        char name[32];
        bool in_force;
        char cgroup[256];
        char cause[512];
        char fix[384];
} StatusProtection;

typedef struct StatusDoc {
        int64_t agent_pid;                      /* 0: a one-shot snapshot, no agent */
        bool dry_run;
        uint64_t updated_realtime_usec;         /* when this document was made (CLOCK_REALTIME) */
        uint64_t period_usec;
        char subtree[256];                      /* the configured subtree (agent.subtree), resolved against
                                                 * the agent's own cgroups when relative */
        char cgroup_root[512];                  /* the managed subtree, as described by the cgroup layer */
        char cgroup_mode[8];                    /* "v1" / "v2" */

        double cpu_capacity_cores;
        uint64_t mem_capacity;
        uint64_t mem_available;

        double online_cpu_usage_cores;
        uint64_t online_mem_working_set;
        double offline_cpu_usage_cores;
        uint64_t offline_mem_working_set;
        double offline_cpu_budget_cores;
        /* The budget is the offline parent's CPU quota: 1 yes, 0 no, -1 not reported (a document
         * from an agent older than the field). */
        int8_t offline_cpu_quota_enforced;
        uint64_t offline_mem_budget;

        char estimate_source[64];               /* "recent-max-30s", "predictor colo", ... */
        bool has_predicted_peak;                /* a predictor's estimate, not just the recent max */
        double online_estimate_cpu_cores;
        uint64_t online_estimate_mem_bytes;

        bool squeezed;
        char squeeze_reason[STATUS_REASON_MAX];
        uint64_t evictions_total;

        /* Which protections are in force on this node (checked once at start; not checked: a
         * document from an agent older than the field). isolation_in_force: online work is
         * protected (cpu and memory usable). */
        bool protections_checked;
        bool isolation_in_force;
        StatusProtection protections[STATUS_PROTECTIONS_MAX];
        size_t n_protections;

        StatusWorkload *workloads;
        size_t n_workloads;
        size_t workloads_allocated;             /* capacity of workloads, reused from one fill to the next */
} StatusDoc;

/* Frees the workload array and zeroes the document. */
void status_doc_done(StatusDoc *d);

/* Encodes the document as indented JSON into a malloc'd NUL-terminated string. */
int status_doc_to_json(const StatusDoc *d, char **ret, ColoError *err);

/* Decodes a document. Unknown fields are ignored (newer agents may add some); missing or
 * mistyped known fields are errors naming the field. On error *ret is untouched. */
int status_doc_from_json(const char *text, size_t size, StatusDoc *ret, ColoError *err);

/* Makes room for n workloads (keeping the first n_workloads). -ENOMEM. */
int status_doc_reserve(StatusDoc *d, size_t n);

/* Finds a workload by name, or NULL. */
const StatusWorkload *status_doc_find(const StatusDoc *d, const char *name);
