/* `colo agent` in Kubernetes mode on this machine's real cgroup v1 hierarchies: offline pods' own
 * limits land on their pod cgroups. Below a scratch cgroup (scratch-cgroup.h) the test lays out
 * kubelet's tree exactly as its cgroupfs driver does (pkg/kubelet/cm: the QoS cgroups
 * "burstable" and "besteffort" below "kubepods", Guaranteed pods directly in kubepods, each pod
 * "pod<uid>" with its containers' "<id>" below it), in every v1 hierarchy colo uses, and serves
 * the pods from the fake API server on 127.0.0.1, shaped as the webhook leaves them (cpu/memory
 * moved to colo.io/offline-*, the originals in colo.io/original-resources). It checks the CFS
 * quota, memory limit and pids.max the kernel shows for: a pod with limits, a pod with requests
 * only (the default cap), a pod with a malformed annotation (the default cap, and one Warning
 * Event on the pod however many periods pass), and that online pods' cgroups keep kubelet's
 * values. Then, by reloads, the offline parent gets a CPU budget that drops to the floor and goes
 * again: v1 refuses a parent quota below a child's, so the pods' quotas must come down first and
 * no write may fail. Needs root and cgroup v1: exit 77 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fake-apiserver.h"
#include "scratch-cgroup.h"

#define NODE "node-a"
#define UID_LIMITED "aaaaaaaa-1111-4111-8111-111111111111"
#define UID_DEFAULT "bbbbbbbb-2222-4222-8222-222222222222"
#define UID_MALFORMED "cccccccc-3333-4333-8333-333333333333"
#define UID_BURSTABLE "dddddddd-4444-4444-8444-444444444444"
#define UID_GUARANTEED "eeeeeeee-5555-4555-8555-555555555555"
#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define EVENTS "/api/v1/namespaces/default/events"

extern char **environ;

static ScratchCgroup *scratch;
static FakeApi *api;
static pid_t agent;
static char dir[64];

static void dump_agent_log(void) {
        char p[PATH_MAX], buf[8192];
        snprintf(p, sizeof(p), "%s/agent.log", dir);
        FILE *f = fopen(p, "r");
        if (!f)
                return;
        fprintf(stderr, "--- agent log (first 8 KiB) ---\n");
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fputs(buf, stderr);
        fprintf(stderr, "--- end ---\n");
        fclose(f);
}

/* exit() runs this before scratch-cgroup's own handler (registered earlier): the agent stops
 * before its cgroups go. */
static void stop_agent(void) {
        if (agent <= 0)
                return;
        kill(agent, SIGTERM);
        int status = 0;
        for (int i = 0; i < 500 && waitpid(agent, &status, WNOHANG) == 0; i++)
                usleep(10000);
        if (waitpid(agent, &status, WNOHANG) == 0) {
                kill(agent, SIGKILL);
                waitpid(agent, &status, 0);
        }
        agent = 0;
}

/* Runs last at exit(): the temporary directory (configuration, agent log) goes too. */
static void remove_dir(void) {
        if (!dir[0])
                return;
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove '%s'\n", dir);
        dir[0] = '\0';
}

#define CHECK(cond)                                                                              \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        dump_agent_log();                                                        \
                        exit(1); /* atexit(): agent stopped, scratch group removed */            \
                }                                                                                \
        } while (0)

static const char *const hierarchies[] = { "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids" };

/* mkdir of rel below the scratch group in every v1 hierarchy colo uses, as kubelet's cgroupfs
 * driver creates a cgroup in each mounted subsystem. */
static void kubelet_mkdir(const char *rel) {
        for (size_t i = 0; i < sizeof(hierarchies) / sizeof(hierarchies[0]); i++) {
                const char *base = scratch_cgroup_path(scratch, hierarchies[i]);
                if (!base)
                        continue;
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", base, rel);
                if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                        fprintf(stderr, "mkdir '%s': %s\n", p, strerror(errno));
                        CHECK(false);
                }
        }
}

