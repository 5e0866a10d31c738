/* Integration test: no local privilege games with the agent's state directory. The agent runs
 * as root and writes there every period, so: a symlink planted at the lock path makes it refuse
 * to start, symlinks at the status paths are replaced, never written through (their targets stay
 * untouched); a state directory writable by others, or owned by another uid, is refused; the
 * lock is 0600; a second agent with another state directory cannot manage the same subtree;
 * and a state directory deleted while the agent runs is recreated. Bounded: every wait has a
 * limit. Needs root and v1 or a delegated v2 (the agent manages a scratch subtree): exit 77. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-harness.h"

static char state[512], victim[512], agent_log[512];

static const char *state_path(const char *name) {
        static char buf[4][600];
        static int next;
        char *p = buf[next++ % 4];
        snprintf(p, sizeof(buf[0]), "%s/%s", state, name);
        return p;
}

static void write_victim(void) {
        FILE *f = fopen(victim, "w");
        CHECK(f && fputs("precious\n", f) >= 0 && fclose(f) == 0);
        CHECK(chmod(victim, 0644) == 0);
}

/* The root-owned file the symlinks point to, unchanged: content and mode. */
static bool victim_untouched(void) {
        char buf[64] = "";
        FILE *f = fopen(victim, "r");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        struct stat st;
        return strcmp(buf, "precious\n") == 0 && stat(victim, &st) == 0 && (st.st_mode & 07777) == 0644;
}

static bool log_mentions(const char *text) {
        char buf[16384] = "";
        FILE *f = fopen(agent_log, "r");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, text) != NULL;
}

/* An agent that must refuse to start: exits non-zero within 10 s, saying why. */
static void expect_refused(const char *const *extra_args, const char *why) {
        int status = harness_agent_attempt(extra_args, agent_log, 10000);
        fprintf(stderr, "agent exit status %d (expected non-zero, mentioning \"%s\")\n", status, why);
        CHECK(status > 0);
        CHECK(log_mentions(why));
}

static void wait_for_regular(const char *path, mode_t mode) {
        struct stat st;
        for (int i = 0; i < 500; i++) {
                if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode)
                        return;
                harness_sleep_ms(20);
        }
        fprintf(stderr, "'%s' is not a regular file of mode %04o after 10 s\n", path, (unsigned) mode);
        exit(1);
}

/* The harness's configuration with another metrics port, so that a second agent would not fail
 * on the port before it gets to the subtree. */
static void write_other_config(char *path, size_t size) {
        char text[4096] = "", port[32], other_port[32];
        snprintf(path, size, "%s/colo.yaml", harness_dir());
        FILE *f = fopen(path, "r");
        CHECK(f);
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        snprintf(port, sizeof(port), "port: %d\n", harness_metrics_port());
        snprintf(other_port, sizeof(other_port), "port: %d\n", harness_metrics_port() + 1);
        char *p = strstr(text, port);
        CHECK(p && strlen(port) == strlen(other_port));
        memcpy(p, other_port, strlen(other_port));
        snprintf(path, size, "%s/other.yaml", harness_dir());
        f = fopen(path, "w");
        CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        snprintf(state, sizeof(state), "%s", harness_state_dir());
        snprintf(victim, sizeof(victim), "%s/victim", harness_dir());
        snprintf(agent_log, sizeof(agent_log), "%s/refused-agent.log", harness_dir());
        write_victim();
        CHECK(mkdir(state, 0755) == 0);

        /* A symlink at the lock path: refused, the target neither created nor changed. */
        CHECK(symlink(victim, state_path("agent.lock")) == 0);
        expect_refused(NULL, "agent.lock' is a symbolic link");
        CHECK(victim_untouched());
        CHECK(unlink(state_path("agent.lock")) == 0);

        /* A state directory others may write, or another user's: refused. */
        CHECK(chmod(state, 0777) == 0);
        expect_refused(NULL, "is writable by group or others (mode 0777)");
        CHECK(chmod(state, 0755) == 0);
        CHECK(chown(state, 65534, 65534) == 0);
        expect_refused(NULL, "is owned by uid 65534");
        CHECK(chown(state, 0, 0) == 0);

        /* Symlinks at the status file and its temporary: replaced, never written through. A lock
         * file left 0644 (by an older colo) is made root-only. */
        CHECK(symlink(victim, state_path("status.json")) == 0);
        CHECK(symlink(victim, state_path("status.json.tmp")) == 0);
        int fd = open(state_path("agent.lock"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && fchmod(fd, 0644) == 0 && close(fd) == 0);
        harness_start_agent(500);
        wait_for_regular(state_path("status.json"), 0644);
        CHECK(victim_untouched());
        struct stat st;
        CHECK(stat(state_path("agent.lock"), &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 0);

        /* A second agent with another state directory (and metrics port), on the same subtree:
         * refused. */
        char other_state[600], other_config[600];
        snprintf(other_state, sizeof(other_state), "%s/other-state", harness_dir());
        write_other_config(other_config, sizeof(other_config));
        expect_refused((const char *const[]) { "--config", other_config, "--state-dir", other_state, NULL },
                       "Another colo agent manages the subtree");

        /* The state directory deleted under the running agent: recreated, status and lock too. */
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' 2>/dev/null", state);
        /* The agent may create its temporary file while rm walks the directory: rm again. */
        int tries = 0;
        while (system(cmd) != 0 && ++tries < 20)
                ;
        CHECK(tries < 20);
        wait_for_regular(state_path("status.json"), 0644);
        wait_for_regular(state_path("agent.lock"), 0600);
        CHECK(stat(state, &st) == 0 && st.st_uid == 0 && (st.st_mode & 07777) == 0755);
        /* ...and locked again: an agent on the same state directory is refused. */
        expect_refused(NULL, "another colo agent is running with state directory");
        return harness_teardown();
}
