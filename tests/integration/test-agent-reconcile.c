/* Integration test on real cgroups (v1 here, v2 in the VM): a knob colo owns, changed behind its
 * back while the agent runs, is put back and counted. With features.cpu_quota off the offline
 * parent's quota is "unlimited" and the batch tier's CPU weight fixed, so colo's wanted values
 * never change and only a read-back can notice the foreign ones: a 1-core quota written into
 * offline's cpu.cfs_quota_us (v2: cpu.max) and shares/weight 2 written into offline/batch's
 * cpu.shares (v2: cpu.weight) are expected back within a few periods (the bound is loose for
 * emulation: 40 periods of 250 ms), each logged with its path and counted in
 * colo_cgroup_knob_restored_total{file}. Then `colo agent --dry-run` on the same tree logs the
 * write it would make to undo a foreign quota, with the value found, and writes nothing. Needs
 * root and cgroups: exit 77 otherwise. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-harness.h"

#define PERIOD_MS 250

static void write_foreign(const char *path, const char *value) {
        FILE *f = fopen(path, "w");
        CHECK(f);
        CHECK(fputs(value, f) >= 0);
        CHECK(fclose(f) == 0);
        fprintf(stderr, "wrote '%s' to %s behind colo's back\n", value, path);
}

/* The first line of a cgroup file, newline stripped, into buf. */
static const char *first_line(const char *path, char *buf, size_t size) {
        snprintf(buf, size, "%s", harness_read_text(path));
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

/* Waits until path holds want again (at most 40 periods); true when it does. */
static bool wait_restored(const char *path, const char *want) {
        char got[128] = "";
        for (int i = 0; i < 40 * PERIOD_MS / 25; i++) {
                if (strcmp(first_line(path, got, sizeof(got)), want) == 0)
                        return true;
                harness_sleep_ms(25);
        }
        fprintf(stderr, "%s holds '%s', colo's value was '%s'\n", path, got, want);
        return false;
}

static uint64_t restored_total(const char *file) {
        const char *m = harness_http_get(harness_metrics_port(), "/metrics");
        CHECK(m);
        char key[128];
        snprintf(key, sizeof(key), "colo_cgroup_knob_restored_total{file=\"%s\"} ", file);
        const char *p = strstr(m, key);
        return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* s as the agent's logfmt log has it: a backslash (systemd's "\x2d" in the name of the v2
 * offline slice) doubled. */
static const char *logfmt_escaped(const char *s, char *buf, size_t size) {
        size_t n = 0;
        for (; *s && n + 3 < size; s++) {
                if (*s == '\\')
                        buf[n++] = '\\';
                buf[n++] = *s;
        }
        buf[n] = '\0';
        return buf;
}

/* Writes foreign into rel/file, then checks the agent put colo's value back and said so. */
static void check_restored(const char *controller, const char *rel, const char *file, const char *foreign,
                           const char *log_path) {
        char path[512], colo_value[128];
        snprintf(path, sizeof(path), "%s/%s", rel, file);
        snprintf(path, sizeof(path), "%s", harness_cg_path(controller, path));
        first_line(path, colo_value, sizeof(colo_value));
        CHECK(strcmp(colo_value, foreign) != 0);
        write_foreign(path, foreign);
        CHECK(wait_restored(path, colo_value));
        /* Counted once it is back (the metrics page is rendered on each scrape). */
        uint64_t n = 0;
        for (int i = 0; i < 40 && n == 0; i++)
                if ((n = restored_total(file)) == 0)
                        harness_sleep_ms(25);
        fprintf(stderr, "%s restored; colo_cgroup_knob_restored_total{file=\"%s\"} = %" PRIu64 "\n", path, file, n);
        CHECK(n >= 1);
        char line[1200], escaped[1100];
        snprintf(line, sizeof(line), "Restoring '%s'", logfmt_escaped(path, escaped, sizeof(escaped)));
        CHECK(strstr(harness_read_text(log_path), line));
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, "features:\n  cpu_quota: false\n");
        if (r != 0)
                return r;
        char log_path[512];
        snprintf(log_path, sizeof(log_path), "%s/agent.log", harness_dir());
        harness_start_agent_logged(PERIOD_MS, log_path);

        bool v2 = harness_v2();
        /* Let the first periods apply the plan: the offline quota is unlimited then. */
        int64_t quota = 0, period = 0;
        for (int i = 0; i < 200 && quota != -1; i++) {
                harness_read_cpu_quota("offline", &quota, &period);
                if (quota != -1)
                        harness_sleep_ms(25);
        }
        CHECK(quota == -1);
        harness_sleep_ms(2 * PERIOD_MS);

        if (v2) {
                check_restored("cpu", "offline", "cpu.max", "100000 100000", log_path);
                check_restored("cpu", "offline/batch", "cpu.weight", "2", log_path);
        } else {
                check_restored("cpu", "offline", "cpu.cfs_quota_us", "100000", log_path);
                check_restored("cpu", "offline/batch", "cpu.shares", "2", log_path);
        }
        CHECK(harness_alive(harness_agent_pid()));

        /* A dry run reads what it would change and changes nothing: with the agent stopped and
         * the quota foreign again, `colo agent --dry-run` logs the write (path, the value now)
         * and leaves the file alone. */
        CHECK(harness_stop_agent() == 0);
        char path[512], line[1200], now[128], escaped[1100];
        snprintf(path, sizeof(path), "%s", harness_cg_path("cpu", v2 ? "offline/cpu.max" : "offline/cpu.cfs_quota_us"));
        const char *foreign = v2 ? "100000 100000" : "100000";
        write_foreign(path, foreign);
        char dry_log[512];
        snprintf(dry_log, sizeof(dry_log), "%s/dry-run.log", harness_dir());
        /* Still running when stopped: -1. Long enough for its first periods, even emulated. */
        CHECK(harness_agent_attempt((const char *const[]) { "--dry-run", NULL }, dry_log, 6000) == -1);
        snprintf(line, sizeof(line), "to '%s' (now '%s')", logfmt_escaped(path, escaped, sizeof(escaped)), foreign);
        fprintf(stderr, "dry run log has \"%s\": %s\n", line, strstr(harness_read_text(dry_log), line) ? "yes" : "no");
        CHECK(strstr(harness_read_text(dry_log), line));
        CHECK(strcmp(first_line(path, now, sizeof(now)), foreign) == 0);
        return harness_teardown();
}