/* A knob file of rel (below the scratch group) in hierarchy, first line, "" when unreadable. */
static const char *knob(const char *hierarchy, const char *rel, const char *file) {
        static char buf[256];
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s/%s", scratch_cgroup_path(scratch, hierarchy), rel, file);
        buf[0] = '\0';
        FILE *f = fopen(p, "r");
        if (!f)
                return buf;
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* Waits (up to 20 s: the agent ticks every 200 ms) until the knob reads want. */
static bool wait_knob(const char *hierarchy, const char *rel, const char *file, const char *want) {
        for (int i = 0; i < 2000; i++) {
                if (strcmp(knob(hierarchy, rel, file), want) == 0)
                        return true;
                sleep_ms(10);
        }
        fprintf(stderr, "%s/%s/%s is '%s', want '%s'\n", hierarchy, rel, file, knob(hierarchy, rel, file), want);
        return false;
}

/* An offline BestEffort pod as the API server returns it after the webhook ran. */
static json_t *offline_pod(const char *name, const char *uid, const char *original_resources) {
        FakePod p = {
                .name = name, .namespace_ = "default", .uid = uid, .node = NODE, .qos_class = "BestEffort",
                .class_annotation = "offline", .tier_annotation = "batch", .container_id = "containerd://" CID,
                .offline_cpu_milli = 100, .offline_memory = 64 << 20,
        };
        json_t *pod = fake_pod_json(&p);
        json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "annotations"), "colo.io/original-resources",
                            json_string(original_resources));
        return pod;
}

static json_t *online_pod(const char *name, const char *uid, const char *qos) {
        FakePod p = { .name = name, .namespace_ = "default", .uid = uid, .node = NODE, .qos_class = qos,
                      .class_annotation = "online", .container_id = "containerd://" CID };
        return fake_pod_json(&p);
}

static void write_file(const char *name, const char *text) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        FILE *f = fopen(p, "w");
        CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

/* The agent's configuration; isolation: the section's keys, or "" for the defaults. */
static void write_config(bool cpu_quota, const char *isolation) {
        char text[2048];
        snprintf(text, sizeof(text),
                 "agent:\n  state_dir: \"%s/state\"\n  period: 200ms\n  fast_reaction: false\n  log_level: debug\n"
                 "metrics:\n  enabled: false\n"
                 "features:\n  cpu_quota: %s\n"
                 "isolation:\n%s"
                 "prediction:\n  checkpoint_path: \"\"\n"
                 "kubernetes:\n  enabled: true\n  node_name: " NODE "\n  kubeconfig: \"%s/kubeconfig\"\n"
                 "  cgroup_driver: cgroupfs\n  status_update_interval: 10s\n  stale_after: 2s\n"
                 "  offline_pod_default_cpu: 750m\n  offline_pod_default_memory: 192Mi\n  offline_pod_pids_max: 300\n",
                 dir, cpu_quota ? "true" : "false", isolation[0] ? isolation : "  evict_cooldown: 1m\n", dir);
        write_file("colo.yaml", text);
}

static void start_agent(void) {
        char text[2048], kubepods[PATH_MAX], config[PATH_MAX], logpath[PATH_MAX];
        snprintf(text, sizeof(text),
                 "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                 "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
                 "contexts:\n- name: test\n  context:\n    cluster: fake\n    user: agent\n"
                 "users:\n- name: agent\n  user:\n    token: test-token\n",
                 fake_api_url(api));
        write_file("kubeconfig", text);
        /* No dynamic quota on the offline parent: the pods' quotas are then exactly their own. */
        write_config(false, "");
        snprintf(kubepods, sizeof(kubepods), "%s/kubepods", scratch_cgroup_subtree(scratch));
        snprintf(config, sizeof(config), "%s/colo.yaml", dir);
        snprintf(logpath, sizeof(logpath), "%s/agent.log", dir);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        const char *colo = getenv("COLO_BIN");
        char *argv[] = { (char *) colo, (char *) "agent", (char *) "--config", config, (char *) "--subtree", kubepods, NULL };
        CHECK(posix_spawn(&agent, colo, &fa, NULL, argv, environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
}

static size_t malformed_events(void) {
        size_t n = 0, total = fake_api_count_requests(api, "POST", EVENTS);
        for (size_t i = 0; i < total; i++) {
                FakeRequest r;
                if (!fake_api_get_request(api, "POST", EVENTS, i, &r))
                        continue;
                if (strstr(r.body, "\"reason\":\"ColoLimitsMalformed\"") && strstr(r.body, UID_MALFORMED) &&
                    strstr(r.body, "containers.main.limits.cpu") && r.status == 201)
                        n++;
                fake_request_free(&r);
        }
        return n;
}

static bool agent_log_has(const char *needle) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/agent.log", dir);
        FILE *f = fopen(p, "r");
        if (!f)
                return false;
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, needle) != NULL;
        fclose(f);
        if (found)
                fprintf(stderr, "agent log: %s", line);
        return found;
}

