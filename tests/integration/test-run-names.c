/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): `colo run --name X` started RACERS times at once has
 * exactly one winner and RACERS - 1 "name in use" failures, across classes and tiers, over
 * ROUNDS rounds (even rounds: all in one tier, the shared leaf; odd rounds: spread over the four
 * tiers), with the agent running (it removes empty leaves meanwhile). After each round nothing
 * of the name is left in any hierarchy. Names that are cgroup files or hidden are refused with
 * nothing created. Needs root and v1 or a delegated v2: exit 77.
 *
 * A winner's command says "started" on a shared pipe and then waits for its stdin to close; a
 * loser exits. The test waits until each racer has done one or the other: it times nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define RACERS 8
#define ROUNDS 12
#define ROUND_TIMEOUT_MS 60000  /* a hung racer fails the test instead of hanging it */

static const char *const tiers[4][2] = {
        { "online", "critical" }, { "online", "normal" }, { "offline", "batch" }, { "offline", "best-effort" },
};

static const char *colo_bin;

static pid_t start_racer(int i, int round, int stdin_fd, int started_fd) {
        const char *const *t = tiers[round % 2 == 0 ? 2 : i % 4];
        char err_path[64];
        snprintf(err_path, sizeof(err_path), "%s/racer-%d.err", harness_state_dir(), i);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid > 0)
                return pid;
        int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err_fd < 0 || dup2(stdin_fd, 0) < 0 || dup2(started_fd, 1) < 0 || dup2(err_fd, 2) < 0)
                _exit(125);
        execl(colo_bin, colo_bin, "run", "--config", harness_config_path(), "--class", t[0], "--tier", t[1],
              "--name", "X", "--", "/bin/sh", "-c", "echo started; read x; exit 0", (char *) NULL);
        _exit(127);
}

static bool file_contains(const char *path, const char *needle) {
        char buf[4096];
        FILE *f = fopen(path, "r");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

/* Nothing named X under any tier, in the cpu and the memory hierarchy. */
static bool name_gone(void) {
        for (int t = 0; t < 4; t++) {
                char rel[64];
                snprintf(rel, sizeof(rel), "%s/%s/X", tiers[t][0], tiers[t][1]);
                struct stat st;
                if (stat(harness_cg_path("cpu", rel), &st) == 0 || stat(harness_cg_path("memory", rel), &st) == 0) {
                        fprintf(stderr, "left behind: %s\n", rel);
                        return false;
                }
        }
        return true;
}

/* One round; returns the number of winners. */
static int race_round(int round) {
        int in[2], started[2];
        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(started, O_CLOEXEC) == 0);
        pid_t pids[RACERS];
        int status[RACERS];
        bool exited[RACERS] = {};
        for (int i = 0; i < RACERS; i++)
                pids[i] = start_racer(i, round, in[0], started[1]);
        close(in[0]);
        close(started[1]);

        int winners = 0, losers = 0;
        for (int waited = 0; winners + losers < RACERS; waited += 20) {
                CHECK(waited < ROUND_TIMEOUT_MS);
                char buf[256];
                struct pollfd p = { .fd = started[0], .events = POLLIN };
                if (poll(&p, 1, 20) > 0) {
                        ssize_t n = read(started[0], buf, sizeof(buf));
                        for (ssize_t k = 0; k < n; k++)
                                winners += buf[k] == '\n';
                }
                for (int i = 0; i < RACERS; i++)
                        if (!exited[i] && waitpid(pids[i], &status[i], WNOHANG) == pids[i]) {
                                exited[i] = true;
                                losers++;
                        }
        }
        if (winners != 1)
                fprintf(stderr, "round %d: %d winners\n", round, winners);
        close(in[1]);           /* the winners' `read` ends */
        for (int i = 0; i < RACERS; i++) {
                if (!exited[i])
                        CHECK(waitpid(pids[i], &status[i], 0) == pids[i]);
                CHECK(WIFEXITED(status[i]));
                char err_path[64];
                snprintf(err_path, sizeof(err_path), "%s/racer-%d.err", harness_state_dir(), i);
                if (exited[i]) {    /* a loser: refused, and said why */
                        if (WEXITSTATUS(status[i]) != 1) {
                                char text[2048] = "";
                                FILE *f = fopen(err_path, "r");
                                size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
                                text[n] = '\0';
                                if (f)
                                        fclose(f);
                                fprintf(stderr, "round %d: racer %d exited %d, saying:\n%s\n", round, i,
                                        WEXITSTATUS(status[i]), text);
                        }
                        CHECK(WEXITSTATUS(status[i]) == 1);
                        CHECK(file_contains(err_path, "name in use"));
                } else
                        CHECK(WEXITSTATUS(status[i]) == 0);
        }
        close(started[0]);
        return winners;
}

static void refused(const char *name) {
        int status = harness_colo((const char *const[]) { "run", "--class", "offline", "--name", name, "--", "/bin/true",
                                                          NULL });
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
        char rel[128];
        snprintf(rel, sizeof(rel), "offline/batch/%s", name);
        struct stat st;         /* "tasks" is a file of every v1 group: no directory, then */
        CHECK(stat(harness_cg_path("cpu", rel), &st) < 0 || !S_ISDIR(st.st_mode));
        CHECK(stat(harness_cg_path("memory", rel), &st) < 0 || !S_ISDIR(st.st_mode));
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        colo_bin = argv[1];
        harness_start_agent(200);

        int multi = 0;
        for (int round = 0; round < ROUNDS; round++) {
                int w = race_round(round);
                multi += w > 1;
                CHECK(w == 1);
                CHECK(name_gone());
        }
        fprintf(stderr, "%d of %d rounds had 2+ winners\n", multi, ROUNDS);

        refused("memory.limit_in_bytes");
        refused("cpuset.cpus");
        refused(".hidden");
        refused("tasks");
        return harness_teardown();
}
