/* The --class/--tier and session options of `colo run` and `colo move`, parsed and checked in one
 * place so both commands accept the same values with the same messages. */
#include <errno.h>
#include <stdio.h>

#include "cli/workload-args.h"

bool workload_args_take(WorkloadArgs *a, int c, const char *arg) {
        switch (c) {
        case 'c': a->class_arg = arg; return true;
        case 't': a->tier_arg = arg; return true;
        case WORKLOAD_OPT_CONFIG: a->session.config_path = arg; return true;
        case WORKLOAD_OPT_SUBTREE: a->session.subtree = arg; return true;
        case WORKLOAD_OPT_STATE_DIR: a->session.state_dir = arg; return true;
        default: return false;
        }
}

int workload_args_placement(const WorkloadArgs *a, const char *verb, WorkloadClass *ret_class,
                            WorkloadTier *ret_tier) {
        if (!a->class_arg) {
                fprintf(stderr, "colo %s: --class online|offline is required\n", verb);
                return -EINVAL;
        }
        WorkloadClass cls = workload_class_from_string(a->class_arg);
        if (cls < 0) {
                fprintf(stderr, "colo %s: unknown class '%s' (online or offline)\n", verb, a->class_arg);
                return -EINVAL;
        }
        WorkloadTier tier = a->tier_arg ? workload_tier_from_string(a->tier_arg) : workload_class_default_tier(cls);
        if (tier < 0 || workload_tier_class(tier) != cls) {
                fprintf(stderr, "colo %s: tier '%s' is not a tier of class %s (%s)\n", verb, a->tier_arg, a->class_arg,
                        cls == CLASS_ONLINE ? "critical, normal" : "batch, best-effort");
                return -EINVAL;
        }
        *ret_class = cls;
        *ret_tier = tier;
        return 0;
}