/* Waits until the agent has written its status file n more times (n more periods). */
static void wait_periods(int n) {
        char p[PATH_MAX], last[64] = "";
        snprintf(p, sizeof(p), "%s/state/status.json", dir);
        for (int seen = 0, i = 0; seen < n && i < 4000; i++) {
                struct stat st;
                char stamp[64] = "";
                if (stat(p, &st) == 0)
                        snprintf(stamp, sizeof(stamp), "%lld.%09ld", (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
                if (stamp[0] && strcmp(stamp, last) != 0) {
                        snprintf(last, sizeof(last), "%s", stamp);
                        seen++;
                }
                sleep_ms(10);
        }
}

int main(int argc, char **argv) {
        if (argc > 1)
                setenv("COLO_BIN", argv[1], 1);
        int r = scratch_cgroup_create(&scratch);
        if (r == -EPERM || r == -ENOMEDIUM) {
                fprintf(stderr, "SKIP: needs root and mounted cgroups\n");
                return 77;
        }
        CHECK(r == 0);
        if (!scratch_cgroup_has_v1(scratch, "cpu") || !scratch_cgroup_has_v1(scratch, "memory") ||
            !scratch_cgroup_has_v1(scratch, "pids")) {
                fprintf(stderr, "SKIP: no cgroup v1 cpu, memory and pids hierarchies\n");
                scratch_cgroup_destroy(scratch);
                return 77;
        }
        CHECK(getenv("COLO_BIN"));
        snprintf(dir, sizeof(dir), "/tmp/colo-test-podlimits-XXXXXX");
        CHECK(mkdtemp(dir));
        atexit(remove_dir);
        FakeApiOptions ao = { .token = "test-token" };
        api = fake_api_start(&ao);
        CHECK(api);
        fake_api_add_node(api, NODE, "2", "8Gi");
        atexit(stop_agent);

        /* kubelet's cgroupfs layout. */
        static const char *const tree[] = {
                "kubepods",
                "kubepods/besteffort",
                "kubepods/burstable",
                "kubepods/besteffort/pod" UID_LIMITED,
                "kubepods/besteffort/pod" UID_LIMITED "/" CID,
                "kubepods/besteffort/pod" UID_DEFAULT,
                "kubepods/besteffort/pod" UID_DEFAULT "/" CID,
                "kubepods/besteffort/pod" UID_MALFORMED,
                "kubepods/besteffort/pod" UID_MALFORMED "/" CID,
                "kubepods/burstable/pod" UID_BURSTABLE,
                "kubepods/burstable/pod" UID_BURSTABLE "/" CID,
                "kubepods/pod" UID_GUARANTEED,
                "kubepods/pod" UID_GUARANTEED "/" CID,
        };
        for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
                kubelet_mkdir(tree[i]);

        fake_api_add_pod(api, offline_pod("limited", UID_LIMITED,
                                          "{\"containers\":{\"main\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"256Mi\"},"
                                          "\"requests\":{\"cpu\":\"1\",\"memory\":\"128Mi\"}}},\"initContainers\":{}}"));
        fake_api_add_pod(api, offline_pod("unlimited", UID_DEFAULT,
                                          "{\"containers\":{\"main\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"}}},"
                                          "\"initContainers\":{}}"));
        fake_api_add_pod(api, offline_pod("malformed", UID_MALFORMED,
                                          "{\"containers\":{\"main\":{\"limits\":{\"cpu\":\"one core\",\"memory\":\"1Gi\"}}},"
                                          "\"initContainers\":{}}"));
        fake_api_add_pod(api, online_pod("web", UID_BURSTABLE, "Burstable"));
        fake_api_add_pod(api, online_pod("db", UID_GUARANTEED, "Guaranteed"));
        start_agent();

        /* Its own limits: 1.5 cores at kubelet's 100 ms period, 256 MiB, the configured pids.max. */
        const char *limited = "kubepods/besteffort/pod" UID_LIMITED;
        CHECK(wait_knob("cpu", limited, "cpu.cfs_quota_us", "150000"));
        CHECK(wait_knob("cpu", limited, "cpu.cfs_period_us", "100000"));
        CHECK(wait_knob("memory", limited, "memory.limit_in_bytes", "268435456"));
        CHECK(wait_knob("pids", limited, "pids.max", "300"));

        /* Requests only: the default cap of each kind. */
        const char *unlimited = "kubepods/besteffort/pod" UID_DEFAULT;
        CHECK(wait_knob("cpu", unlimited, "cpu.cfs_quota_us", "75000"));
        CHECK(wait_knob("memory", unlimited, "memory.limit_in_bytes", "201326592"));
        CHECK(wait_knob("pids", unlimited, "pids.max", "300"));

        /* Malformed: the default cap (not its 1Gi memory limit either), and an Event on the pod. */
        const char *malformed = "kubepods/besteffort/pod" UID_MALFORMED;
        CHECK(wait_knob("cpu", malformed, "cpu.cfs_quota_us", "75000"));
        CHECK(wait_knob("memory", malformed, "memory.limit_in_bytes", "201326592"));
        CHECK(wait_knob("pids", malformed, "pids.max", "300"));
        for (int i = 0; i < 2000 && malformed_events() == 0; i++)
                sleep_ms(10);
        CHECK(malformed_events() == 1);
        /* Reported once per pod, not every period. */
        wait_periods(5);
        CHECK(malformed_events() == 1);
        CHECK(fake_api_count_requests(api, "POST", EVENTS) == 1);

        /* Online pods (Burstable below burstable/, Guaranteed directly in kubepods) keep kubelet's
         * values: colo writes no limit there. */
        CHECK(strcmp(knob("cpu", "kubepods/burstable/pod" UID_BURSTABLE, "cpu.cfs_quota_us"), "-1") == 0);
        CHECK(strcmp(knob("pids", "kubepods/burstable/pod" UID_BURSTABLE, "pids.max"), "max") == 0);
        CHECK(strcmp(knob("cpu", "kubepods/pod" UID_GUARANTEED, "cpu.cfs_quota_us"), "-1") == 0);
        CHECK(strcmp(knob("pids", "kubepods/pod" UID_GUARANTEED, "pids.max"), "max") == 0);

        /* The offline parent gets a dynamic quota, and it drops to the floor (all CPU reserved:
         * min_offline_cpu, 0.05 cores): v1 refuses a parent quota below a child's, so the pods'
         * quotas must come down to the parent's first. No write may fail on the way. */
        write_config(true, "  reserved_cpu: 2\n  evict_cooldown: 1m\n");
        CHECK(kill(agent, SIGHUP) == 0);
        CHECK(wait_knob("cpu", "kubepods/besteffort", "cpu.cfs_quota_us", "5000"));
        CHECK(wait_knob("cpu", limited, "cpu.cfs_quota_us", "5000"));
        CHECK(wait_knob("cpu", unlimited, "cpu.cfs_quota_us", "5000"));
        /* And back up: the parent first, then the pods' own quotas again. */
        write_config(false, "");
        CHECK(kill(agent, SIGHUP) == 0);
        CHECK(wait_knob("cpu", "kubepods/besteffort", "cpu.cfs_quota_us", "-1"));
        CHECK(wait_knob("cpu", limited, "cpu.cfs_quota_us", "150000"));
        CHECK(wait_knob("cpu", unlimited, "cpu.cfs_quota_us", "75000"));
        CHECK(agent_log_has("Reload: features.cpu_quota: false -> true") && agent_log_has("Reload: features.cpu_quota: true -> false"));
        CHECK(!agent_log_has("Failed to write"));

        /* The annotation fixed: its own limits replace the cap. */
        json_t *fixed = offline_pod("malformed", UID_MALFORMED,
                                    "{\"containers\":{\"main\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},"
                                    "\"initContainers\":{}}");
        CHECK(fake_api_update_pod(api, fixed) > 0);
        CHECK(wait_knob("cpu", malformed, "cpu.cfs_quota_us", "100000"));
        CHECK(wait_knob("memory", malformed, "memory.limit_in_bytes", "1073741824"));

        stop_agent();
        fake_api_stop(api);
        remove_dir();
        CHECK(scratch_cgroup_destroy(scratch) == 0);
        printf("offline pods' own limits, the default cap and the malformed-annotation Event: ok\n");
        return 0;
}
