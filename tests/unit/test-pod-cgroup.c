/* Pod cgroup paths for both kubelet drivers, the three runtimes, v1 and v2 hierarchies, and the
 * mapping of a real policy plan onto kubelet's tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/pod-cgroup.h"
#include "policy/policy.h"

#define UID "0f3c2a1e-7b4d-4c55-9a10-3e2b1c0d9f88"
#define UID_ "0f3c2a1e_7b4d_4c55_9a10_3e2b1c0d9f88"
#define CID "4b8a7c1f0e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccd"

static void test_pod_paths_cgroupfs_and_systemd(void **state) {
        (void) state;
        static const struct {
                KubeCgroupDriver d;
                KubeQosClass q;
                const char *want;
        } cases[] = {
                { KUBE_CGROUP_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, "pod" UID },
                { KUBE_CGROUP_DRIVER_CGROUPFS, KUBE_QOS_BURSTABLE, "burstable/pod" UID },
                { KUBE_CGROUP_DRIVER_CGROUPFS, KUBE_QOS_BEST_EFFORT, "besteffort/pod" UID },
                { KUBE_CGROUP_DRIVER_SYSTEMD, KUBE_QOS_GUARANTEED, "kubepods-pod" UID_ ".slice" },
                { KUBE_CGROUP_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE,
                  "kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice" },
                { KUBE_CGROUP_DRIVER_SYSTEMD, KUBE_QOS_BEST_EFFORT,
                  "kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[POD_CGROUP_PATH_MAX];
                int r = pod_cgroup_pod_path(cases[i].d, cases[i].q, UID, buf, sizeof(buf));
                assert_int_equal(r, (int) strlen(cases[i].want));
                assert_string_equal(buf, cases[i].want);
        }
        assert_string_equal(pod_cgroup_kubepods_name(KUBE_CGROUP_DRIVER_CGROUPFS), "kubepods");
        assert_string_equal(pod_cgroup_kubepods_name(KUBE_CGROUP_DRIVER_SYSTEMD), "kubepods.slice");
}

static void test_qos_paths(void **state) {
        (void) state;
        char buf[64];
        assert_int_equal(pod_cgroup_qos_path(KUBE_CGROUP_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
        assert_true(pod_cgroup_qos_path(KUBE_CGROUP_DRIVER_CGROUPFS, KUBE_QOS_BEST_EFFORT, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "besteffort");
        assert_true(pod_cgroup_qos_path(KUBE_CGROUP_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "kubepods-burstable.slice");
        assert_int_equal(pod_cgroup_qos_path(KUBE_CGROUP_DRIVER_SYSTEMD, _KUBE_QOS_INVALID, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(pod_cgroup_qos_path(KUBE_CGROUP_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE, buf, 5), -ENOBUFS);
}

static void test_container_paths_per_runtime(void **state) {
        (void) state;
        static const struct {
                const char *container_id;
                KubeCgroupDriver d;
                const char *want;
        } cases[] = {
                { "containerd://" CID, KUBE_CGROUP_DRIVER_CGROUPFS, "burstable/pod" UID "/" CID },
                { "cri-o://" CID, KUBE_CGROUP_DRIVER_CGROUPFS, "burstable/pod" UID "/crio-" CID },
                { "docker://" CID, KUBE_CGROUP_DRIVER_CGROUPFS, "burstable/pod" UID "/" CID },
                { "containerd://" CID, KUBE_CGROUP_DRIVER_SYSTEMD,
                  "kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID ".scope" },
                { "cri-o://" CID, KUBE_CGROUP_DRIVER_SYSTEMD,
                  "kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-" CID ".scope" },
                { "docker://" CID, KUBE_CGROUP_DRIVER_SYSTEMD,
                  "kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/docker-" CID ".scope" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                KubeRuntime rt;
                char id[CONTAINER_ID_MAX], buf[POD_CGROUP_PATH_MAX];
                assert_int_equal(kube_container_id_parse(cases[i].container_id, &rt, id, sizeof(id)), 0);
                assert_string_equal(id, CID);
                assert_true(pod_cgroup_container_path(cases[i].d, KUBE_QOS_BURSTABLE, UID, rt, id, buf, sizeof(buf)) > 0);
                assert_string_equal(buf, cases[i].want);
        }
}

static void test_container_id_rejects_bad_input(void **state) {
        (void) state;
        static const char *const bad[] = {
                "", "containerd:/abc", "rkt://abc", "containerd://", "containerd://../etc",
                "containerd://abc/def", "docker://a b", "://abc",
        };
        char id[CONTAINER_ID_MAX];
        KubeRuntime rt = _KUBE_RUNTIME_INVALID;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(kube_container_id_parse(bad[i], &rt, id, sizeof(id)), -EINVAL);
        assert_int_equal(rt, _KUBE_RUNTIME_INVALID);    /* untouched on failure */
        assert_int_equal(kube_container_id_parse("docker://abcdef", &rt, id, 4), -ENOBUFS);
        assert_int_equal(kube_container_id_parse("docker://abcdef", &rt, id, sizeof(id)), 0);
        assert_int_equal(rt, KUBE_RUNTIME_DOCKER);
}

