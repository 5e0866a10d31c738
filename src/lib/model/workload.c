/* String tables for classes and tiers. */
#include <string.h>

#include "model/workload.h"
#include "util/macro.h"

static const char *const class_names[_CLASS_MAX] = {
        [CLASS_ONLINE] = "online",
        [CLASS_OFFLINE] = "offline",
};

static const char *const tier_names[_TIER_MAX] = {
        [TIER_CRITICAL] = "critical",
        [TIER_NORMAL] = "normal",
        [TIER_BATCH] = "batch",
        [TIER_BEST_EFFORT] = "best-effort",
};

const char *workload_class_to_string(WorkloadClass c) {
        return c >= 0 && c < _CLASS_MAX ? class_names[c] : NULL;
}

WorkloadClass workload_class_from_string(const char *s) {
        for (int i = 0; s && i < _CLASS_MAX; i++)
                if (strcmp(s, class_names[i]) == 0)
                        return (WorkloadClass) i;
        return _CLASS_INVALID;
}

const char *workload_tier_to_string(WorkloadTier t) {
        return t >= 0 && t < _TIER_MAX ? tier_names[t] : NULL;
}

WorkloadTier workload_tier_from_string(const char *s) {
        for (int i = 0; s && i < _TIER_MAX; i++)
                if (strcmp(s, tier_names[i]) == 0)
                        return (WorkloadTier) i;
        return _TIER_INVALID;
}

WorkloadClass workload_tier_class(WorkloadTier t) {
        switch (t) {
        case TIER_CRITICAL:
        case TIER_NORMAL:
                return CLASS_ONLINE;
        case TIER_BATCH:
        case TIER_BEST_EFFORT:
                return CLASS_OFFLINE;
        default:
                return _CLASS_INVALID;
        }
}

WorkloadTier workload_class_default_tier(WorkloadClass c) {
        return c == CLASS_ONLINE ? TIER_NORMAL : c == CLASS_OFFLINE ? TIER_BATCH : _TIER_INVALID;
}

bool workload_name_is_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n >= WORKLOAD_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.'))
                        return false;
        }
        return true;
}
