/* `colo agent` in Kubernetes mode on real cgroups (this machine's v1 hierarchies, and v2 in the VM
 * of tests/vm): offline pods' own limits land on their pod cgroups. On v1 the test lays out
 * kubelet's tree below a scratch cgroup (scratch-cgroup.h) exactly as its cgroupfs driver does
 * (pkg/kubelet/cm: the QoS cgroups "burstable" and "besteffort" below "kubepods", Guaranteed pods
 * directly in kubepods, each pod "pod<uid>" with its containers' "<id>" below it), in every v1
 * hierarchy colo uses. In the VM (cgroup v2, systemd as PID 1) it lays it out as kubelet's systemd
 * driver does, the default there: transient slices kubepods.slice, kubepods-besteffort.slice,
 * kubepods-besteffort-pod<uid_>.slice, ... (kubelet-slices.h; no container scopes: runc makes
 * those with the container's processes, and colo writes nothing in them), and the agent runs with
 * kubernetes.cgroup_driver systemd, so the limits go through systemd's unit properties too. On a
 * v2 outside the VM (a delegated cgroup, no top-level slices allowed) the cgroupfs layout goes
 * below the scratch group, each parent's cgroup.subtree_control enabling the controllers below
 * it, as kubelet does there. It serves
 * the pods from the fake API server on 127.0.0.1, shaped as the webhook leaves them (cpu/memory
 * moved to colo.io/offline-*, the originals in colo.io/original-resources). It checks the CFS
 * quota, memory limit and pids.max the kernel shows (v1 cpu.cfs_quota_us, memory.limit_in_bytes;
 * v2 cpu.max, memory.max and memory.high; on the systemd driver also the unit properties systemd
 * holds, so a daemon-reload keeps them) for: a pod with limits, a pod with requests
 * only (the default cap), a pod with a malformed annotation (the default cap, and one Warning
 * Event on the pod however many periods pass), and that online pods' cgroups keep kubelet's
 * values. Then, by reloads, the offline parent gets a CPU budget that drops to the floor and goes
 * again: v1 refuses a parent quota below a child's, so the pods' quotas must come down first and
 * no write may fail; v2 caps a subtree at its parent's cpu.max whatever the children's, so there
 * the pods keep their own quotas. Needs root and cgroup v1, or a delegated cgroup v2 with the cpu,
 * memory and pids controllers: exit 77 otherwise.
 *
 * Every wait is bounded below the test's timeout (wait_limit()), so that a failed check reports
 * itself with the agent's log instead of being killed silently. */
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
#include "kubelet-slices.h"
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
static bool v2;         /* the scratch group is in the cgroup v2 hierarchy only */
static bool systemd_driver;     /* the VM: kubelet's tree as its systemd driver makes it */
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

/* Where kubelet's tree starts in the hierarchy of controller: the scratch group (v2 has one
 * hierarchy for all), or the root of the cgroup2 file system on the systemd driver. */
static const char *base_of(const char *hierarchy) {
        return systemd_driver ? "/sys/fs/cgroup" : scratch_cgroup_path(scratch, v2 ? NULL : hierarchy);
}

/* kubelet's cgroup for a QoS class ("besteffort", "burstable", "" for the kubepods cgroup itself,
 * which holds Guaranteed pods), relative to base_of(), as the driver in use names it. */
static void qos_cgroup(char *buf, size_t size, const char *qos) {
        if (systemd_driver)
                snprintf(buf, size, "kubepods.slice%s%s%s", qos[0] ? "/kubepods-" : "", qos, qos[0] ? ".slice" : "");
        else
                snprintf(buf, size, "kubepods%s%s", qos[0] ? "/" : "", qos);
}

/* A pod's cgroup below qos_cgroup(qos): "pod<uid>", or on the systemd driver the slice
 * "kubepods-<qos>-pod<uid_>.slice" ('-' of the UID as '_': systemd's nesting separator). */