static void test_pod_uid_validation(void **state) {
        (void) state;
        char buf[POD_CGROUP_PATH_MAX];
        assert_true(pod_uid_is_valid(UID));
        assert_false(pod_uid_is_valid(""));
        assert_false(pod_uid_is_valid("../x"));
        assert_false(pod_uid_is_valid("a/b"));
        assert_false(pod_uid_is_valid(NULL));
        assert_int_equal(pod_cgroup_pod_path(KUBE_CGROUP_DRIVER_CGROUPFS, KUBE_QOS_BURSTABLE, "a/../b", buf, sizeof(buf)),
                         -EINVAL);
        assert_int_equal(pod_cgroup_pod_path(_KUBE_CGROUP_DRIVER_INVALID, KUBE_QOS_BURSTABLE, UID, buf, sizeof(buf)),
                         -EINVAL);
}

static void test_hierarchy_paths_v1_v2(void **state) {
        (void) state;
        char buf[512];
        assert_true(pod_cgroup_hierarchy_path("/sys/fs/cgroup", CG_MODE_V2, NULL, "kubepods", "besteffort/pod" UID, buf,
                                              sizeof(buf)) > 0);
        assert_string_equal(buf, "/sys/fs/cgroup/kubepods/besteffort/pod" UID);
        assert_true(pod_cgroup_hierarchy_path("/sys/fs/cgroup/", CG_MODE_V1, "memory", "/kubepods.slice/",
                                              "kubepods-besteffort.slice", buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "/sys/fs/cgroup/memory/kubepods.slice/kubepods-besteffort.slice");
        assert_true(pod_cgroup_hierarchy_path("/sys/fs/cgroup", CG_MODE_V1, "cpu,cpuacct", "kubepods", "", buf,
                                              sizeof(buf)) > 0);
        assert_string_equal(buf, "/sys/fs/cgroup/cpu,cpuacct/kubepods");
        assert_int_equal(pod_cgroup_hierarchy_path("/sys/fs/cgroup", CG_MODE_V1, NULL, "kubepods", "", buf, sizeof(buf)),
                         -EINVAL);
        assert_int_equal(pod_cgroup_hierarchy_path("/sys/fs/cgroup", CG_MODE_V2, NULL, "kubepods", "x", buf, 10),
                         -ENOBUFS);
}

static void test_driver_and_qos_names(void **state) {
        (void) state;
        assert_int_equal(kube_cgroup_driver_from_string("systemd"), KUBE_CGROUP_DRIVER_SYSTEMD);
        assert_int_equal(kube_cgroup_driver_from_string("cgroupfs"), KUBE_CGROUP_DRIVER_CGROUPFS);
        assert_int_equal(kube_cgroup_driver_from_string("Systemd"), _KUBE_CGROUP_DRIVER_INVALID);
        assert_int_equal(kube_qos_class_from_string("BestEffort"), KUBE_QOS_BEST_EFFORT);
        assert_int_equal(kube_qos_class_from_string("besteffort"), _KUBE_QOS_INVALID);
        assert_string_equal(kube_qos_class_to_string(KUBE_QOS_BURSTABLE), "Burstable");
        assert_string_equal(kube_runtime_to_string(KUBE_RUNTIME_CRIO), "cri-o");
}

/* --- the plan onto kubelet's tree --- */

typedef struct FakePods {
        const char *names[4];
        const char *paths[4];
} FakePods;

static const char *lookup(void *userdata, const char *name) {
        FakePods *p = userdata;
        for (size_t i = 0; i < 4 && p->names[i]; i++)
                if (strcmp(p->names[i], name) == 0)
                        return p->paths[i];
        return NULL;
}

static const KubeletGroupPlan *find_group(const KubeletGroupPlan *g, size_t n, const char *path) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(g[i].path, path) == 0)
                        return &g[i];
        return NULL;
}

