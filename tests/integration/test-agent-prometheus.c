/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): a real Prometheus (Debian's) scrapes a running standalone
 * agent, and tests/integration/prometheus-scrape.sh checks through Prometheus's HTTP API that the
 * series, types and labels are there and that every query of the shipped Grafana dashboard
 * returns data. Needs root and v1 or a delegated v2: exit 77; Prometheus itself must be installed (the test fails
 * without it: scripts/install-deps.sh installs it).
 * argv: colo, colo-test-workload, prometheus-scrape.sh, the dashboard JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define PERIOD_MS 500

int main(int argc, char **argv) {
        if (argc < 5) {
                fprintf(stderr, "usage: %s COLO WORKLOAD SCRAPE_SCRIPT DASHBOARD\n", argv[0]);
                return 2;
        }
        const char *script = argv[3], *dashboard = argv[4];
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        harness_start_agent(PERIOD_MS);
        (void) harness_run("online", "normal", "web", (const char *const[]) { "hold", "4", NULL });
        (void) harness_run("offline", "best-effort", "crunch", (const char *const[]) { "spin", "1", NULL });
        harness_sleep_ms(2 * PERIOD_MS);

        char port[16];
        snprintf(port, sizeof(port), "%d", harness_metrics_port());
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                execl(script, script, port, dashboard, "online/normal/web", "offline/best-effort/crunch", (char *) NULL);
                perror("exec prometheus-scrape.sh");
                _exit(127);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return harness_teardown();
}
