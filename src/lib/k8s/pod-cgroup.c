/* Pod cgroup paths for kubelet's cgroupfs and systemd drivers, and the mapping of colo's plan onto
 * kubelet's tree. Everything is string work over fixed tables; the knob filter is the one place
 * that says which cgroup files colo may write inside kubelet's tree. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "k8s/pod-cgroup.h"
#include "policy/policy.h"
#include "util/macro.h"

static const char *const driver_names[_KUBE_CGROUP_DRIVER_MAX] = {
        [KUBE_CGROUP_DRIVER_CGROUPFS] = "cgroupfs",
        [KUBE_CGROUP_DRIVER_SYSTEMD] = "systemd",
};

static const char *const qos_names[_KUBE_QOS_MAX] = {
        [KUBE_QOS_GUARANTEED] = "Guaranteed",
        [KUBE_QOS_BURSTABLE] = "Burstable",
        [KUBE_QOS_BEST_EFFORT] = "BestEffort",
};

/* The QoS directory names: cgroupfs uses them as is, systemd as "kubepods-<name>". */
static const char *const qos_dirs[_KUBE_QOS_MAX] = {
        [KUBE_QOS_GUARANTEED] = "",
        [KUBE_QOS_BURSTABLE] = "burstable",
        [KUBE_QOS_BEST_EFFORT] = "besteffort",
};

static const struct {
        const char *scheme;             /* containerID prefix before "://" */
        const char *systemd_prefix;     /* scope name: <prefix>-<id>.scope */
        const char *cgroupfs_prefix;    /* directory name: <prefix><id> */
} runtimes[_KUBE_RUNTIME_MAX] = {
        [KUBE_RUNTIME_CONTAINERD] = { "containerd", "cri-containerd", "" },
        [KUBE_RUNTIME_CRIO] = { "cri-o", "crio", "crio-" },
        [KUBE_RUNTIME_DOCKER] = { "docker", "docker", "" },
};

KubeCgroupDriver kube_cgroup_driver_from_string(const char *s) {
        for (int i = 0; s && i < _KUBE_CGROUP_DRIVER_MAX; i++)
                if (strcmp(s, driver_names[i]) == 0)
                        return (KubeCgroupDriver) i;
        return _KUBE_CGROUP_DRIVER_INVALID;
}

const char *kube_cgroup_driver_to_string(KubeCgroupDriver d) {
        return d >= 0 && d < _KUBE_CGROUP_DRIVER_MAX ? driver_names[d] : NULL;
}

KubeQosClass kube_qos_class_from_string(const char *s) {
        for (int i = 0; s && i < _KUBE_QOS_MAX; i++)
                if (strcmp(s, qos_names[i]) == 0)
                        return (KubeQosClass) i;
        return _KUBE_QOS_INVALID;
}

const char *kube_qos_class_to_string(KubeQosClass q) {
        return q >= 0 && q < _KUBE_QOS_MAX ? qos_names[q] : NULL;
}

const char *kube_runtime_to_string(KubeRuntime r) {
        return r >= 0 && r < _KUBE_RUNTIME_MAX ? runtimes[r].scheme : NULL;
}

