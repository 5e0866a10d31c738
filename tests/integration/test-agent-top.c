/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): `colo top` against a running agent, driven under tmux as a
 * person would use it (send-keys, capture-pane) on an 80x24 terminal: the live screen names the
 * agent and the workloads, the sort keys reorder them, colours appear only when asked for, and q
 * quits. Also the plain one-shot mode without a terminal. The tmux server is a private one (its
 * own socket) and is killed at the end. Waits poll the screen for up to 10 s (screen refreshes
 * are 0.2 s apart); needs root and v1 or a delegated v2: exit 77 otherwise, and tmux
 * (scripts/install-deps.sh installs it; tests/vm/packages.txt puts it in the VM). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define PERIOD_MS 500

static char tmux_socket[64], colo_path[512];

static void tmux_kill_server(void) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "tmux -L %s kill-server >/dev/null 2>&1", tmux_socket);
        (void) system(cmd);
}

/* The visible screen, with (escapes) or without SGR escape sequences; static buffer. */
static const char *capture(bool escapes) {
        static char buf[1 << 16];
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p %s -t top 2>/dev/null", tmux_socket, escapes ? "-e" : "");
        FILE *p = popen(cmd, "r");
        CHECK(p);
        size_t n = fread(buf, 1, sizeof(buf) - 1, p);
        buf[n] = '\0';
        (void) pclose(p);
        return buf;
}

static bool wait_screen(const char *want) {
        for (int i = 0; i < 100; i++) {
                if (strstr(capture(false), want))
                        return true;
                harness_sleep_ms(100);
        }
        fprintf(stderr, "screen never showed '%s'; it shows:\n%s\n", want, capture(false));
        return false;
}

static void keys(const char *k) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "tmux -L %s send-keys -t top %s", tmux_socket, k);
        CHECK(system(cmd) == 0);
}

static void start_top(const char *color) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "tmux -L %s -f /dev/null new-session -d -s top -x 80 -y 24 "
                 "'TERM=xterm-256color %s top --interval 0.2 --state-dir %s --color %s'",
                 tmux_socket, colo_path, harness_state_dir(), color);
        CHECK(system(cmd) == 0);
}

/* The row of name on the screen (its line number), or -1. */
static int row_of(const char *screen, const char *name) {
        int line = 0;
        for (const char *p = screen; *p; line++) {
                if (strncmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ' ')
                        return line;
                const char *nl = strchr(p, '\n');
                if (!nl)
                        break;
                p = nl + 1;
        }
        return -1;
}

/* Waits until first is listed above second. */
static bool wait_order(const char *first, const char *second) {
        for (int i = 0; i < 100; i++) {
                const char *screen = capture(false);
                int a = row_of(screen, first), b = row_of(screen, second);
                if (a >= 0 && b >= 0 && a < b)
                        return true;
                harness_sleep_ms(100);
        }
        fprintf(stderr, "'%s' never above '%s'; the screen shows:\n%s\n", first, second, capture(false));
        return false;
}

static bool session_gone(void) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "tmux -L %s has-session -t top 2>/dev/null", tmux_socket);
        for (int i = 0; i < 50; i++) {
                if (system(cmd) != 0)
                        return true;
                harness_sleep_ms(100);
        }
        return false;
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        CHECK(realpath(argv[1], colo_path));
        snprintf(tmux_socket, sizeof(tmux_socket), "colo-test-top-%d", (int) getpid());
        atexit(tmux_kill_server);
        harness_start_agent(PERIOD_MS);
        /* The CPU and the memory user are online: offline work is SCHED_IDLE and may not run at all
         * on a busy machine, which would leave the order to chance. */
        (void) harness_run("online", "normal", "spinner", (const char *const[]) { "spin", "1", NULL });
        (void) harness_run("online", "critical", "hog", (const char *const[]) { "hold", "64", NULL });
        (void) harness_run("offline", "batch", "batchjob", (const char *const[]) { "hold", "1", NULL });
        harness_sleep_ms(3 * PERIOD_MS);

        /* Interactive: sorted by CPU, the spinner first; m sorts by memory, the hog first. */
        start_top("never");
        CHECK(wait_screen("colo top - agent pid"));
        /* The title names the hierarchy the agent runs on: v1 here, v2 in the VM of tests/vm. */
        CHECK(wait_screen(harness_v2() ? ", v2, period" : ", v1, period"));
        CHECK(wait_screen("spinner"));
        CHECK(wait_screen("hog"));
        CHECK(wait_screen("batchjob"));
        CHECK(strstr(capture(false), "CPU*"));
        CHECK(wait_order("spinner", "hog"));
        const char *screen = capture(false);
        int lines = 0;
        for (const char *p = screen; (p = strchr(p, '\n')); p++)
                lines++;
        CHECK(lines <= 24);
        CHECK(!strstr(capture(true), "\033[32m") && !strstr(capture(true), "\033[36m"));       /* no colours */
        keys("m");
        CHECK(wait_screen("MEMORY*"));
        CHECK(wait_order("hog", "spinner"));
        keys("n");
        CHECK(wait_screen("NAME*"));
        CHECK(wait_order("batchjob", "hog"));
        keys("q");
        CHECK(session_gone());

        /* With colours: online rows green, offline rows cyan. */
        start_top("always");
        CHECK(wait_screen("spinner"));
        CHECK(wait_screen("batchjob"));
        const char *colored = capture(true);
        CHECK(strstr(colored, "\033[32m") && strstr(colored, "\033[36m"));
        keys("q");
        CHECK(session_gone());

        /* Without a terminal: one plain screen, every workload, no escape sequences. */
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s top --state-dir %s </dev/null", colo_path, harness_state_dir());
        FILE *p = popen(cmd, "r");
        CHECK(p);
        static char out[1 << 16];
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        CHECK(WEXITSTATUS(pclose(p)) == 0);
        CHECK(strstr(out, "colo top - agent pid") && strstr(out, harness_v2() ? ", v2, period" : ", v1, period"));
        CHECK(strstr(out, "spinner") && strstr(out, "hog") && strstr(out, "batchjob"));
        CHECK(!strchr(out, '\033'));
        return harness_teardown();
}