static void pod_cgroup(char *buf, size_t size, const char *qos, const char *uid) {
        char parent[128], u[64];
        qos_cgroup(parent, sizeof(parent), qos);
        snprintf(u, sizeof(u), "%s", uid);
        if (!systemd_driver) {
                snprintf(buf, size, "%s/pod%s", parent, u);
                return;
        }
        for (char *c = u; *c; c++)
                if (*c == '-')
                        *c = '_';
        snprintf(buf, size, "%s/kubepods%s%s-pod%s.slice", parent, qos[0] ? "-" : "", qos, u);
}

/* v2: kubelet (libcontainer's fs2 manager) enables the controllers of a parent in its
 * cgroup.subtree_control before it makes the child, so that the child has the knob files. */
static void kubelet_enable_controllers(const char *rel) {
        char p[PATH_MAX];
        const char *slash = strrchr(rel, '/');
        snprintf(p, sizeof(p), "%s/%.*s%scgroup.subtree_control", base_of(NULL), slash ? (int) (slash - rel) : 0, rel,
                 slash ? "/" : "");
        FILE *f = fopen(p, "w");
        CHECK(f);
        if (fputs("+cpu +memory +pids", f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "enabling controllers in '%s': %s\n", p, strerror(errno));
                CHECK(false);
        }
}

/* mkdir of rel below the scratch group in every v1 hierarchy colo uses, as kubelet's cgroupfs
 * driver creates a cgroup in each mounted subsystem (on v2, once). */
static void kubelet_mkdir(const char *rel) {
        if (v2)
                kubelet_enable_controllers(rel);
        for (size_t i = 0; i < (v2 ? 1 : sizeof(hierarchies) / sizeof(hierarchies[0])); i++) {
                const char *base = base_of(hierarchies[i]);
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
        snprintf(p, sizeof(p), "%s/%s/%s", base_of(hierarchy), rel, file);
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

/* How many times longer a wait may take: COLO_TEST_TIMEOUT_SCALE (the VM of tests/vm, whose CPUs
 * are emulated, sets 10), else 1. */
static int timeout_scale(void) {
        const char *s = getenv("COLO_TEST_TIMEOUT_SCALE");
        int n = s ? atoi(s) : 1;
        return n >= 1 && n <= 100 ? n : 1;
}

/* How many 10 ms polls a wait makes: 20 s (the agent ticks every 200 ms) times the scale, but at
 * most 60 s, so that a failing wait reports (and shows the agent's log) well before the test's
 * timeout (120 s, in the VM too) ends it without a word. */
static int wait_limit(void) {
        return 2000 * timeout_scale() < 6000 ? 2000 * timeout_scale() : 6000;
}

/* Waits (wait_limit()) until the knob reads want. */
static bool wait_knob(const char *hierarchy, const char *rel, const char *file, const char *want) {
        for (int i = 0; i < wait_limit(); i++) {
                if (strcmp(knob(hierarchy, rel, file), want) == 0)
                        return true;
                sleep_ms(10);
        }
        fprintf(stderr, "%s/%s/%s is '%s', want '%s'\n", hierarchy, rel, file, knob(hierarchy, rel, file), want);
        return false;
}

/* The CFS quota of rel in microseconds as v1 writes it ("-1" = none): cpu.cfs_quota_us, or the
 * first field of v2's cpu.max ("max" = none). */
static const char *quota_of(const char *rel) {
        static char q[64];
        if (!v2)
                return snprintf(q, sizeof(q), "%s", knob("cpu", rel, "cpu.cfs_quota_us")), q;
        snprintf(q, sizeof(q), "%s", knob("cpu", rel, "cpu.max"));
        q[strcspn(q, " ")] = '\0';
        if (strcmp(q, "max") == 0)
                snprintf(q, sizeof(q), "-1");
        return q;
}

/* Like wait_knob() for the quota (quota_of()). */
static bool wait_quota(const char *rel, const char *want) {
        for (int i = 0; i < wait_limit(); i++) {
                if (strcmp(quota_of(rel), want) == 0)
                        return true;
                sleep_ms(10);
        }
        fprintf(stderr, "%s: quota is '%s', want '%s'\n", rel, quota_of(rel), want);
        return false;
}

/* The memory limit's file: memory.limit_in_bytes, v2 memory.max. */
static const char *mem_limit_file(void) {
        return v2 ? "memory.max" : "memory.limit_in_bytes";
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
                 "  cgroup_driver: %s\n  status_update_interval: 10s\n  stale_after: 2s\n"
                 "  offline_pod_default_cpu: 750m\n  offline_pod_default_memory: 192Mi\n  offline_pod_pids_max: 300\n",
                 dir, cpu_quota ? "true" : "false", isolation[0] ? isolation : "  evict_cooldown: 1m\n", dir,
                 systemd_driver ? "systemd" : "cgroupfs");
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
        if (systemd_driver)
                snprintf(kubepods, sizeof(kubepods), "/kubepods.slice");
        else
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

/* kubelet's cgroupfs layout below the scratch group. */
static void lay_out_cgroupfs(void) {
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
}

/* At exit, after the agent stopped (registered before stop_agent()): the slices go, children with
 * their parent. */
static void stop_slices(void) {
        pid_t pid;
        const char *const argv[] = { "systemctl", "stop", "kubepods.slice", NULL };
        if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *) argv, environ) == 0)
                (void) waitpid(pid, NULL, 0);
}

