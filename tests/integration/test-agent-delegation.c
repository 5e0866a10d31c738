/* Integration test on cgroup v2 under systemd (the VM of tests/vm): a broken delegation. The test
 * runs in a Delegate=yes service and keeps a second process in the service's cgroup, as a unit
 * with a helper process would; `colo agent` started there moves itself into a leaf, but the
 * service's cgroup cannot enable controllers for the managed subtree while it holds a process
 * (the v2 "no internal processes" rule). The agent must say so once per missing controller, with
 * the cgroup, the cause and the fix, and must not report itself ready: over several periods its
 * sd_notify messages (to our NOTIFY_SOCKET) carry "isolation not in force" and never READY=1,
 * and /metrics, the status document (/status) and `colo status` say which protections are not in
 * force, each missing one with its cgroup, cause and fix.
 * Creates only below its own cgroup and removes it. Needs root and a delegated v2: exit 77. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-harness.h"            /* CHECK() and harness_http_get() only: no harness set-up here */

static pid_t agent, sleeper;
static char own[PATH_MAX], managed[PATH_MAX], leaf[PATH_MAX], dir[64] = "/tmp/colo-test-delegation-XXXXXX";

static void remove_tree(const char *path) {
        char cmd[PATH_MAX + 64];
        /* Depth-first rmdir of cgroup directories (their files cannot be removed, only the dirs). */
        snprintf(cmd, sizeof(cmd), "find '%s' -depth -type d -exec rmdir {} + 2>/dev/null", path);
        (void) system(cmd);
}

static void cleanup(void) {
        if (agent > 0) {
                (void) kill(agent, SIGKILL);
                (void) waitpid(agent, NULL, 0);
        }
        if (sleeper > 0) {
                (void) kill(sleeper, SIGKILL);
                (void) waitpid(sleeper, NULL, 0);
        }
        if (managed[0])
                remove_tree(managed);
        if (leaf[0])
                (void) rmdir(leaf);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) system(cmd);
}