static bool is_alnum(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool pod_uid_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n >= POD_UID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

int kube_container_id_parse(const char *s, KubeRuntime *ret_runtime, char *id, size_t id_size) {
        const char *sep = s ? strstr(s, "://") : NULL;
        if (!sep)
                return -EINVAL;
        int runtime = -1;
        for (int i = 0; i < _KUBE_RUNTIME_MAX; i++)
                if (strlen(runtimes[i].scheme) == (size_t) (sep - s) &&
                    strncmp(s, runtimes[i].scheme, (size_t) (sep - s)) == 0)
                        runtime = i;
        if (runtime < 0)
                return -EINVAL;
        const char *v = sep + 3;
        size_t n = strlen(v);
        if (n == 0 || n >= CONTAINER_ID_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(v[i]))
                        return -EINVAL;
        if (n >= id_size)
                return -ENOBUFS;
        memcpy(id, v, n + 1);
        if (ret_runtime)
                *ret_runtime = (KubeRuntime) runtime;
        return 0;
}

const char *pod_cgroup_kubepods_name(KubeCgroupDriver d) {
        switch (d) {
        case KUBE_CGROUP_DRIVER_CGROUPFS:
                return "kubepods";
        case KUBE_CGROUP_DRIVER_SYSTEMD:
                return "kubepods.slice";
        default:
                return NULL;
        }
}

/* snprintf into buf; returns the length or -ENOBUFS. */
_printf_(3, 4) static int format_path(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOBUFS;
        return n;
}

int pod_cgroup_qos_path(KubeCgroupDriver d, KubeQosClass q, char *buf, size_t size) {
        if (d < 0 || d >= _KUBE_CGROUP_DRIVER_MAX || q < 0 || q >= _KUBE_QOS_MAX || !buf)
                return -EINVAL;
        if (q == KUBE_QOS_GUARANTEED)
                return format_path(buf, size, "%s", "");
        if (d == KUBE_CGROUP_DRIVER_CGROUPFS)
                return format_path(buf, size, "%s", qos_dirs[q]);
        return format_path(buf, size, "kubepods-%s.slice", qos_dirs[q]);
}

int pod_cgroup_pod_path(KubeCgroupDriver d, KubeQosClass q, const char *uid, char *buf, size_t size) {
        char qos[64];
        int r = pod_cgroup_qos_path(d, q, qos, sizeof(qos));
        if (r < 0)
                return r;
        if (!pod_uid_is_valid(uid))
                return -EINVAL;
        if (d == KUBE_CGROUP_DRIVER_CGROUPFS)
                return format_path(buf, size, "%s%spod%s", qos, qos[0] ? "/" : "", uid);

        /* systemd: each level's unit name repeats its parents' ("kubepods-burstable-pod..."). */
        char escaped[POD_UID_MAX];
        size_t n = strlen(uid);
        for (size_t i = 0; i <= n; i++)
                escaped[i] = uid[i] == '-' ? '_' : uid[i];
        if (q == KUBE_QOS_GUARANTEED)
                return format_path(buf, size, "kubepods-pod%s.slice", escaped);
        return format_path(buf, size, "%s/kubepods-%s-pod%s.slice", qos, qos_dirs[q], escaped);
}

int pod_cgroup_container_path(KubeCgroupDriver d, KubeQosClass q, const char *uid, KubeRuntime runtime,
                              const char *container_id, char *buf, size_t size) {
        char pod[POD_CGROUP_PATH_MAX];
        int r = pod_cgroup_pod_path(d, q, uid, pod, sizeof(pod));
        if (r < 0)
                return r;
        if (runtime < 0 || runtime >= _KUBE_RUNTIME_MAX || !container_id || !container_id[0] ||
            strlen(container_id) >= CONTAINER_ID_MAX)
                return -EINVAL;
        for (const char *p = container_id; *p; p++)
                if (!is_alnum(*p))
                        return -EINVAL;
        if (d == KUBE_CGROUP_DRIVER_CGROUPFS)
                return format_path(buf, size, "%s/%s%s", pod, runtimes[runtime].cgroupfs_prefix, container_id);
        return format_path(buf, size, "%s/%s-%s.scope", pod, runtimes[runtime].systemd_prefix, container_id);
}

int pod_cgroup_hierarchy_path(const char *fs_root, CgMode mode, const char *controller, const char *kubepods,
                              const char *rel, char *buf, size_t size) {
        if (!fs_root || !kubepods || !rel || !buf || (mode != CG_MODE_V1 && mode != CG_MODE_V2) ||
            (mode == CG_MODE_V1 && (!controller || !controller[0])))
                return -EINVAL;
        /* Components are joined with single slashes whatever the inputs end or start with. */
        const char *parts[4] = { fs_root, mode == CG_MODE_V1 ? controller : "", kubepods, rel };
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                const char *p = parts[i];
                size_t len = strlen(p);
                while (i > 0 && *p == '/')
                        p++, len--;
                while (len > 1 && p[len - 1] == '/')
                        len--;
                if (len == 0 || (i > 0 && len == 1 && *p == '/'))
                        continue;
                bool slash = n > 0 && buf[n - 1] != '/';
                if (n + slash + len >= size)
                        return -ENOBUFS;
                if (slash)
                        buf[n++] = '/';
                memcpy(buf + n, p, len);
                n += len;
        }
        if (n >= size)
                return -ENOBUFS;
        buf[n] = '\0';
        return (int) n;
}