/* kubelet's systemd-driver layout: the slices, parents first, each with the CPU weight kubelet
 * gives it (kubepods: 2 CPUs allocatable; QoS slices and BestEffort pods the minimum 2 shares;
 * the online pods a 100m request), then waits until systemd has made their cgroups. */
static void lay_out_slices(void) {
        static const struct {
                const char *qos, *uid;
                uint64_t cpu_weight;
        } tree[] = {
                { "", NULL, 79 },         { "besteffort", NULL, 1 },       { "burstable", NULL, 1 },
                { "besteffort", UID_LIMITED, 1 }, { "besteffort", UID_DEFAULT, 1 }, { "besteffort", UID_MALFORMED, 1 },
                { "burstable", UID_BURSTABLE, 4 }, { "", UID_GUARANTEED, 4 },
        };
        sd_bus *bus = NULL;
        CHECK(sd_bus_open_system(&bus) >= 0);
        for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++) {
                char rel[256], err[512], p[PATH_MAX];
                if (tree[i].uid)
                        pod_cgroup(rel, sizeof(rel), tree[i].qos, tree[i].uid);
                else
                        qos_cgroup(rel, sizeof(rel), tree[i].qos);
                const char *unit = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
                if (kubelet_slice_start(bus, unit, tree[i].cpu_weight, err, sizeof(err)) < 0) {
                        fprintf(stderr, "%s\n", err);
                        CHECK(false);
                }
                snprintf(p, sizeof(p), "%s/%s/cgroup.procs", base_of(NULL), rel);
                for (int k = 0; k < wait_limit() && access(p, F_OK) < 0; k++)
                        sleep_ms(10);
                CHECK(access(p, F_OK) == 0);
        }
        sd_bus_flush_close_unref(bus);
}

/* Whether systemd holds want[i] for props[i] of unit; reports what differs when loud. */
static bool unit_holds(sd_bus *bus, const char *unit, const char *const *props, const uint64_t *want, size_t n, bool loud) {
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
                char err[512];
                uint64_t v = 0;
                if (kubelet_slice_property(bus, unit, props[i], &v, err, sizeof(err)) < 0) {
                        ok = false;
                        if (loud)
                                fprintf(stderr, "%s\n", err);
                } else if (v != want[i]) {
                        ok = false;
                        if (loud)
                                fprintf(stderr, "%s: %s is %llu, want %llu\n", unit, props[i], (unsigned long long) v,
                                        (unsigned long long) want[i]);
                }
        }
        return ok;
}

/* On the systemd driver: waits (wait_limit(), polling every 100 ms) until the pod's limits are
 * unit properties systemd holds, so that a daemon-reload writes them again, not only cgroup
 * files. The agent sets them through systemd after its cgroupfs writes, so they may come a moment
 * after the files show them. quota_usec is per period of 100 ms. */