static void test_map_plan_onto_kubelet_tree(void **state) {
        (void) state;
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        cfg.memory_protect = true;
        cfg.oom_score_adj = true;
        WorkloadSample w[] = {
                { .name = "uid-online", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .cpu_usage_cores = 1.0,
                  .mem_working_set = 1ULL << 30 },
                { .name = "uid-batch", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .cpu_usage_cores = 0.5 },
                { .name = "uid-be", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .cpu_usage_cores = 0.5 },
                { .name = "uid-nocgroup", .cls = CLASS_OFFLINE, .tier = TIER_BATCH },
        };
        NodeSample s = {
                .now_usec = 1000000, .cpu_capacity_cores = 8, .mem_capacity = 16ULL << 30,
                .mem_available = 12ULL << 30, .online_cpu_usage = 1.0, .offline_cpu_usage = 1.0,
                .online_mem_working_set = 1ULL << 30, .workloads = w, .n_workloads = 4,
        };
        OnlineEstimate est = { .cpu_cores = 2.0, .mem_bytes = 2ULL << 30 };
        PolicyState ps = {};
        Plan *plan = NULL;
        assert_int_equal(policy_decide(&s, &est, &cfg, &ps, &plan), 0);

        FakePods pods = {
                .names = { "uid-online", "uid-batch", "uid-be" },
                .paths = { "burstable/poduid-online", "besteffort/poduid-batch", "besteffort/poduid-be" },
        };
        KubeletGroupPlan *g = NULL;
        size_t n = 0;
        assert_int_equal(pod_cgroup_map_plan(plan, KUBE_CGROUP_DRIVER_CGROUPFS, lookup, &pods, &g, &n), 0);

        /* kubepods, burstable, besteffort and three pods: no tier cgroups, no unknown pod. */
        assert_int_equal(n, 6);
        assert_int_equal(g[0].kind, KUBELET_GROUP_OFFLINE_QOS);
        assert_string_equal(g[0].path, "besteffort");
        assert_int_equal(g[n - 1].kind, KUBELET_GROUP_ONLINE_POD);
        for (size_t i = 1; i < n; i++)          /* offline first */
                assert_true(g[i - 1].kind != KUBELET_GROUP_ONLINE_POD || g[i].kind == KUBELET_GROUP_ONLINE_POD);

        const KubeletGroupPlan *be = find_group(g, n, "besteffort");
        assert_non_null(be);
        assert_true(be->knobs.cpu_quota_usec != CG_UNSET);
        assert_true(be->knobs.mem_max != CG_UNSET);
        assert_int_equal(be->knobs.cpu_weight, CG_UNSET);       /* kubelet's */

        const KubeletGroupPlan *root = find_group(g, n, "");
        assert_non_null(root);
        assert_int_equal(root->kind, KUBELET_GROUP_KUBEPODS);
        assert_int_equal(root->knobs.mem_low, 2ULL << 30);
        assert_int_equal(root->knobs.cpu_weight, CG_UNSET);
        assert_int_equal(root->knobs.cpu_quota_usec, CG_UNSET);

        const KubeletGroupPlan *burst = find_group(g, n, "burstable");
        assert_non_null(burst);
        assert_int_equal(burst->kind, KUBELET_GROUP_ONLINE_QOS);
        assert_int_equal(burst->knobs.mem_low, 2ULL << 30);
        assert_int_equal(burst->knobs.cpu_weight, CG_UNSET);

        const KubeletGroupPlan *on = find_group(g, n, "burstable/poduid-online");
        assert_non_null(on);
        assert_string_equal(on->workload, "uid-online");
        assert_int_equal(on->knobs.oom_score_adj, CG_UNSET_INT);   /* kubelet's QoS score stays */
        assert_int_equal(on->knobs.cpu_weight, CG_UNSET);
        assert_int_equal(on->knobs.mem_low, CG_UNLIMITED);

        const KubeletGroupPlan *batch = find_group(g, n, "besteffort/poduid-batch");
        const KubeletGroupPlan *bef = find_group(g, n, "besteffort/poduid-be");
        assert_non_null(batch);
        assert_non_null(bef);
        assert_int_equal(batch->kind, KUBELET_GROUP_OFFLINE_POD);
        assert_int_equal(batch->knobs.oom_score_adj, cfg.oom_score_adj_batch);
        assert_int_equal(bef->knobs.oom_score_adj, cfg.oom_score_adj_best_effort);
        assert_int_equal(batch->knobs.cpu_weight, POLICY_CPU_WEIGHT_BATCH);
        assert_int_equal(bef->knobs.cpu_weight, POLICY_CPU_WEIGHT_BEST_EFFORT);
        assert_int_equal(batch->knobs.cpu_quota_usec, CG_UNSET);   /* the parent carries the budget */
        free(g);

        /* systemd driver: the QoS cgroups' slice names. */
        assert_int_equal(pod_cgroup_map_plan(plan, KUBE_CGROUP_DRIVER_SYSTEMD, lookup, &pods, &g, &n), 0);
        assert_non_null(find_group(g, n, "kubepods-besteffort.slice"));
        assert_non_null(find_group(g, n, "kubepods-burstable.slice"));
        free(g);
        plan_free(plan);
}

