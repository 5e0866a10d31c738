/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): an agent killed with SIGKILL (a crash loop) long before its
 * checkpoint interval (5 min, the default) still saves its usage profiles, because the next save
 * is due an interval after the checkpoint file's own last save, not after each start:
 *  1. no checkpoint yet: the agent saves within its first periods;
 *  2. a checkpoint older than the interval: the restarted agent saves again at once;
 *  3. a temporary file of a write cut short by a crash (".tmp.<dead pid>") is removed at start.
 * Before, each start waited 5 minutes, so an agent restarted more often never saved at all.
 * Needs root and v1 or a delegated v2: exit 77. Waits are bounded polls for the agent to act; nothing is timed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define PERIOD_MS 200
#define WAIT_MS 15000   /* bound on each wait: far below the 5 min interval the old code waited */

static char ckpt[512], stale_tmp[600];

static void crash_agent(void) {
        pid_t pid = harness_agent_pid();
        CHECK(kill(pid, SIGKILL) == 0);
        CHECK(waitpid(pid, NULL, 0) == pid);
}

static int64_t mtime_usec(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return -1;
        return (int64_t) st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
}

/* Waits until path has a modification time other than not_this (-1: until it exists). */
static bool saved_again(int64_t not_this) {
        for (int waited = 0; waited < WAIT_MS; waited += 50) {
                int64_t m = mtime_usec(ckpt);
                if (m >= 0 && m != not_this)
                        return true;
                harness_sleep_ms(50);
        }
        fprintf(stderr, "no checkpoint saved at '%s' within %d ms\n", ckpt, WAIT_MS);
        return false;
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        /* The harness puts the checkpoint next to the state directory. */
        snprintf(ckpt, sizeof(ckpt), "%s", harness_state_dir());
        char *slash = strrchr(ckpt, '/');
        CHECK(slash);
        snprintf(slash, sizeof(ckpt) - (size_t) (slash - ckpt), "/profiles.ckpt");

        harness_start_agent(PERIOD_MS);
        CHECK(saved_again(-1));
        crash_agent();

        /* Dated one interval and a minute ago; plus a crashed write's leftover. */
        int64_t old = mtime_usec(ckpt);
        struct timeval past[2] = { { .tv_sec = (time_t) (old / 1000000) - 360 }, { .tv_sec = (time_t) (old / 1000000) - 360 } };
        CHECK(utimes(ckpt, past) == 0);
        old = mtime_usec(ckpt);
        pid_t dead = fork();
        CHECK(dead >= 0);
        if (dead == 0)
                _exit(0);
        CHECK(waitpid(dead, NULL, 0) == dead);
        snprintf(stale_tmp, sizeof(stale_tmp), "%s.tmp.%d", ckpt, (int) dead);
        int fd = open(stale_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && write(fd, "half", 4) == 4 && close(fd) == 0);

        harness_start_agent(PERIOD_MS);
        CHECK(access(stale_tmp, F_OK) < 0 && errno == ENOENT);      /* removed before the agent's first status */
        CHECK(saved_again(old));
        crash_agent();

        harness_start_agent(PERIOD_MS);
        return harness_teardown();
}