static bool systemd_holds(const char *rel, uint64_t quota_usec, uint64_t mem_max, uint64_t mem_high) {
        static const char *const props[] = { "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "MemoryMax", "MemoryHigh", "TasksMax" };
        const uint64_t want[] = { quota_usec * 10, 100000, mem_max, mem_high, 300 };
        const char *unit = strrchr(rel, '/') + 1;
        sd_bus *bus = NULL;
        if (sd_bus_open_system(&bus) < 0)
                return false;
        bool ok = false;
        for (int i = 0; i < wait_limit() / 10 && !ok; i++) {
                ok = unit_holds(bus, unit, props, want, 5, false);
                if (!ok)
                        sleep_ms(100);
        }
        ok = ok || unit_holds(bus, unit, props, want, 5, true);
        sd_bus_flush_close_unref(bus);
        return ok;
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
        v2 = !scratch_cgroup_has_v1(scratch, "cpu") && scratch_cgroup_path(scratch, NULL);
        if (!v2 && (!scratch_cgroup_has_v1(scratch, "cpu") || !scratch_cgroup_has_v1(scratch, "memory") ||
                    !scratch_cgroup_has_v1(scratch, "pids"))) {
                fprintf(stderr, "SKIP: no cgroup v1 cpu, memory and pids hierarchies, nor a delegated cgroup v2\n");
                scratch_cgroup_destroy(scratch);
                return 77;
        }
        CHECK(getenv("COLO_BIN"));
        /* The VM (tests/vm/run-vm.sh sets COLO_TEST_IN_VM): top-level slices are allowed there. */
        const char *vm = getenv("COLO_TEST_IN_VM");
        systemd_driver = v2 && vm && strcmp(vm, "1") == 0 && access("/run/systemd/system", F_OK) == 0;
        snprintf(dir, sizeof(dir), "/tmp/colo-test-podlimits-XXXXXX");
        CHECK(mkdtemp(dir));
        atexit(remove_dir);
        FakeApiOptions ao = { .token = "test-token" };
        api = fake_api_start(&ao);
        CHECK(api);
        fake_api_add_node(api, NODE, "2", "8Gi");
        if (systemd_driver)
                atexit(stop_slices);
        atexit(stop_agent);

        if (systemd_driver)
                lay_out_slices();
        else
                lay_out_cgroupfs();
        char besteffort[128], limited[256], unlimited[256], malformed[256], burstable_pod[256], guaranteed_pod[256];
        qos_cgroup(besteffort, sizeof(besteffort), "besteffort");
        pod_cgroup(limited, sizeof(limited), "besteffort", UID_LIMITED);
        pod_cgroup(unlimited, sizeof(unlimited), "besteffort", UID_DEFAULT);
        pod_cgroup(malformed, sizeof(malformed), "besteffort", UID_MALFORMED);
        pod_cgroup(burstable_pod, sizeof(burstable_pod), "burstable", UID_BURSTABLE);
        pod_cgroup(guaranteed_pod, sizeof(guaranteed_pod), "", UID_GUARANTEED);
        fprintf(stderr, "kubelet's tree: %s driver, below '%s'\n", systemd_driver ? "systemd" : "cgroupfs", base_of(v2 ? NULL : "cpu"));

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

        /* Its own limits: 1.5 cores at kubelet's 100 ms period, 256 MiB (v2: memory.high at 90 %,
         * page-aligned, as kubelet's MemoryQoS), the configured pids.max. */
        CHECK(wait_quota(limited, "150000"));
        CHECK(v2 ? wait_knob("cpu", limited, "cpu.max", "150000 100000") : wait_knob("cpu", limited, "cpu.cfs_period_us", "100000"));
        CHECK(wait_knob("memory", limited, mem_limit_file(), "268435456"));
        CHECK(!v2 || wait_knob("memory", limited, "memory.high", "241590272"));
        CHECK(wait_knob("pids", limited, "pids.max", "300"));
        CHECK(!systemd_driver || systemd_holds(limited, 150000, 268435456, 241590272));

        /* Requests only: the default cap of each kind. */
        CHECK(wait_quota(unlimited, "75000"));
        CHECK(wait_knob("memory", unlimited, mem_limit_file(), "201326592"));
        CHECK(!v2 || wait_knob("memory", unlimited, "memory.high", "181190656"));
        CHECK(wait_knob("pids", unlimited, "pids.max", "300"));
        CHECK(!systemd_driver || systemd_holds(unlimited, 75000, 201326592, 181190656));

        /* Malformed: the default cap (not its 1Gi memory limit either), and an Event on the pod. */
        CHECK(wait_quota(malformed, "75000"));
        CHECK(wait_knob("memory", malformed, mem_limit_file(), "201326592"));
        CHECK(!v2 || wait_knob("memory", malformed, "memory.high", "181190656"));
        CHECK(wait_knob("pids", malformed, "pids.max", "300"));
        for (int i = 0; i < wait_limit() && malformed_events() == 0; i++)
                sleep_ms(10);
        CHECK(malformed_events() == 1);
        /* Reported once per pod, not every period. */
        wait_periods(5);
        CHECK(malformed_events() == 1);
        CHECK(fake_api_count_requests(api, "POST", EVENTS) == 1);

        /* Online pods (Burstable below burstable/, Guaranteed directly in kubepods) keep kubelet's
         * values: colo writes no limit there. */
        CHECK(strcmp(quota_of(burstable_pod), "-1") == 0);
        CHECK(strcmp(knob("pids", burstable_pod, "pids.max"), "max") == 0);
        CHECK(strcmp(knob("memory", burstable_pod, mem_limit_file()), v2 ? "max" : "9223372036854771712") == 0);
        CHECK(strcmp(quota_of(guaranteed_pod), "-1") == 0);
        CHECK(strcmp(knob("pids", guaranteed_pod, "pids.max"), "max") == 0);

        /* The offline parent gets a dynamic quota, and it drops to the floor (all CPU reserved:
         * min_offline_cpu, 0.05 cores): v1 refuses a parent quota below a child's, so the pods'
         * quotas must come down to the parent's first. v2 has no such rule (the parent's cpu.max
         * caps the whole subtree): the pods keep their own quotas, checked after a few periods
         * more. No write may fail on the way. */
        write_config(true, "  reserved_cpu: 2\n  evict_cooldown: 1m\n");
        CHECK(kill(agent, SIGHUP) == 0);
        CHECK(wait_quota(besteffort, "5000"));
        if (!v2) {
                CHECK(wait_quota(limited, "5000"));
                CHECK(wait_quota(unlimited, "5000"));
        } else {
                wait_periods(3);
                CHECK(strcmp(quota_of(besteffort), "5000") == 0);
                CHECK(strcmp(quota_of(limited), "150000") == 0 && strcmp(quota_of(unlimited), "75000") == 0);
        }
        /* And back up: the parent first, then the pods' own quotas again. */
        write_config(false, "");
        CHECK(kill(agent, SIGHUP) == 0);
        CHECK(wait_quota(besteffort, "-1"));
        CHECK(wait_quota(limited, "150000"));
        CHECK(wait_quota(unlimited, "75000"));
        CHECK(agent_log_has("Reload: features.cpu_quota: false -> true") && agent_log_has("Reload: features.cpu_quota: true -> false"));
        CHECK(!agent_log_has("Failed to write"));
        CHECK(!agent_log_has("Cannot read back systemd unit") && !agent_log_has("Cannot set properties of systemd unit"));

        /* The annotation fixed: its own limits replace the cap. */
        json_t *fixed = offline_pod("malformed", UID_MALFORMED,
                                    "{\"containers\":{\"main\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},"
                                    "\"initContainers\":{}}");
        CHECK(fake_api_update_pod(api, fixed) > 0);
        CHECK(wait_quota(malformed, "100000"));
        CHECK(wait_knob("memory", malformed, mem_limit_file(), "1073741824"));
        CHECK(!v2 || wait_knob("memory", malformed, "memory.high", "966365184"));
        CHECK(!systemd_driver || systemd_holds(malformed, 100000, 1073741824, 966365184));

        stop_agent();
        fake_api_stop(api);
        remove_dir();
        CHECK(scratch_cgroup_destroy(scratch) == 0);
        printf("offline pods' own limits, the default cap and the malformed-annotation Event: ok\n");
        return 0;
}
