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
#define STRING(sec, key, f, ...) \
        { .section = sec, .name = key, .dotted = sec "." key, .type = CONFIG_TYPE_STRING, STRING_FIELD(f), __VA_ARGS__ }

static const char *const cgroup_modes[] = { "auto", "v1", "v2", NULL };
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
        DURATION("agent", "period", agent.period_usec, 10 * USEC_PER_MSEC, 60 * USEC_PER_SEC),
        BOOL("agent", "fast_reaction", agent.fast_reaction),
        DURATION("agent", "psi_trigger_stall", agent.psi_trigger_stall_usec, USEC_PER_MSEC, 10 * USEC_PER_SEC),
        DURATION("agent", "psi_trigger_window", agent.psi_trigger_window_usec, 500 * USEC_PER_MSEC,
                 10 * USEC_PER_SEC),
        DURATION("agent", "evict_grace_period", agent.evict_grace_usec, 0, 10 * USEC_PER_MINUTE),
        STRING("agent", "log_level", agent.log_level, .choices = log_levels),

        BOOL("metrics", "enabled", metrics.enabled),
        STRING("metrics", "listen_address", metrics.listen_address, .check = is_ip_literal,
               .expected = "an IPv4 or IPv6 address such as \"127.0.0.1\" or \"::1\""),
        { .section = "metrics", .name = "port", .dotted = "metrics.port", .type = CONFIG_TYPE_PORT, FIELD(metrics.port, uint16_t), .min = 1,
          .max = 65535 },

        BOOL("features", "cpu_idle", policy.cpu_idle),
        { .section = "features", .name = "cpu_quota", .dotted = "features.cpu_quota", .type = CONFIG_TYPE_BOOL_OR_AUTO,
          FIELD(policy.cpu_quota, CpuQuotaMode) },
        BOOL("features", "cpu_weight", policy.cpu_weight),
        BOOL("features", "memory_limit", policy.memory_limit),
        BOOL("features", "memory_protect", policy.memory_protect),
        BOOL("features", "memory_throttle", policy.memory_throttle),
        BOOL("features", "pids_limit", policy.pids_limit),
        BOOL("features", "oom_score_adj", policy.oom_score_adj),
        BOOL("features", "qos_level", policy.qos_level),
        BOOL("features", "eviction", policy.eviction),

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

/* YAML double-quoted text of s: \" \\ and \xNN escapes. With max_chars, cut with "..." past it;
 * always cut (never overflowing) when buf is too small. */
static const char *quote(const char *s, size_t len, size_t max_chars, char *buf, size_t size) {
        size_t o = 0;
        if (size < 8) {
                if (size)
                        buf[0] = '\0';
                return buf;
        }
        buf[o++] = '"';
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) s[i];
                char piece[8];
                if (ch == '"' || ch == '\\')
                        snprintf(piece, sizeof(piece), "\\%c", ch);
                else if (ch < 0x20 || ch == 0x7f)
                        snprintf(piece, sizeof(piece), "\\x%02x", ch);
                else
                        snprintf(piece, sizeof(piece), "%c", ch);
                size_t n = strlen(piece);
                if ((max_chars && i >= max_chars) || o + n + 5 > size) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                memcpy(buf + o, piece, n);
                o += n;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
}

const char *config_quote(const char *s, size_t len, char *buf, size_t size) {
        return quote(s, len, 60, buf, size);
}

typedef struct TypeInfo {
        const char *noun;       /* "a duration" */
        const char *examples;   /* "250ms, 1s, 5m" */
} TypeInfo;