static int count(const char *text, const char *needle) {
        int n = 0;
        for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* Whether the document's protection name says "in_force": false (its next member). */
static bool protection_not_in_force(const char *doc, const char *name) {
        char key[64];
        snprintf(key, sizeof(key), "\"name\": \"%s\",", name);
        const char *p = strstr(doc, key);
        if (!p)
                return false;
        p += strlen(key);
        p += strspn(p, " \n");
        return strncmp(p, "\"in_force\": false", strlen("\"in_force\": false")) == 0;
}

/* The status document (/status and `colo status`) says isolation is not in force, and for each
 * missing controller the cgroup, the cause and the fix. */
static void check_status(const char *colo, const char *config, int port) {
        const char *doc = harness_http_get(port, "/status");
        CHECK(doc);
        CHECK(strstr(doc, "\"isolation_in_force\": false"));
        CHECK(protection_not_in_force(doc, "cpu"));
        CHECK(protection_not_in_force(doc, "memory"));
        CHECK(strstr(doc, managed));
        CHECK(strstr(doc, "still holds processes"));
        char cmd[512], out[16384];
        snprintf(cmd, sizeof(cmd), "'%s' status --config '%s'", colo, config);
        FILE *p = popen(cmd, "r");
        CHECK(p);
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        CHECK(pclose(p) == 0);
        fprintf(stderr, "--- colo status ---\n%s", out);
        CHECK(strstr(out, "isolation: NOT IN FORCE"));
        char line[PATH_MAX + 64];
        snprintf(line, sizeof(line), "missing: cpu in '%s'", managed);
        CHECK(strstr(out, line));
        snprintf(line, sizeof(line), "missing: memory in '%s'", managed);
        CHECK(strstr(out, line));
        CHECK(strstr(out, "fix: let colo be the only process of its unit"));
}

int main(int argc, char **argv) {
        CHECK(argc >= 2);
        char self[512];
        int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, self, sizeof(self) - 1) : -1;
        if (fd >= 0)
                close(fd);
        self[n > 0 ? n : 0] = '\0';
        if (geteuid() != 0 || strncmp(self, "0::/", 4) != 0 || strchr(self, '\n') != self + n - 1 || n <= 5) {
                fprintf(stderr, "SKIP: needs root in a delegated cgroup v2 (the VM of tests/vm)\n");
                return 77;
        }
        self[n - 1] = '\0';
        snprintf(own, sizeof(own), "/sys/fs/cgroup%s", self + 3);
        if (access(own, W_OK) < 0) {
                fprintf(stderr, "SKIP: '%s' is not delegated to us\n", own);
                return 77;
        }
        atexit(cleanup);
        CHECK(mkdtemp(dir));
        char name[64];
        snprintf(name, sizeof(name), "colo-test-%d", (int) getpid());
        snprintf(managed, sizeof(managed), "%s/%s", own, name);
        snprintf(leaf, sizeof(leaf), "%s/agent", own);

        /* The second process of the service's cgroup. */
        sleeper = fork();
        CHECK(sleeper >= 0);
        if (sleeper == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        pause();
        }

        char config[128], log[128], sock_path[128];
        snprintf(config, sizeof(config), "%s/colo.yaml", dir);
        snprintf(log, sizeof(log), "%s/agent.log", dir);
        snprintf(sock_path, sizeof(sock_path), "%s/notify", dir);
        FILE *f = fopen(config, "w");
        CHECK(f);
        int port = 20000 + (int) (getpid() % 20000);
        fprintf(f, "agent:\n  subtree: %s\n  state_dir: %s/state\n  period: 200ms\nmetrics:\n  enabled: true\n  port: %d\n",
                name, dir, port);
        CHECK(fclose(f) == 0);

        int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHECK(sock >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        CHECK(bind(sock, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        struct timeval tv = { .tv_sec = 1 };
        CHECK(setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);

        agent = fork();
        CHECK(agent >= 0);
        if (agent == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || setenv("NOTIFY_SOCKET", sock_path, 1) < 0)
                        _exit(127);
                execl(argv[1], argv[1], "agent", "--config", config, (char *) NULL);
                _exit(127);
        }

        /* Several periods' worth of messages (a minute at most: the VM's CPUs are emulated). */
        int not_in_force = 0, ready = 0;
        for (int i = 0; i < 60 && not_in_force < 5; i++) {
                char msg[1024];
                ssize_t k = recv(sock, msg, sizeof(msg) - 1, 0);
                if (k <= 0) {
                        int status;
                        CHECK(waitpid(agent, &status, WNOHANG) == 0);   /* it keeps running, not ready */
                        continue;
                }
                msg[k] = '\0';
                fprintf(stderr, "sd_notify: %s\n", msg);
                ready += strstr(msg, "READY=1") != NULL;
                not_in_force += strstr(msg, "isolation not in force") != NULL;
        }
        close(sock);
        const char *metrics = harness_http_get(port, "/metrics");
        CHECK(metrics);
        CHECK(strstr(metrics, "colo_isolation_in_force 0\n"));
        CHECK(strstr(metrics, "colo_cgroup_controller_available{controller=\"cpu\"} 0\n"));
        CHECK(strstr(metrics, "colo_cgroup_controller_available{controller=\"memory\"} 0\n"));
        CHECK(strstr(metrics, "colo_protection_in_force{protection=\"cpu\"} 0\n"));
        CHECK(strstr(metrics, "colo_protection_in_force{protection=\"memory\"} 0\n"));
        check_status(argv[1], config, port);
        (void) kill(agent, SIGTERM);
        int status;
        CHECK(waitpid(agent, &status, 0) == agent);
        agent = 0;
        const char *text = harness_read_text(log);
        fprintf(stderr, "--- the agent's log ---\n%s", text);
        CHECK(ready == 0);
        CHECK(not_in_force >= 5);
        /* Each missing controller once, with the path, the cause and the fix. */
        CHECK(count(text, "no 'cpu' controller in the managed root") == 1);
        CHECK(count(text, "no 'memory' controller in the managed root") == 1);
        CHECK(strstr(text, managed) != NULL);
        CHECK(strstr(text, "still holds processes"));
        CHECK(strstr(text, "Fix: let colo be the only process of its unit"));
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return 0;
}
