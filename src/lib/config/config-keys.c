/* The key table: every configuration key with its field, type, range and checks, in the order of
 * docs/config.md. Parsing, formatting and comparing all go through it, so a key added here is
 * parsed, range-checked, printed and diffed on reload with no other change. Field types are
 * checked at compile time, so a row cannot point at a field of another type. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config-internal.h"
#include "util/macro.h"

#define FIELD_OF(f) (((Config *) 0)->f)
/* Fails to compile (void initialiser) when field f is not of type T. */
#define FIELD(f, T)                                                                             \
        .offset = offsetof(Config, f),                                                          \
        .size = __builtin_choose_expr(__builtin_types_compatible_p(__typeof__(FIELD_OF(f)), T), \
                                      sizeof(FIELD_OF(f)), (void) 0)
#define STRING_FIELD(f)                                                                            \
        .offset = offsetof(Config, f),                                                             \
        .size = __builtin_choose_expr(__builtin_types_compatible_p(__typeof__(FIELD_OF(f)[0]), char), \
                                      sizeof(FIELD_OF(f)), (void) 0)

#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (3600 * USEC_PER_SEC)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)
#define PiB (1ULL << 50)
#define PID_MAX_LIMIT 4194304

#define BOOL(sec, key, f) { .section = sec, .name = key, .dotted = sec "." key, .type = CONFIG_TYPE_BOOL, FIELD(f, bool) }
#define DURATION(sec, key, f, lo, hi) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = CONFIG_TYPE_DURATION, FIELD(f, uint64_t), .min = (lo), .max = (hi) }
#define BYTES(sec, key, f, lo, hi) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = CONFIG_TYPE_BYTES, FIELD(f, uint64_t), .min = (lo), .max = (hi) }
#define DOUBLE(sec, key, t, f, lo, hi) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = t, FIELD(f, double), .min = (lo), .max = (hi) }
#define INTEGER(sec, key, t, T, f, lo, hi) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = t, FIELD(f, T), .min = (lo), .max = (hi) }
#define IO_RULES(sec, key, t, f) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = t, FIELD(f, PolicyIoRules) }
#define STRING(sec, key, f, ...) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = CONFIG_TYPE_STRING, STRING_FIELD(f), __VA_ARGS__ }

static const char *const cgroup_modes[] = { "auto", "v1", "v2", NULL };
static const char *const offline_placements[] = { "top", "subtree", NULL };
static const char *const log_levels[] = { "debug", "info", "notice", "warning", "error", NULL };
static const char *const cgroup_drivers[] = { "cgroupfs", "systemd", NULL };

static bool is_absolute_path(const char *s) {
        return s[0] == '/';
}

/* "colo" or "a/b" (below the agent's own cgroup) or "/colo.slice/colo" (from the hierarchy
 * root); never the root itself, "." or ".." components, or empty ones. */
static bool is_cgroup_subtree(const char *s) {
        const char *p = s[0] == '/' ? s + 1 : s;
        if (*p == '\0')
                return false;
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
                if (*p == '/') {
                        p++;
                        if (*p == '\0')
                                return false;   /* trailing slash */
                }
        }
        return true;
}

