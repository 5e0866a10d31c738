/* colo's configuration: one YAML file, parsed and validated completely into a Config before
 * anything uses it. An invalid file yields an error naming the file, line and key, and no Config,
 * so a failed reload leaves the running configuration untouched. Every key and its default is
 * documented in docs/config.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "util/error.h"

typedef struct AgentConfig {
        char cgroup_fs_root[256];       /* agent.cgroup_root_fs: "/sys/fs/cgroup" */
        char cgroup_mode[16];           /* agent.cgroup_mode: "auto" | "v1" | "v2" */
        char subtree[256];              /* agent.subtree: "colo" (relative: below the agent's own cgroup) */
        char state_dir[256];            /* agent.state_dir: "/run/colo" (status file, lock) */
        char offline_placement[16];     /* agent.offline_placement: "top" | "subtree" */
        uint64_t period_usec;           /* agent.period: "1s" */
        bool fast_reaction;             /* agent.fast_reaction: true: PSI triggers and memory events */
        bool own_cpu_group;             /* agent.own_cpu_group: true: a cpu group beside the root at its weight */
        uint64_t psi_trigger_stall_usec;        /* agent.psi_trigger_stall: "100ms" */
        uint64_t psi_trigger_window_usec;       /* agent.psi_trigger_window: "1s" */
        uint64_t cpu_pressure_poll_usec;        /* agent.cpu_pressure_poll: "25ms"; 0 = off */
        uint64_t evict_grace_usec;      /* agent.evict_grace_period: "10s" (SIGTERM, then SIGKILL) */
        char log_level[16];             /* agent.log_level: "info" */
} AgentConfig;

typedef struct MetricsConfig {
        bool enabled;                   /* metrics.enabled: true */
        char listen_address[64];        /* metrics.listen_address: "127.0.0.1" */
        uint16_t port;                  /* metrics.port: 9479 */
} MetricsConfig;

typedef struct PredictionConfig {
        char predictor[64];             /* prediction.predictor: "colo" */
        double cpu_quantile;            /* prediction.cpu_quantile: PREDICTOR_COLO_CPU_QUANTILE (0.8) */
        double memory_quantile;         /* prediction.memory_quantile: PREDICTOR_COLO_STRICT_QUANTILE (0.9925) */
        uint64_t horizon_usec;          /* prediction.horizon: "1h" */
        uint64_t half_life_usec;        /* prediction.half_life: "12h" */
        uint64_t min_history_usec;      /* prediction.min_history: "1h": until then a workload counts at its limit */
        uint64_t checkpoint_interval_usec;      /* prediction.checkpoint_interval: "5m" */
        char checkpoint_path[256];      /* prediction.checkpoint_path: "/var/lib/colo/profiles.ckpt" */
} PredictionConfig;

typedef struct KubernetesConfig {
        bool enabled;                   /* kubernetes.enabled: false (standalone mode) */
        char node_name[256];            /* kubernetes.node_name: "" = $NODE_NAME, else hostname */
        char kubeconfig[256];           /* kubernetes.kubeconfig: "" = in-cluster */
        char cgroup_driver[16];         /* kubernetes.cgroup_driver: "cgroupfs" | "systemd" */
        uint64_t status_update_interval_usec;   /* kubernetes.status_update_interval: "5m" */
        double status_change_threshold; /* kubernetes.status_change_threshold: 0.1 */
        uint64_t stale_after_usec;      /* kubernetes.stale_after: "30s": advertised capacity decays after */
        /* The cap of an offline pod without a limit of that kind (or with a malformed
         * colo.io/original-resources annotation), and every offline pod's pids.max. */
        double offline_pod_default_cpu_cores;   /* kubernetes.offline_pod_default_cpu: 2 */
        uint64_t offline_pod_default_memory;    /* kubernetes.offline_pod_default_memory: "4Gi" */
        uint64_t offline_pod_pids_max;          /* kubernetes.offline_pod_pids_max: 4096 */
} KubernetesConfig;

