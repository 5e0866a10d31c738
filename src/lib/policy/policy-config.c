/* Policy defaults: conservative for online work, sized for small nodes (2 cores) and large ones. */
#include "policy/policy.h"
#include "util/macro.h"

void policy_config_init_defaults(PolicyConfig *c) {
        *c = (PolicyConfig) {
                .cpu_idle = true,
                .cpu_quota = true,
                .cpu_weight = true,
                .memory_limit = true,
                .memory_protect = true,
                .oom_score_adj = true,
                .qos_level = true,
                .eviction = true,
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
                .oom_score_adj_batch = 500,
                .oom_score_adj_best_effort = 1000,
                .online_cpu_weight = 10000,
                .offline_cpu_weight = 1,
        };
}