static bool is_ip_literal(const char *s) {
        unsigned char addr[16];
        return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* A Kubernetes node name: an RFC 1123 DNS subdomain. */
static bool is_dns_subdomain(const char *s) {
        size_t len = strlen(s);
        if (len == 0 || len > 253)
                return false;
        for (const char *label = s;;) {
                size_t n = strcspn(label, ".");
                if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (!(islower((unsigned char) label[i]) || isdigit((unsigned char) label[i]) || label[i] == '-'))
                                return false;
                if (label[n] == '\0')
                        return true;
                label += n + 1;
        }
}

/* Predictor specs as predictor_new() reads them (predict/predictor.h): a name, or max(a,b,...)
 * of specs. The predict module comes after config in the build, so the grammar is checked here
 * and predictor_new() remains the final word. "oracle" needs the future: simulator only. */
static const char *const predictor_names[] = { "limit", "borg", "nsigma", "koord", "peak", "colo", NULL };
/* predictor.c's bounds (MAX_DEPTH, MAX_CHILDREN): a spec accepted here but refused there would
 * start the agent without usage profiles. fuzz-predictor-spec checks the two agree. */
#define PREDICTOR_MAX_NESTING 4
#define PREDICTOR_MAX_CHILDREN 16

static bool parse_predictor_spec(const char **p, unsigned depth) {
        if (strncmp(*p, "max(", 4) == 0) {
                if (depth >= PREDICTOR_MAX_NESTING)
                        return false;
                *p += 4;
                for (unsigned n = 0;; n++) {
                        while (**p == ' ')
                                (*p)++;
                        if (n == PREDICTOR_MAX_CHILDREN || !parse_predictor_spec(p, depth + 1))
                                return false;
                        while (**p == ' ')
                                (*p)++;
                        if (**p == ')') {
                                (*p)++;
                                return true;
                        }
                        if (**p != ',')
                                return false;
                        (*p)++;
                }
        }
        for (size_t i = 0; predictor_names[i]; i++) {
                size_t n = strlen(predictor_names[i]);
                if (strncmp(*p, predictor_names[i], n) == 0 && !isalnum((unsigned char) (*p)[n]) && (*p)[n] != '_') {
                        *p += n;
                        return true;
                }
        }
        return false;
}

static bool is_predictor_spec(const char *s) {
        const char *p = s;
        return parse_predictor_spec(&p, 0) && *p == '\0';
}

const char *const config_sections[] = {
        "agent", "metrics", "features", "isolation", "prediction", "kubernetes", NULL,
};

const ConfigKey config_keys[] = {
        STRING("agent", "cgroup_root_fs", agent.cgroup_fs_root, .check = is_absolute_path,
               .expected = "an absolute path"),
        STRING("agent", "cgroup_mode", agent.cgroup_mode, .choices = cgroup_modes),
        STRING("agent", "subtree", agent.subtree, .check = is_cgroup_subtree,
               .expected = "a cgroup path such as \"colo\" or \"/colo.slice/colo\" (no \".\", \"..\" or empty parts)"),
        STRING("agent", "state_dir", agent.state_dir, .check = is_absolute_path, .expected = "an absolute path"),
        STRING("agent", "offline_placement", agent.offline_placement, .choices = offline_placements),
        DURATION("agent", "period", agent.period_usec, 10 * USEC_PER_MSEC, 60 * USEC_PER_SEC),
        BOOL("agent", "fast_reaction", agent.fast_reaction),
        BOOL("agent", "own_cpu_group", agent.own_cpu_group),
        DURATION("agent", "psi_trigger_stall", agent.psi_trigger_stall_usec, USEC_PER_MSEC, 10 * USEC_PER_SEC),
        DURATION("agent", "psi_trigger_window", agent.psi_trigger_window_usec, 500 * USEC_PER_MSEC,
                 10 * USEC_PER_SEC),
        DURATION("agent", "cpu_pressure_poll", agent.cpu_pressure_poll_usec, 0, USEC_PER_SEC),
        DURATION("agent", "evict_grace_period", agent.evict_grace_usec, 0, 10 * USEC_PER_MINUTE),
        STRING("agent", "log_level", agent.log_level, .choices = log_levels),

        BOOL("metrics", "enabled", metrics.enabled),
        STRING("metrics", "listen_address", metrics.listen_address, .check = is_ip_literal,
               .expected = "an IPv4 or IPv6 address such as \"127.0.0.1\" or \"::1\""),
        { .section = "metrics", .name = "port", .dotted = "metrics.port", .type = CONFIG_TYPE_PORT, FIELD(metrics.port, uint16_t), .min = 1,
          .max = 65535 },

        BOOL("features", "cpu_idle", policy.cpu_idle),
        { .section = "features", .name = "cpu_quota", .dotted = "features.cpu_quota", .type = CONFIG_TYPE_BOOL_OR_AUTO,
          FIELD(policy.cpu_quota, FeatureMode) },
        BOOL("features", "cpu_weight", policy.cpu_weight),
        BOOL("features", "root_cpu_weight", policy.root_cpu_weight),
        BOOL("features", "memory_limit", policy.memory_limit),
        BOOL("features", "memory_protect", policy.memory_protect),
        BOOL("features", "memory_throttle", policy.memory_throttle),
        BOOL("features", "pids_limit", policy.pids_limit),
        BOOL("features", "oom_score_adj", policy.oom_score_adj),
        BOOL("features", "qos_level", policy.qos_level),
        BOOL("features", "eviction", policy.eviction),
        { .section = "features", .name = "cpu_control", .dotted = "features.cpu_control", .type = CONFIG_TYPE_BOOL_OR_AUTO,
          FIELD(policy.cpu_control, FeatureMode) },
        BOOL("features", "io_weight", policy.io_weight),
        BOOL("features", "io_throttle", policy.io_throttle),
        BOOL("features", "io_latency", policy.io_latency),

        DOUBLE("isolation", "reserved_cpu", CONFIG_TYPE_CORES, policy.reserved_cpu_cores, 0, 1024),
        BYTES("isolation", "reserved_memory", policy.reserved_mem_bytes, 0, PiB),
        DOUBLE("isolation", "cpu_safety_margin", CONFIG_TYPE_FRACTION, policy.cpu_safety_margin, 0, 1),
        DOUBLE("isolation", "memory_safety_margin", CONFIG_TYPE_FRACTION, policy.mem_safety_margin, 0, 1),
        DOUBLE("isolation", "min_offline_cpu", CONFIG_TYPE_CORES, policy.min_offline_cpu_cores, 0, 1024),
        /* The kernel's CFS period bounds. */
        DURATION("isolation", "cpu_period", policy.cpu_period_usec, USEC_PER_MSEC, USEC_PER_SEC),
        BYTES("isolation", "memory_free_watermark", policy.mem_free_watermark, 0, PiB),
        DOUBLE("isolation", "memory_psi_squeeze", CONFIG_TYPE_PERCENT, policy.mem_psi_squeeze, 0, 100),
        DOUBLE("isolation", "memory_psi_evict", CONFIG_TYPE_PERCENT, policy.mem_psi_evict, 0, 100),
        DURATION("isolation", "evict_cooldown", policy.evict_cooldown_usec, 0, USEC_PER_DAY),
        DURATION("isolation", "squeeze_hold", policy.squeeze_hold_usec, 0, USEC_PER_DAY),
        BYTES("isolation", "memory_headroom", policy.mem_headroom, 0, PiB),
        INTEGER("isolation", "oom_score_adj_batch", CONFIG_TYPE_INT32, int32_t, policy.oom_score_adj_batch, -1000, 1000),
        INTEGER("isolation", "oom_score_adj_best_effort", CONFIG_TYPE_INT32, int32_t, policy.oom_score_adj_best_effort,
                -1000, 1000),
        INTEGER("isolation", "online_cpu_weight", CONFIG_TYPE_UINT64, uint64_t, policy.online_cpu_weight, 1, 10000),
        INTEGER("isolation", "offline_cpu_weight", CONFIG_TYPE_UINT64, uint64_t, policy.offline_cpu_weight, 1, 10000),
        INTEGER("isolation", "offline_pids_max", CONFIG_TYPE_UINT64, uint64_t, policy.offline_pids_max, 1, PID_MAX_LIMIT),
        INTEGER("isolation", "batch_pids_max", CONFIG_TYPE_UINT64, uint64_t, policy.batch_pids_max, 1, PID_MAX_LIMIT),
        INTEGER("isolation", "best_effort_pids_max", CONFIG_TYPE_UINT64, uint64_t, policy.best_effort_pids_max, 1, PID_MAX_LIMIT),
        DOUBLE("isolation", "cpu_pressure_target", CONFIG_TYPE_PERCENT, policy.cpu_pressure_target, 0, 100),
        DOUBLE("isolation", "cpu_pressure_release", CONFIG_TYPE_PERCENT, policy.cpu_pressure_release, 0, 100),
        DOUBLE("isolation", "io_pressure_target", CONFIG_TYPE_PERCENT, policy.io_pressure_target, 0, 100),
        DOUBLE("isolation", "io_pressure_release", CONFIG_TYPE_PERCENT, policy.io_pressure_release, 0, 100),
        DOUBLE("isolation", "cpu_throttle_target", CONFIG_TYPE_PERCENT, policy.cpu_throttle_target, 0, 100),
        DOUBLE("isolation", "cpu_control_floor", CONFIG_TYPE_CORES, policy.cpu_control_floor_cores, 0, 1024),
        DOUBLE("isolation", "cpu_control_step_down", CONFIG_TYPE_FRACTION, policy.cpu_control_step_down, 0.01, 0.99),
        DOUBLE("isolation", "cpu_control_step_up", CONFIG_TYPE_FRACTION, policy.cpu_control_step_up, 0.01, 1),
        DURATION("isolation", "cpu_control_hold", policy.cpu_control_hold_usec, 0, USEC_PER_HOUR),
        INTEGER("isolation", "cpu_evict_periods", CONFIG_TYPE_UINT64, uint64_t, policy.cpu_evict_periods, 0, 100000),
        DURATION("isolation", "cpu_pressure_own_hold", policy.cpu_pressure_own_hold_usec, 0, USEC_PER_DAY),
        INTEGER("isolation", "online_io_weight", CONFIG_TYPE_UINT64, uint64_t, policy.online_io_weight, 1, 10000),
        INTEGER("isolation", "offline_io_weight", CONFIG_TYPE_UINT64, uint64_t, policy.offline_io_weight, 1, 10000),
        IO_RULES("isolation", "offline_io_max", CONFIG_TYPE_IO_MAX, policy.offline_io_max),
        IO_RULES("isolation", "batch_io_max", CONFIG_TYPE_IO_MAX, policy.batch_io_max),
        IO_RULES("isolation", "best_effort_io_max", CONFIG_TYPE_IO_MAX, policy.best_effort_io_max),
        IO_RULES("isolation", "online_io_latency", CONFIG_TYPE_IO_LATENCY, policy.online_io_latency),

        STRING("prediction", "predictor", prediction.predictor, .check = is_predictor_spec,
               .expected = "a predictor: limit, borg, nsigma, koord, peak, colo or max(a,b,...) of them"),
        DOUBLE("prediction", "cpu_quantile", CONFIG_TYPE_FRACTION, prediction.cpu_quantile, 0.5, 0.9999),
        DOUBLE("prediction", "memory_quantile", CONFIG_TYPE_FRACTION, prediction.memory_quantile, 0.5, 0.9999),
        DURATION("prediction", "horizon", prediction.horizon_usec, USEC_PER_MINUTE, 7 * USEC_PER_DAY),
        DURATION("prediction", "half_life", prediction.half_life_usec, USEC_PER_MINUTE, 30 * USEC_PER_DAY),
        DURATION("prediction", "min_history", prediction.min_history_usec, 0, 30 * USEC_PER_DAY),
        DURATION("prediction", "checkpoint_interval", prediction.checkpoint_interval_usec, 10 * USEC_PER_SEC,
                 USEC_PER_DAY),
        STRING("prediction", "checkpoint_path", prediction.checkpoint_path, .check = is_absolute_path,
               .allow_empty = true, .expected = "an absolute path, or \"\" for none"),

        BOOL("kubernetes", "enabled", kubernetes.enabled),
        STRING("kubernetes", "node_name", kubernetes.node_name, .check = is_dns_subdomain, .allow_empty = true,
               .expected = "a node name (lowercase DNS name), or \"\" for $NODE_NAME or the hostname"),
        STRING("kubernetes", "kubeconfig", kubernetes.kubeconfig, .check = is_absolute_path, .allow_empty = true,
               .expected = "an absolute path, or \"\" for in-cluster credentials"),
        STRING("kubernetes", "cgroup_driver", kubernetes.cgroup_driver, .choices = cgroup_drivers),
        DURATION("kubernetes", "status_update_interval", kubernetes.status_update_interval_usec, 10 * USEC_PER_SEC,
                 USEC_PER_DAY),
        DOUBLE("kubernetes", "status_change_threshold", CONFIG_TYPE_FRACTION, kubernetes.status_change_threshold, 0,
               1),
        DURATION("kubernetes", "stale_after", kubernetes.stale_after_usec, USEC_PER_SEC, USEC_PER_HOUR),
        /* Bounded below so a default cap always caps (a 0 would read as "no limit"); pids.max by
         * the kernel's PID_MAX_LIMIT. */
        DOUBLE("kubernetes", "offline_pod_default_cpu", CONFIG_TYPE_CORES, kubernetes.offline_pod_default_cpu_cores, 0.01,
               1024),
        BYTES("kubernetes", "offline_pod_default_memory", kubernetes.offline_pod_default_memory, 4ULL << 20, PiB),
        INTEGER("kubernetes", "offline_pod_pids_max", CONFIG_TYPE_UINT64, uint64_t, kubernetes.offline_pod_pids_max, 16, PID_MAX_LIMIT),
};

const size_t config_keys_count = ELEMENTSOF(config_keys);
_Static_assert(ELEMENTSOF(config_keys) <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");

size_t config_n_keys(void) {
        return config_keys_count;
}

const char *config_key_name(size_t i) {
        return i < config_keys_count ? config_keys[i].dotted : NULL;
}

int config_key_lookup(const char *name) {
        for (size_t i = 0; name && i < config_keys_count; i++)
                if (strcmp(config_keys[i].dotted, name) == 0)
                        return (int) i;
        return -ENOENT;
}