typedef struct Config {
        AgentConfig agent;
        MetricsConfig metrics;
        PolicyConfig policy;            /* keys under "isolation:" and "features:" */
        PredictionConfig prediction;
        KubernetesConfig kubernetes;
} Config;

/* Fills every field with its documented default. */
/* Offline work goes to a group at the top of the hierarchy (standalone mode with
 * agent.offline_placement top); Kubernetes mode leaves pods where kubelet puts them. */
static inline bool config_offline_at_top(const Config *c) {
        return !c->kubernetes.enabled && strcmp(c->agent.offline_placement, "top") == 0;
}

void config_init_defaults(Config *c);

/* Parses YAML text. filename is used in messages only ("colo.yaml:12: isolation.reserved_cpu: ...").
 * On error *c is unchanged. Unknown keys are errors (a typo must not silently keep a default). */
int config_parse_yaml(const char *text, size_t size, const char *filename, Config *c, ColoError *err);

/* Reads and parses a file: defaults, then the file on top, then config_resolve_devices() on
 * /sys. On error *c is unchanged. */
int config_load_file(const char *path, Config *c, ColoError *err);

/* Resolves the devices of the per-device IO keys (isolation.*_io_max, online_io_latency) to the
 * whole disk's MAJ:MIN: a path is stat()ed, and each device must be a disk of this node under
 * <sys_root>/dev/block and not a partition (the kernel's IO controllers take whole disks only).
 * Errors name filename and the key. I/O: stat() and sysfs, no writes. */
int config_resolve_devices(Config *c, const char *sys_root, const char *filename, ColoError *err);

/* Largest configuration file config_load_file() and config_parse_yaml() accept. */
#define CONFIG_FILE_MAX (1U << 20)
/* Lists and mappings nested deeper than this are refused before the document is built. */
#define CONFIG_DEPTH_MAX 16

/* Parses "1s", "250ms", "5m", "1h", "12h", "2d", "100us" into microseconds; a decimal fraction
 * ("1.5h") is allowed when the result is a whole number of microseconds, and a bare "0" means zero.
 * Returns 0, -EINVAL (syntax, missing unit, negative) or -ERANGE (overflow). */
int config_parse_duration(const char *s, uint64_t *ret_usec);
/* Parses "512Mi", "2Gi", "1G", "100" (bytes) into bytes: K M G T P E are powers of 1000, Ki Mi
 * Gi Ti Pi Ei powers of 1024; "1.5Gi" is allowed when the result is a whole number of bytes.
 * Returns 0, -EINVAL or -ERANGE. */
int config_parse_bytes(const char *s, uint64_t *ret);

/* Canonical text of a duration ("250ms", "12h", "0s") or a byte size ("512Mi", "1000"), in the
 * largest unit that divides it exactly; what the parsers above read back. Returns buf. */
const char *config_format_duration(uint64_t usec, char *buf, size_t size);
const char *config_format_bytes(uint64_t bytes, char *buf, size_t size);

/* The key table, for listings, docs checks and reload diffs. Keys are numbered 0..n-1 in the
 * order of docs/config.md; names are dotted, "isolation.reserved_cpu". */
size_t config_n_keys(void);
const char *config_key_name(size_t i);
/* Looks a dotted name up; returns its index or -ENOENT. */
int config_key_lookup(const char *name);
/* Writes key i's value in c as it would appear in the YAML file ("1s", "true", "\"/run/colo\""),
 * text that parses back to the same value. A buf of CONFIG_VALUE_MAX always suffices. Returns buf. */
#define CONFIG_VALUE_MAX 2048
const char *config_format_key(const Config *c, size_t i, char *buf, size_t size);
/* Writes c as a complete configuration file, every key (for `--print-config` and tests). Returns 0
 * or -EIO. */
int config_write_yaml(const Config *c, FILE *f);
/* Whether key i holds the same value in a and b, and whether every key does (so a reload can
 * tell what changed; compares fields, never padding). */
bool config_key_equal(const Config *a, const Config *b, size_t i);
bool config_equal(const Config *a, const Config *b);