static const TypeInfo type_info[_CONFIG_TYPE_MAX] = {
        [CONFIG_TYPE_BOOL] = { "a boolean", "true/false, yes/no, on/off" },
        [CONFIG_TYPE_BOOL_OR_AUTO] = { "a boolean or auto", "true/false, yes/no, on/off, auto" },
        [CONFIG_TYPE_STRING] = { "a string", NULL },
        [CONFIG_TYPE_DURATION] = { "a duration", "e.g. 250ms, 1s, 5m, 12h, 2d" },
        [CONFIG_TYPE_BYTES] = { "a size", "e.g. 512Mi, 2Gi, 1G or a number of bytes" },
        [CONFIG_TYPE_CORES] = { "a number of cores", "e.g. 0.5 or 500m" },
        [CONFIG_TYPE_FRACTION] = { "a fraction", "e.g. 0.05 or 5%" },
        [CONFIG_TYPE_PERCENT] = { "a percentage", "e.g. 10 or 10%" },
        [CONFIG_TYPE_INT32] = { "an integer", NULL },
        [CONFIG_TYPE_UINT64] = { "an integer", NULL },
        [CONFIG_TYPE_PORT] = { "a port number", NULL },
};

const char *config_type_noun(ConfigType t) {
        return t >= 0 && t < _CONFIG_TYPE_MAX ? type_info[t].noun : "a value";
}

/* Shortest fixed-point text that reads back as exactly v (no exponent: the parser takes none).
 * 17 significant digits always read back, so the loop ends by then; tiny values need their
 * leading zeros on top (at most ~340 characters for the smallest subnormal). */
static const char *format_double(double v, char *buf, size_t size) {
        int leading_zeros = v != 0 && fabs(v) < 1 ? (int) -floor(log10(fabs(v))) : 0;
        for (int prec = 0; prec <= 17 + leading_zeros; prec++) {
                snprintf(buf, size, "%.*f", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        return buf;
}

static const char *format_number(const ConfigKey *k, double v, char *buf, size_t size) {
        switch (k->type) {
        case CONFIG_TYPE_DURATION:
                return config_format_duration((uint64_t) v, buf, size);
        case CONFIG_TYPE_BYTES:
                return config_format_bytes((uint64_t) v, buf, size);
        default:
                return format_double(v, buf, size);
        }
}

/* "expected a duration (e.g. 250ms, 1s), got "x"" or, with a range, "expected a duration
 * between 10ms and 60s, got "5ms"". */
static int reason_expected(const ConfigKey *k, const char *s, bool range, char *buf, size_t size,
                           const char **ret_reason) {
        char got[96], lo[64], hi[64];
        const TypeInfo *t = &type_info[k->type];
        config_quote(s, strlen(s), got, sizeof(got));
        if (range)
                snprintf(buf, size, "expected %s between %s and %s, got %s", t->noun,
                         format_number(k, k->min, lo, sizeof(lo)), format_number(k, k->max, hi, sizeof(hi)), got);
        else if (t->examples)
                snprintf(buf, size, "expected %s (%s), got %s", t->noun, t->examples, got);
        else
                snprintf(buf, size, "expected %s, got %s", t->noun, got);
        *ret_reason = buf;
        return range ? -ERANGE : -EINVAL;
}

/* A number with an optional suffix that scales it: "500m" cores, "5%" fraction, "10%" percent. */
static int parse_scaled_double(const char *s, const char *suffix, double scale, double *ret) {
        size_t len = strlen(s), n = strlen(suffix);
        if (len > n && strcmp(s + len - n, suffix) == 0) {
                char num[128];
                if (len - n >= sizeof(num))
                        return -EINVAL;
                memcpy(num, s, len - n);
                num[len - n] = '\0';
                double v;
                int r = config_parse_decimal(num, &v);
                if (r < 0)
                        return r;
                *ret = v * scale;
                return 0;
        }
        return config_parse_decimal(s, ret);
}

/* C0 and DEL, C1 (U+0080..U+009F, UTF-8 C2 80..C2 9F) and the Unicode line and paragraph
 * separators (U+2028, U+2029): none belongs in a path or a name, and YAML folds some of them. */
static bool is_control_at(const char *s, size_t len, size_t i) {
        const unsigned char *u = (const unsigned char *) s;
        if (u[i] < 0x20 || u[i] == 0x7f)
                return true;
        if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
                return true;
        return u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9);
}

static int parse_string(const ConfigKey *k, const char *s, Config *c, char *buf, size_t size,
                        const char **ret_reason) {
        size_t len = strlen(s);
        char got[96];

        if (len >= k->size) {
                snprintf(buf, size, "longer than %zu characters (%zu given)", k->size - 1, len);
                *ret_reason = buf;
                return -ENAMETOOLONG;
        }
        for (size_t i = 0; i < len; i++)
                if (is_control_at(s, len, i)) {
                        snprintf(buf, size, "control characters are not allowed, got %s",
                                 config_quote(s, len, got, sizeof(got)));
                        *ret_reason = buf;
                        return -EINVAL;
                }
        if (!(len == 0 && k->allow_empty)) {
                if (k->choices) {
                        bool found = false;
                        size_t o = (size_t) snprintf(buf, size, "expected one of ");
                        for (size_t i = 0; k->choices[i]; i++) {
                                found = found || strcmp(s, k->choices[i]) == 0;
                                if (o < size)
                                        o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? ", " : "", k->choices[i]);
                        }
                        if (!found) {
                                if (o < size)
                                        snprintf(buf + o, size - o, ", got %s", config_quote(s, len, got, sizeof(got)));
                                *ret_reason = buf;
                                return -EINVAL;
                        }
                }
                if ((k->check && !k->check(s)) || (len == 0 && !k->choices)) {
                        snprintf(buf, size, "expected %s, got %s", k->expected ? k->expected : "a non-empty string",
                                 config_quote(s, len, got, sizeof(got)));
                        *ret_reason = buf;
                        return -EINVAL;
                }
        }
        memcpy(config_key_field(k, c), s, len + 1);
        return 0;
}