static void test_filter_knobs_keeps_kubelet_knobs_alone(void **state) {
        (void) state;
        CgKnobs want, got;
        cg_knobs_init(&want);
        want.cpu_weight = 500;
        want.cpu_quota_usec = 50000;
        want.cpu_period_usec = 100000;
        want.mem_max = 1 << 30;
        want.oom_score_adj = 800;
        want.cpu_idle = 1;
        for (int k = 0; k < _KUBELET_GROUP_KIND_MAX; k++) {
                pod_cgroup_filter_knobs((KubeletGroupKind) k, &want, CG_UNSET, &got);
                assert_int_equal(got.cpu_weight, CG_UNSET);
                if (k != KUBELET_GROUP_OFFLINE_POD)
                        assert_int_equal(got.oom_score_adj, CG_UNSET_INT);
                if (k != KUBELET_GROUP_OFFLINE_QOS) {
                        assert_int_equal(got.cpu_quota_usec, CG_UNSET);
                        assert_int_equal(got.mem_max, CG_UNSET);
                }
        }
        pod_cgroup_filter_knobs(KUBELET_GROUP_OFFLINE_POD, &want, 10, &got);
        assert_int_equal(got.cpu_weight, 10);
        assert_int_equal(got.oom_score_adj, 800);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pod_paths_cgroupfs_and_systemd),
                cmocka_unit_test(test_qos_paths),
                cmocka_unit_test(test_container_paths_per_runtime),
                cmocka_unit_test(test_container_id_rejects_bad_input),
                cmocka_unit_test(test_pod_uid_validation),
                cmocka_unit_test(test_hierarchy_paths_v1_v2),
                cmocka_unit_test(test_driver_and_qos_names),
                cmocka_unit_test(test_map_plan_onto_kubelet_tree),
                cmocka_unit_test(test_filter_knobs_keeps_kubelet_knobs_alone),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
