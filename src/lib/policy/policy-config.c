/* Policy defaults (conservative for online work, sized for small nodes of 2 cores and large ones)
 * and the range check every PolicyConfig passes before use. */
#include <math.h>
#include <string.h>

#include "policy/policy.h"
#include "util/macro.h"

void policy_config_init_defaults(PolicyConfig *c) {
        *c = (PolicyConfig) {
                .cpu_idle = true,
                .cpu_quota = FEATURE_AUTO,
                .cpu_weight = true,
                .root_cpu_weight = true,
                .memory_limit = true,
                .memory_protect = true,
                .memory_throttle = true,
                .pids_limit = true,
                .oom_score_adj = true,
                .qos_level = true,
                .eviction = true,
                .cpu_control = FEATURE_AUTO,
                .io_weight = true,
                .io_throttle = true,
                .io_latency = true,
                .reserved_cpu_cores = 0.1,
                .reserved_mem_bytes = 256ULL << 20,
                .cpu_safety_margin = 0.05,
                .mem_safety_margin = 0.05,
                .min_offline_cpu_cores = 0.05,
                .cpu_period_usec = 100 * USEC_PER_MSEC,
                .mem_free_watermark = 512ULL << 20,
                .mem_psi_squeeze = 10.0,
                .mem_psi_evict = 40.0,
                .evict_cooldown_usec = 30 * USEC_PER_SEC,
                .squeeze_hold_usec = 10 * USEC_PER_SEC,
                .mem_headroom = 128ULL << 20,
                .offline_pids_max = 16384,
                .batch_pids_max = 16384,
                .best_effort_pids_max = 4096,
                .oom_score_adj_batch = 500,
                .oom_score_adj_best_effort = 1000,
                .online_cpu_weight = 10000,
                .offline_cpu_weight = 1,
                .cpu_pressure_target = 1.0,
                .cpu_pressure_release = 0.5,
                .io_pressure_target = 10.0,
                .io_pressure_release = 5.0,
                .cpu_throttle_target = 0.0,
                .cpu_control_floor_cores = 0.1,
                .cpu_control_step_down = 0.5,
                .cpu_control_step_up = 0.2,
                .cpu_control_hold_usec = 2 * USEC_PER_SEC,
                .cpu_evict_periods = 10,
                .cpu_pressure_own_hold_usec = 5 * 60 * USEC_PER_SEC,
                .online_io_weight = 1000,
                .offline_io_weight = 10,
        };
}

static bool is_fraction(double v) {
        return isfinite(v) && v >= 0.0 && v < 1.0;
}

static bool is_amount(double v) {
        return isfinite(v) && v >= 0.0;
}

static bool is_percent(double v) {
        return is_amount(v) && v <= 100.0;
}

static bool is_weight(uint64_t w) {
        return w >= 1 && w <= 10000;
}

static bool is_pids_max(uint64_t v) {
        return v >= 1 && v <= CG_PIDS_MAX;
}

static bool is_oom_score_adj(int32_t v) {
        return v >= -1000 && v <= 1000;
}

/* The CPU interference controller's fields: the first bad one, or NULL. */
static const char *cpu_control_check(const PolicyConfig *c) {
        if (!is_percent(c->cpu_pressure_target))
                return "cpu_pressure_target";
        if (!is_percent(c->cpu_pressure_release) || c->cpu_pressure_release > c->cpu_pressure_target)
                return "cpu_pressure_release";
        if (!is_percent(c->io_pressure_target))
                return "io_pressure_target";
        if (!is_percent(c->io_pressure_release) || c->io_pressure_release > c->io_pressure_target)
                return "io_pressure_release";
        if (!is_percent(c->cpu_throttle_target))
                return "cpu_throttle_target";
        if (!is_amount(c->cpu_control_floor_cores))
                return "cpu_control_floor_cores";
        if (!(c->cpu_control_step_down > 0.0 && c->cpu_control_step_down < 1.0))
                return "cpu_control_step_down";
        if (!(c->cpu_control_step_up > 0.0 && c->cpu_control_step_up <= 1.0))
                return "cpu_control_step_up";
        return NULL;
}

/* Every rule names its device by MAJ:MIN (resolved) and sets something. */
static bool io_rules_valid(const PolicyIoRules *r) {
        if (r->n > CG_IO_LIMITS_MAX)
                return false;
        for (size_t i = 0; i < r->n; i++) {
                const PolicyIoRule *x = &r->rules[i];
                if (!memchr(x->devnum, '\0', sizeof(x->devnum)) || x->devnum[0] == '\0')
                        return false;
                if (x->rbps == 0 || x->wbps == 0 || x->riops == 0 || x->wiops == 0 || x->latency_usec == 0)
                        return false;
        }
        return true;
}

static const char *check_io(const PolicyConfig *c) {
        if (!is_weight(c->online_io_weight))
                return "online_io_weight";
        if (!is_weight(c->offline_io_weight))
                return "offline_io_weight";
        if (!io_rules_valid(&c->offline_io_max))
                return "offline_io_max";
        if (!io_rules_valid(&c->batch_io_max))
                return "batch_io_max";
        if (!io_rules_valid(&c->best_effort_io_max))
                return "best_effort_io_max";
        if (!io_rules_valid(&c->online_io_latency))
                return "online_io_latency";
        return NULL;
}

int policy_config_check(const PolicyConfig *c, const char **ret_field) {
        const char *bad = NULL;

        if (!c)
                bad = "config";
        else if (!is_amount(c->reserved_cpu_cores))
                bad = "reserved_cpu_cores";
        else if (!is_fraction(c->cpu_safety_margin))
                bad = "cpu_safety_margin";
        else if (!is_fraction(c->mem_safety_margin))
                bad = "mem_safety_margin";
        else if (!is_amount(c->min_offline_cpu_cores))
                bad = "min_offline_cpu_cores";
        else if (c->cpu_quota != FEATURE_OFF && c->cpu_quota != FEATURE_ON && c->cpu_quota != FEATURE_AUTO)
                bad = "cpu_quota";
        else if (c->cpu_period_usec < 1000 || c->cpu_period_usec > USEC_PER_SEC)
                bad = "cpu_period_usec";
        else if (!is_amount(c->mem_psi_squeeze) || c->mem_psi_squeeze > 100.0)
                bad = "mem_psi_squeeze";
        else if (!is_amount(c->mem_psi_evict) || c->mem_psi_evict > 100.0)
                bad = "mem_psi_evict";
        else if (!is_oom_score_adj(c->oom_score_adj_batch))
                bad = "oom_score_adj_batch";
        else if (!is_oom_score_adj(c->oom_score_adj_best_effort))
                bad = "oom_score_adj_best_effort";
        else if (!is_weight(c->online_cpu_weight))
                bad = "online_cpu_weight";
        else if (!is_weight(c->offline_cpu_weight))
                bad = "offline_cpu_weight";
        else if (!is_pids_max(c->offline_pids_max))
                bad = "offline_pids_max";
        else if (!is_pids_max(c->batch_pids_max))
                bad = "batch_pids_max";
        else if (!is_pids_max(c->best_effort_pids_max))
                bad = "best_effort_pids_max";
        else if (c->mem_headroom >= CG_UNLIMITED)
                bad = "mem_headroom";
        else
                bad = cpu_control_check(c);
        if (!bad)
                bad = check_io(c);

        if (ret_field)
                *ret_field = bad;
        return bad ? -EINVAL : 0;
}