int config_key_parse(const ConfigKey *k, const char *s, Config *c, char *buf, size_t size, const char **ret_reason) {
        void *field = config_key_field(k, c);
        uint64_t u;
        int64_t i;
        double d;
        bool b;
        int r;

        switch (k->type) {
        case CONFIG_TYPE_BOOL:
                if (config_parse_bool(s, &b) < 0)
                        return reason_expected(k, s, false, buf, size, ret_reason);
                *(bool *) field = b;
                return 0;

        case CONFIG_TYPE_BOOL_OR_AUTO:
                if (strcasecmp(s, "auto") == 0)
                        *(CpuQuotaMode *) field = CPU_QUOTA_AUTO;
                else if (config_parse_bool(s, &b) >= 0)
                        *(CpuQuotaMode *) field = b ? CPU_QUOTA_ON : CPU_QUOTA_OFF;
                else
                        return reason_expected(k, s, false, buf, size, ret_reason);
                return 0;

        case CONFIG_TYPE_STRING:
                return parse_string(k, s, c, buf, size, ret_reason);

        case CONFIG_TYPE_DURATION:
        case CONFIG_TYPE_BYTES:
                r = k->type == CONFIG_TYPE_DURATION ? config_parse_duration(s, &u) : config_parse_bytes(s, &u);
                if (r < 0 || (double) u < k->min || (double) u > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                *(uint64_t *) field = u;
                return 0;

        case CONFIG_TYPE_CORES:
        case CONFIG_TYPE_FRACTION:
        case CONFIG_TYPE_PERCENT:
                if (k->type == CONFIG_TYPE_CORES)
                        r = parse_scaled_double(s, "m", 0.001, &d);
                else if (k->type == CONFIG_TYPE_FRACTION)
                        r = parse_scaled_double(s, "%", 0.01, &d);
                else
                        r = parse_scaled_double(s, "%", 1.0, &d);
                if (r < 0 || d < k->min || d > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                *(double *) field = d;
                return 0;

        case CONFIG_TYPE_INT32:
                r = config_parse_int64(s, &i);
                if (r < 0 || (double) i < k->min || (double) i > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                *(int32_t *) field = (int32_t) i;
                return 0;

        case CONFIG_TYPE_UINT64:
        case CONFIG_TYPE_PORT:
                r = config_parse_uint64(s, &u);
                if (r < 0 && s[0] == '-' && config_parse_int64(s, &i) >= 0)
                        r = -ERANGE;    /* "-1": a number, out of range */
                if (r < 0 || (double) u < k->min || (double) u > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                if (k->type == CONFIG_TYPE_PORT)
                        *(uint16_t *) field = (uint16_t) u;
                else
                        *(uint64_t *) field = u;
                return 0;

        default:
                *ret_reason = "internal error: unknown key type";
                return -EINVAL;
        }
}

double config_key_number(const ConfigKey *k, const Config *c) {
        const void *field = config_key_field_const(k, c);
        switch (k->type) {
        case CONFIG_TYPE_BOOL:
                return *(const bool *) field;
        case CONFIG_TYPE_BOOL_OR_AUTO:
                return *(const CpuQuotaMode *) field;
        case CONFIG_TYPE_DURATION:
        case CONFIG_TYPE_BYTES:
        case CONFIG_TYPE_UINT64:
                return (double) *(const uint64_t *) field;
        case CONFIG_TYPE_CORES:
        case CONFIG_TYPE_FRACTION:
        case CONFIG_TYPE_PERCENT:
                return *(const double *) field;
        case CONFIG_TYPE_INT32:
                return *(const int32_t *) field;
        case CONFIG_TYPE_PORT:
                return *(const uint16_t *) field;
        default:
                return NAN;
        }
}

const char *config_format_key(const Config *c, size_t i, char *buf, size_t size) {
        if (!buf || size == 0)
                return buf;
        buf[0] = '\0';
        if (i >= config_keys_count)
                return buf;
        const ConfigKey *k = &config_keys[i];
        const void *field = config_key_field_const(k, c);
        switch (k->type) {
        case CONFIG_TYPE_BOOL:
                snprintf(buf, size, "%s", *(const bool *) field ? "true" : "false");
                break;
        case CONFIG_TYPE_BOOL_OR_AUTO: {
                CpuQuotaMode m = *(const CpuQuotaMode *) field;
                snprintf(buf, size, "%s", m == CPU_QUOTA_AUTO ? "auto" : m == CPU_QUOTA_ON ? "true" : "false");
                break;
        }
        case CONFIG_TYPE_STRING:
                quote(field, strnlen(field, k->size), 0, buf, size);
                break;
        case CONFIG_TYPE_DURATION:
                config_format_duration(*(const uint64_t *) field, buf, size);
                break;
        case CONFIG_TYPE_BYTES:
                config_format_bytes(*(const uint64_t *) field, buf, size);
                break;
        case CONFIG_TYPE_INT32:
                snprintf(buf, size, "%" PRId32, *(const int32_t *) field);
                break;
        case CONFIG_TYPE_UINT64:
                snprintf(buf, size, "%" PRIu64, *(const uint64_t *) field);
                break;
        case CONFIG_TYPE_PORT:
                snprintf(buf, size, "%u", (unsigned) *(const uint16_t *) field);
                break;
        default:
                format_double(*(const double *) field, buf, size);
                break;
        }
        return buf;
}

bool config_key_equal(const Config *a, const Config *b, size_t i) {
        if (i >= config_keys_count)
                return false;
        const ConfigKey *k = &config_keys[i];
        const void *fa = config_key_field_const(k, a), *fb = config_key_field_const(k, b);
        switch (k->type) {
        case CONFIG_TYPE_STRING:
                return strncmp(fa, fb, k->size) == 0;
        case CONFIG_TYPE_CORES:
        case CONFIG_TYPE_FRACTION:
        case CONFIG_TYPE_PERCENT:
                return *(const double *) fa == *(const double *) fb;
        default:
                return memcmp(fa, fb, k->size) == 0;
        }
}

bool config_equal(const Config *a, const Config *b) {
        for (size_t i = 0; i < config_keys_count; i++)
                if (!config_key_equal(a, b, i))
                        return false;
        return true;
}

int config_write_yaml(const Config *c, FILE *f) {
        const char *section = NULL;
        for (size_t i = 0; i < config_keys_count; i++) {
                char value[CONFIG_VALUE_MAX];
                if (!section || strcmp(section, config_keys[i].section) != 0) {
                        section = config_keys[i].section;
                        if (fprintf(f, "%s%s:\n", i ? "\n" : "", section) < 0)
                                return -EIO;
                }
                if (fprintf(f, "  %s: %s\n", config_keys[i].name, config_format_key(c, i, value, sizeof(value))) < 0)
                        return -EIO;
        }
        return fflush(f) == 0 ? 0 : -EIO;
}
