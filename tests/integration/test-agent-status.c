/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): `colo status` tells the agent's state honestly, and the
 * agent reports a failing status write once, not every period.
 *
 *  - a running agent: "agent: running", exit 0;
 *  - the agent stopped (SIGSTOP: alive, writing nothing) for more than 3 periods + 5 s: "not
 *    responding", the file "is stale", exit 1 (and `colo run` warns the same);
 *  - a corrupt file: "corrupt" with the path and the decoder's reason, exit 1;
 *  - status.json replaced by a directory: "cannot read", exit 1; the resumed agent then fails
 *    every write (rename onto a directory), and its log has one warning for the whole run of
 *    failures and one "written again" once the directory is gone;
 *  - a full disk (the state directory is a 1 MiB tmpfs, filled up): the same, once each, and
 *    `colo status` meanwhile calls the file stale.
 * The tmpfs lives in a private mount namespace of this test and its children, so it goes with
 * them whatever happens. Needs root and v1 or a delegated v2: exit 77. Waits are for the agent to do something; nothing is timed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define PERIOD_MS 200

static const char *colo_bin;
static char out_path[512], log_path[512], status_path[512];

static const char *read_all(const char *path) {
        static char buf[1 << 16];
        FILE *f = fopen(path, "r");
        if (!f)
                return "";
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return buf;
}

static int count(const char *text, const char *needle) {
        int n = 0;
        for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* `colo status` (or, with run, `colo run ... -- /bin/true`), its stdout and stderr in
 * out_path; returns the exit code. */
static int colo(bool run) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(127);
                if (run)
                        execl(colo_bin, colo_bin, "run", "--config", harness_config_path(), "--class", "offline",
                              "--name", "probe", "--", "/bin/true", (char *) NULL);
                else
                        execl(colo_bin, colo_bin, "status", "--config", harness_config_path(), (char *) NULL);
                _exit(127);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
        return WEXITSTATUS(st);
}

static bool status_says(int want_rc, const char *needle) {
        int rc = colo(false);
        const char *out = read_all(out_path);
        if (rc == want_rc && strstr(out, needle))
                return true;
        fprintf(stderr, "colo status: exit %d (want %d), want '%s' in:\n%s\n", rc, want_rc, needle, out);
        return false;
}

/* Waits (bounded) until the agent's log has n occurrences of needle. */
static bool log_reaches(const char *needle, int n) {
        for (int i = 0; i < 500; i++) {
                if (count(read_all(log_path), needle) >= n)
                        return true;
                harness_sleep_ms(20);
        }
        fprintf(stderr, "agent log never had %d x '%s':\n%s\n", n, needle, read_all(log_path));
        return false;
}

static void unmount_state_dir(void) {
        (void) umount2(harness_state_dir(), MNT_DETACH);   /* before the harness removes its directory */
}

/* Fills the file system of dir until it has no space left. */
static void fill_up(const char *path) {
        static char block[1 << 16];
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        while (write(fd, block, sizeof(block)) > 0)
                ;
        CHECK(errno == ENOSPC);
        while (write(fd, block, 1) > 0)
                ;
        CHECK(close(fd) == 0);
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        colo_bin = argv[1];
        /* Next to the state directory, which the agent creates. */
        snprintf(out_path, sizeof(out_path), "%s.status.out", harness_state_dir());
        snprintf(log_path, sizeof(log_path), "%s.agent.log", harness_state_dir());
        snprintf(status_path, sizeof(status_path), "%s/status.json", harness_state_dir());
        CHECK(unshare(CLONE_NEWNS) == 0);
        CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
        CHECK(mkdir(harness_state_dir(), 0755) == 0);
        CHECK(mount("colo-test-state", harness_state_dir(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") == 0);
        atexit(unmount_state_dir);      /* runs before the harness's own teardown (registered earlier) */
        harness_start_agent_logged(PERIOD_MS, log_path);
        pid_t agent = harness_agent_pid();
        CHECK(status_says(0, "agent:     running"));

        /* Alive but silent for 3 periods + 5 s and a bit: stale. */
        CHECK(kill(agent, SIGSTOP) == 0);
        harness_sleep_ms(3 * PERIOD_MS + 5000 + 500);
        CHECK(status_says(1, "is stale"));
        CHECK(strstr(read_all(out_path), "not responding"));
        CHECK(strstr(read_all(out_path), status_path));
        CHECK(colo(true) == 0);         /* `colo run` says so too, and runs the command all the same */
        CHECK(strstr(read_all(out_path), "Agent not responding: the status file"));

        /* Corrupt: the decoder's reason and the path. */
        FILE *f = fopen(status_path, "w");
        CHECK(f && fputs("{\"agent\": {\"pid\": 1", f) >= 0 && fclose(f) == 0);
        CHECK(status_says(1, "the status file is corrupt"));
        CHECK(strstr(read_all(out_path), status_path));

        /* Unreadable: a directory where the file should be; the agent's writes fail meanwhile. */
        CHECK(unlink(status_path) == 0 && mkdir(status_path, 0755) == 0);
        CHECK(status_says(1, "cannot read the status file"));
        CHECK(kill(agent, SIGCONT) == 0);
        CHECK(log_reaches("Failed to write the status file", 1));
        /* Ten more periods of failing writes add nothing to the log. */
        harness_sleep_ms(10 * PERIOD_MS);
        CHECK(count(read_all(log_path), "Failed to write the status file") == 1);
        CHECK(rmdir(status_path) == 0);
        CHECK(log_reaches("is written again", 1));
        CHECK(count(read_all(log_path), "Failed to write the status file") == 1);
        CHECK(count(read_all(log_path), "is written again") == 1);
        CHECK(status_says(0, "agent:     running"));

        /* A full disk: every write fails with ENOSPC, logged once; the file goes stale meanwhile. */
        char filler[600];
        snprintf(filler, sizeof(filler), "%s/filler", harness_state_dir());
        fill_up(filler);
        CHECK(log_reaches("Failed to write the status file", 2));
        CHECK(strstr(read_all(log_path), "No space left on device"));
        harness_sleep_ms(3 * PERIOD_MS + 5000 + 500);
        CHECK(status_says(1, "is stale"));
        CHECK(count(read_all(log_path), "Failed to write the status file") == 2);
        CHECK(unlink(filler) == 0);
        CHECK(log_reaches("is written again", 2));
        CHECK(count(read_all(log_path), "Failed to write the status file") == 2);
        CHECK(status_says(0, "agent:     running"));
        unmount_state_dir();
        r = harness_teardown();
        (void) unlink(out_path);
        (void) unlink(log_path);
        return r;
}