/* --- the plan onto kubelet's tree --- */

void pod_cgroup_filter_knobs(KubeletGroupKind kind, const CgKnobs *want, uint64_t tier_cpu_weight, CgKnobs *ret) {
        CgKnobs k;
        cg_knobs_init(&k);
        /* Online memory protection (v2) runs down every level from kubepods to the pod. */
        k.mem_low = want->mem_low;
        k.mem_min = want->mem_min;
        switch (kind) {
        case KUBELET_GROUP_KUBEPODS:
        case KUBELET_GROUP_ONLINE_QOS:
                break;
        case KUBELET_GROUP_OFFLINE_QOS:
                /* kubelet keeps the besteffort cgroup at the minimal CPU weight already and sets no
                 * quota or memory limit on it: those are colo's offline budget. */
                k.cpu_idle = want->cpu_idle;
                k.cpu_quota_usec = want->cpu_quota_usec;
                k.cpu_period_usec = want->cpu_period_usec;
                k.mem_max = want->mem_max;
                k.mem_soft_limit = want->mem_soft_limit;
                k.cpu_qos_level = want->cpu_qos_level;
                k.mem_qos_level = want->mem_qos_level;
                break;
        case KUBELET_GROUP_ONLINE_POD:
                k.cpu_idle = want->cpu_idle;
                k.cpu_qos_level = want->cpu_qos_level;
                k.mem_qos_level = want->mem_qos_level;
                break;
        case KUBELET_GROUP_OFFLINE_POD:
                /* kubelet sets a BestEffort pod's weight once, at creation, to the minimum; colo
                 * orders the offline tiers among themselves instead (no tier cgroups exist). */
                k.cpu_idle = want->cpu_idle;
                k.cpu_weight = tier_cpu_weight;
                k.cpu_qos_level = want->cpu_qos_level;
                k.mem_qos_level = want->mem_qos_level;
                k.oom_score_adj = want->oom_score_adj;
                break;
        default:
                cg_knobs_init(&k);
                break;
        }
        *ret = k;
}

/* Splits a plan path into at most 3 components. Returns the count, or -EINVAL. */
static int split_plan_path(const char *path, char parts[3][WORKLOAD_NAME_MAX]) {
        int n = 0;
        const char *p = path;
        if (!*p)
                return 0;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                if (n == 3 || len == 0 || len >= WORKLOAD_NAME_MAX)
                        return -EINVAL;
                memcpy(parts[n], p, len);
                parts[n][len] = '\0';
                n++;
                if (!slash)
                        return n;
                p = slash + 1;
        }
}

typedef struct MappedGroup {
        int order;                      /* sort key: the application order of the kind */
        size_t plan_index;
        KubeletGroupPlan g;
} MappedGroup;

static int kind_order(KubeletGroupKind k) {
        static const int order[_KUBELET_GROUP_KIND_MAX] = {
                [KUBELET_GROUP_OFFLINE_QOS] = 0, [KUBELET_GROUP_OFFLINE_POD] = 1, [KUBELET_GROUP_KUBEPODS] = 2,
                [KUBELET_GROUP_ONLINE_QOS] = 3,  [KUBELET_GROUP_ONLINE_POD] = 4,
        };
        return order[k];
}

