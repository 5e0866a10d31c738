/* The end-to-end node of k8s-node.h: files written as the kernel and kubelet lay them out, the
 * agent spawned with posix_spawn() and ended by its PID only. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s-node.h"

extern char **environ;

static void write_at(const char *dir, const char *rel, const char *content) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        for (char *c = strchr(p + strlen(dir) + 1, '/'); c; c = strchr(c + 1, '/')) {
                *c = '\0';
                (void) mkdir(p, 0755);
                *c = '/';
        }
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

char *k8s_node_read(const K8sNode *n, const char *rel) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", n->dir, rel);
        FILE *f = fopen(p, "r");
        if (!f)
                return NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        char buf[4096];
        size_t k;
        while (out && (k = fread(buf, 1, sizeof(buf), f)) > 0)
                fwrite(buf, 1, k, out);
        fclose(f);
        if (out)
                fclose(out);
        return text;
}

/* A cgroup v2 directory as the kernel shows it, with the knobs colo may write still empty. */
static void fake_cgroup(const char *dir, const char *path) {
        static const char *const knobs[] = { "cpu.max", "cpu.weight", "cpu.idle", "memory.low", "memory.min",
                                             "memory.high", "memory.swap.max" };
        static const struct {
                const char *file, *content;
        } files[] = {
                { "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n" },
                { "memory.current", "104857600\n" },
                { "memory.max", "max\n" },
                { "memory.stat", "anon 104857600\nfile 0\ninactive_file 0\n" },
                { "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n" },
                { "cgroup.procs", "" },
                { "cgroup.controllers", "cpuset cpu io memory pids\n" },
                { "cgroup.subtree_control", "cpuset cpu io memory pids\n" },
        };
        char rel[512];
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(rel, sizeof(rel), "fs/%s/%s", path, files[i].file);
                write_at(dir, rel, files[i].content);
        }
        for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
                snprintf(rel, sizeof(rel), "fs/%s/%s", path, knobs[i]);
                write_at(dir, rel, "");
        }
}

void k8s_node_init(K8sNode *n, const char *node_name, const char *cpu, const char *memory) {
        *n = (K8sNode) {};
        snprintf(n->dir, sizeof(n->dir), "/tmp/colo-test-k8s-XXXXXX");
        assert_non_null(mkdtemp(n->dir));
        FakeApiOptions ao = { .token = "test-token" };
        n->api = fake_api_start(&ao);
        assert_non_null(n->api);
        fake_api_add_node(n->api, node_name, cpu, memory);
        fake_cgroup(n->dir, "kubepods");
        fake_cgroup(n->dir, "kubepods/burstable");
        fake_cgroup(n->dir, "kubepods/besteffort");
}

void k8s_node_add_pod_cgroup(K8sNode *n, const char *qos_dir, const char *uid) {
        char path[256];
        snprintf(path, sizeof(path), "kubepods/%s%spod%s", qos_dir, qos_dir[0] ? "/" : "", uid);
        fake_cgroup(n->dir, path);
}

void k8s_node_start_agent(K8sNode *n, const char *colo_bin, const char *node_name, const char *extra_agent,
                          int metrics_port) {
        char text[2048], metrics[96];
        snprintf(text, sizeof(text),
                 "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                 "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
                 "contexts:\n- name: test\n  context:\n    cluster: fake\n    user: agent\n"
                 "users:\n- name: agent\n  user:\n    token: test-token\n",
                 fake_api_url(n->api));
        write_at(n->dir, "kubeconfig", text);
        if (metrics_port > 0)
                snprintf(metrics, sizeof(metrics), "metrics:\n  enabled: true\n  port: %d\n", metrics_port);
        else
                snprintf(metrics, sizeof(metrics), "metrics:\n  enabled: false\n");
        char fs[128];
        snprintf(fs, sizeof(fs), "%s/fs", n->dir);
        snprintf(text, sizeof(text),
                 "agent:\n  cgroup_root_fs: \"%s\"\n  cgroup_mode: v2\n  state_dir: \"%s/state\"\n  period: 200ms\n"
                 "  fast_reaction: false\n  log_level: debug\n%s"
                 "%s"
                 "isolation:\n  evict_cooldown: 1s\n%s"
                 "prediction:\n  checkpoint_path: \"\"\n"
                 "kubernetes:\n  enabled: true\n  node_name: %s\n  kubeconfig: \"%s/kubeconfig\"\n"
                 "  cgroup_driver: %s\n  status_update_interval: 10s\n  stale_after: 2s\n",
                 n->cgroup_fs ? n->cgroup_fs : fs, n->dir, extra_agent ? extra_agent : "", metrics,
                 n->extra_isolation ? n->extra_isolation : "", node_name, n->dir,
                 n->cgroup_driver ? n->cgroup_driver : "cgroupfs");
        write_at(n->dir, "colo.yaml", text);

        char config[128], logpath[128];
        snprintf(config, sizeof(config), "%s/colo.yaml", n->dir);
        snprintf(logpath, sizeof(logpath), "%s/agent.log", n->dir);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        char *argv[] = { (char *) colo_bin, (char *) "agent", (char *) "--config", config, NULL };
        assert_int_equal(posix_spawn(&n->agent, colo_bin, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
}

void k8s_node_dump_log(const K8sNode *n) {
        char *log = k8s_node_read(n, "agent.log");
        fprintf(stderr, "--- agent log ---\n%s--- end ---\n", log ? log : "(none)");
        free(log);
}

void k8s_node_stop_agent(K8sNode *n) {
        if (n->agent <= 0)
                return;
        kill(n->agent, SIGTERM);
        int status = 0;
        for (int i = 0; i < 500 && waitpid(n->agent, &status, WNOHANG) == 0; i++)
                usleep(10000);
        if (waitpid(n->agent, &status, WNOHANG) == 0) {
                kill(n->agent, SIGKILL);
                waitpid(n->agent, &status, 0);
                n->agent = 0;
                fail_msg("the agent did not exit on SIGTERM");
        }
        n->agent = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                k8s_node_dump_log(n);
                fail_msg("the agent exited with status %d", status);
        }
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(p);
}

void k8s_node_done(K8sNode *n) {
        if (n->agent > 0) {
                kill(n->agent, SIGKILL);
                waitpid(n->agent, NULL, 0);
                n->agent = 0;
        }
        fake_api_stop(n->api);
        n->api = NULL;
        if (n->dir[0])
                nftw(n->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int k8s_node_free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}
