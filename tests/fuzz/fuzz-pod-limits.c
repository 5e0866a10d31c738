/* Fuzz target of the colo.io/original-resources reader (the annotation is outside input: anyone
 * who may edit the pod writes it). Beyond "no crash, no leak": an accepted annotation stays within
 * the documented bounds; the pod built from its own container names reads the same limits back
 * (or refuses a sum out of range); and the knobs made from any result are knobs the cgroup layer
 * accepts, with memory.high never above memory.max. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/pod-class.h"
#include "k8s/pod-limits.h"

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "fuzz-pod-limits: check failed: %s\n", #cond);  \
                        abort();                                                        \
                }                                                                       \
        } while (0)

static void check_list(const PodOriginalContainer *list, size_t n) {
        CHECK(n <= POD_LIMITS_CONTAINERS_MAX);
        for (size_t i = 0; i < n; i++) {
                CHECK(list[i].name[0] && strlen(list[i].name) < sizeof(list[i].name));
                CHECK(list[i].cpu_limit_milli >= 0 && list[i].cpu_limit_milli <= POD_LIMITS_CPU_MILLI_MAX);
                CHECK(list[i].memory_limit >= 0 && list[i].memory_limit <= POD_LIMITS_MEMORY_MAX);
        }
}

static json_t *pod_with(const PodOriginalResources *o, const char *annotation, size_t size) {
        json_t *spec = json_pack("{s:[], s:[]}", "containers", "initContainers");
        for (size_t l = 0; l < 2 && spec; l++) {
                const PodOriginalContainer *list = l == 0 ? o->containers : o->init_containers;
                size_t n = l == 0 ? o->n_containers : o->n_init_containers;
                json_t *arr = json_object_get(spec, l == 0 ? "containers" : "initContainers");
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(arr, json_pack("{s:s}", "name", list[i].name));
        }
        if (json_array_size(json_object_get(spec, "containers")) == 0)
                json_array_append_new(json_object_get(spec, "containers"), json_pack("{s:s}", "name", "other"));
        return json_pack("{s:{s:{s:s%}}, s:o}", "metadata", "annotations", POD_ORIGINAL_RESOURCES_ANNOTATION,
                         annotation, size, "spec", spec);
}

static void check_knobs(const PodLimits *lim) {
        PodLimitDefaults d = { .cpu_milli = 2000, .memory = 4LL << 30, .pids_max = 4096 };
        CgKnobs k;
        cg_knobs_init(&k);
        pod_limits_knobs(lim, &d, &k);
        CHECK(k.cpu_quota_usec >= POD_LIMITS_CFS_QUOTA_MIN_USEC && k.cpu_quota_usec <= UINT64_C(1) << 44);
        CHECK(k.cpu_period_usec == POD_LIMITS_CFS_PERIOD_USEC);
        CHECK(k.mem_max > 0 && k.mem_high > 0 && k.mem_high <= k.mem_max);
        CHECK(k.pids_max == d.pids_max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PodOriginalResources *o = calloc(1, sizeof(*o));
        CHECK(o);
        ColoError err = {};
        if (pod_limits_parse_annotation((const char *) data, size, o, &err) < 0) {
                CHECK(err.msg[0]);
                check_knobs(NULL);
                free(o);
                return 0;
        }
        check_list(o->containers, o->n_containers);
        check_list(o->init_containers, o->n_init_containers);
        json_t *pod = pod_with(o, (const char *) data, size);
        if (pod) {
                PodLimits lim = { .cpu_milli = -1 };
                int r = pod_limits_from_pod(pod, &lim, &err);
                CHECK(r == 0 || r == -ERANGE);
                if (r == 0) {
                        CHECK(lim.cpu_milli >= 0 && lim.cpu_milli <= POD_LIMITS_CPU_MILLI_MAX);
                        CHECK(lim.memory >= 0 && lim.memory <= POD_LIMITS_MEMORY_MAX);
                        check_knobs(&lim);
                }
                json_decref(pod);
        }
        free(o);
        return 0;
}
