/* Kubernetes-mode agent overhead, the counterpart of bench/overhead.sh (not a test: it prints
 * figures and asserts nothing about them). A `colo agent` in Kubernetes mode manages PODS pods
 * (default 200: 40 online Burstable, 160 offline BestEffort, half batch, half best-effort) listed
 * and watched on the fake API server, their cgroups a kubelet-shaped tree of plain files
 * (k8s-node.h, cgroup v2, cgroupfs driver; the agent's period is k8s-node.c's 200 ms). Once the
 * status lists every pod and SETTLE seconds passed, the agent's CPU time (utime + stime from
 * /proc/<pid>/stat) is sampled over SECONDS, and VmHWM and VmRSS are read at the end. Plain files
 * cost less to read than cgroupfs, so compare runs of this program with each other (two agent
 * binaries, the same machine), not with bench/overhead.sh.
 *
 * Usage: colo-k8s-overhead COLO_BIN [PODS] [SECONDS] */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s-node.h"

#define NODE "bench-node"
#define SETTLE_SECONDS 10

static const char *colo_bin;
static int n_pods = 200, seconds = 60;

static double cpu_seconds(pid_t pid) {
        char path[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        assert_non_null(p);
        unsigned long utime = 0, stime = 0;
        /* Fields after the command: state(3) ... utime(14) stime(15). */
        assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
        return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

static long status_kib(pid_t pid, const char *key) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        long v = -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0)
                        v = strtol(line + strlen(key) + 1, NULL, 10);
        fclose(f);
        return v;
}

static size_t workloads_listed(const K8sNode *n) {
        char *text = k8s_node_read(n, "state/status.json");
        json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
        size_t count = json_array_size(json_object_get(doc, "workloads"));
        json_decref(doc);
        free(text);
        return count;
}

static void test_k8s_agent_overhead(void **state) {
        (void) state;
        K8sNode n;
        k8s_node_init(&n, NODE, "64", "256Gi");
        for (int i = 0; i < n_pods; i++) {
                char uid[64], name[32];
                snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012d", i);
                snprintf(name, sizeof(name), "pod-%d", i);
                bool online = i % 5 == 0;
                FakePod p = { .name = name, .namespace_ = "default", .uid = uid, .node = NODE,
                              .qos_class = online ? "Burstable" : "BestEffort", .class_annotation = online ? "online" : "offline",
                              .tier_annotation = online ? NULL : i % 2 ? "batch" : "best-effort",
                              .container_id = "containerd://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                              /* No colo.io/offline-* requests: the agent reads the real CPU count, and more requested
                               * than its budget would start evictions. */ };
                k8s_node_add_pod_cgroup(&n, online ? "burstable" : "besteffort", uid);
                fake_api_add_pod(n.api, fake_pod_json(&p));
        }
        k8s_node_start_agent(&n, colo_bin, NODE, NULL, k8s_node_free_port());
        for (int waited = 0; workloads_listed(&n) < (size_t) n_pods; waited++) {
                if (waited >= 600) {
                        k8s_node_dump_log(&n);
                        fail_msg("the agent did not list %d pods within 60 s", n_pods);
                }
                usleep(100000);
        }
        sleep(SETTLE_SECONDS);
        double before = cpu_seconds(n.agent);
        sleep((unsigned) seconds);
        double cpu = cpu_seconds(n.agent) - before;
        long hwm = status_kib(n.agent, "VmHWM"), rss = status_kib(n.agent, "VmRSS");
        double periods = seconds / 0.2;
        printf("{\"pods\": %d, \"seconds\": %d, \"cpu_seconds\": %.2f, \"cpu_percent\": %.3f, "
               "\"cpu_ms_per_period\": %.2f, \"cpu_percent_at_1s_period\": %.3f, \"vm_hwm_kib\": %ld, \"vm_rss_kib\": %ld}\n",
               n_pods, seconds, cpu, 100.0 * cpu / seconds, 1000.0 * cpu / periods, 100.0 * cpu / periods, hwm, rss);
        k8s_node_stop_agent(&n);
        k8s_node_done(&n);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "Usage: %s COLO_BIN [PODS] [SECONDS]\n", argv[0]);
                return 2;
        }
        colo_bin = argv[1];
        if (argc > 2)
                n_pods = atoi(argv[2]);
        if (argc > 3)
                seconds = atoi(argv[3]);
        if (n_pods <= 0 || n_pods > 100000 || seconds <= 0)
                return fprintf(stderr, "PODS and SECONDS must be positive\n"), 2;
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_k8s_agent_overhead) };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