static int compare_mapped(const void *a, const void *b) {
        const MappedGroup *x = a, *y = b;
        if (x->order != y->order)
                return x->order < y->order ? -1 : 1;
        return x->plan_index < y->plan_index ? -1 : x->plan_index > y->plan_index ? 1 : 0;
}

int pod_cgroup_map_plan(const Plan *plan, KubeCgroupDriver d, PodCgroupLookup lookup, void *userdata,
                        KubeletGroupPlan **ret, size_t *ret_n) {
        if (!plan || !lookup || !ret || !ret_n || d < 0 || d >= _KUBE_CGROUP_DRIVER_MAX)
                return -EINVAL;

        /* The offline tiers' weights, which have no cgroup of their own here. */
        uint64_t tier_weight[_TIER_MAX];
        for (int t = 0; t < _TIER_MAX; t++)
                tier_weight[t] = CG_UNSET;
        for (size_t i = 0; i < plan->n_groups; i++) {
                char parts[3][WORKLOAD_NAME_MAX];
                if (split_plan_path(plan->groups[i].path, parts) != 2)
                        continue;
                WorkloadTier t = workload_tier_from_string(parts[1]);
                if (t >= 0 && workload_tier_class(t) == CLASS_OFFLINE)
                        tier_weight[t] = plan->groups[i].knobs.cpu_weight;
        }

        _cleanup_free_ MappedGroup *m = plan->n_groups > 0 ? calloc(plan->n_groups, sizeof(*m)) : NULL;
        if (plan->n_groups > 0 && !m)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < plan->n_groups; i++) {
                const GroupPlan *gp = &plan->groups[i];
                char parts[3][WORKLOAD_NAME_MAX];
                int depth = split_plan_path(gp->path, parts);
                MappedGroup *out = &m[n];
                *out = (MappedGroup) { .plan_index = i };
                KubeletGroupPlan *g = &out->g;
                uint64_t weight = CG_UNSET;
                int r = 0;

                if (depth == 0)
                        g->kind = KUBELET_GROUP_KUBEPODS;
                else if (depth == 1) {
                        WorkloadClass c = workload_class_from_string(parts[0]);
                        if (c < 0)
                                continue;
                        g->kind = c == CLASS_ONLINE ? KUBELET_GROUP_ONLINE_QOS : KUBELET_GROUP_OFFLINE_QOS;
                        r = pod_cgroup_qos_path(d, c == CLASS_ONLINE ? KUBE_QOS_BURSTABLE : KUBE_QOS_BEST_EFFORT,
                                                g->path, sizeof(g->path));
                } else if (depth == 3) {
                        WorkloadClass c = workload_class_from_string(parts[0]);
                        WorkloadTier t = workload_tier_from_string(parts[1]);
                        if (c < 0 || t < 0 || workload_tier_class(t) != c)
                                continue;
                        const char *path = lookup(userdata, parts[2]);
                        if (!path)
                                continue;
                        r = format_path(g->path, sizeof(g->path), "%s", path);
                        g->kind = c == CLASS_ONLINE ? KUBELET_GROUP_ONLINE_POD : KUBELET_GROUP_OFFLINE_POD;
                        memcpy(g->workload, parts[2], sizeof(g->workload));
                        if (c == CLASS_OFFLINE)
                                weight = tier_weight[t];
                } else
                        continue;       /* tier parents and anything unknown: no kubelet cgroup */
                if (r < 0)
                        continue;
                pod_cgroup_filter_knobs(g->kind, &gp->knobs, weight, &g->knobs);
                out->order = kind_order(g->kind);
                n++;
        }
        qsort(m, n, sizeof(*m), compare_mapped);

        KubeletGroupPlan *groups = n > 0 ? calloc(n, sizeof(*groups)) : NULL;
        if (n > 0 && !groups)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                groups[i] = m[i].g;
        *ret = groups;
        *ret_n = n;
        return 0;
}
