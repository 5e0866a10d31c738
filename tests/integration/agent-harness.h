/* End-to-end harness for the agent's integration tests: a scratch cgroup below the test's own
 * cgroup (scratch-cgroup.h) becomes the agent's managed subtree, a temporary directory holds the
 * configuration and the state directory, and `colo agent` / `colo run` are started as children
 * that die with the test (PR_SET_PDEATHSIG). harness_teardown() (also run at exit) stops them,
 * kills what is left in the scratch group and removes everything.
 *
 * Usage: main(argc, argv) with argv[1] = the colo executable, argv[2] = colo-test-workload. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HARNESS_SKIP 77

#define CHECK(cond)                                                                              \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        exit(1); /* atexit() tears the harness down */                         \
                }                                                                                \
        } while (0)

/* True when the managed root is in cgroup v2 (a delegated subtree, as in the VM of tests/vm),
 * false on v1. harness_cg_path() then ignores the controller: v2 has one hierarchy. */
bool harness_v2(void);

/* Sets everything up; extra_yaml is appended to the configuration (sections agent, metrics and
 * prediction are written by the harness, prediction last: pass only other sections, or NULL;
 * lines indented by two spaces at its start continue the prediction section). Returns 0, or
 * HARNESS_SKIP when not root or without either the v1 cpu and memory hierarchies or a delegated
 * cgroup v2. */
int harness_setup(int argc, char **argv, const char *extra_yaml);

/* Lines for the agent section of the configuration the next harness_start_agent() writes (each
 * indented by two spaces and ending in a newline), after the harness's own. */
void harness_set_agent_lines(const char *lines);
/* Starts `colo agent` and waits until its status file names it (at most 10 s). period_ms: agent.period. */
void harness_start_agent(unsigned period_ms);
/* The same with the agent's stdout and stderr going to log_path. */
void harness_start_agent_logged(unsigned period_ms, const char *log_path);
/* The agent's pid (0 when not started). */
pid_t harness_agent_pid(void);

/* Starts `colo run --class cls --tier tier --name name -- <workload> args...` (args: NULL-terminated,
 * given to colo-test-workload) and waits until the workload's process is in its leaf. Returns the
 * workload's pid (not the supervisor's). */
pid_t harness_run(const char *cls, const char *tier, const char *name, const char *const *args);
/* Like harness_run(), with the supervisor's stdout and stderr going to log_path. */
pid_t harness_run_logged(const char *cls, const char *tier, const char *name, const char *log_path,
                         const char *const *args);

/* Runs `colo <args...>` with the harness's --config appended, waits, returns its exit status. */
int harness_colo(const char *const *args);

/* agent.offline_placement as the harness configures it: "top" (the default), or "subtree" when
 * COLO_TEST_OFFLINE_PLACEMENT=subtree (to run a test against the old layout). */
const char *harness_offline_placement(void);

/* Absolute path of rel ("" = the managed root, "offline/batch/x/cgroup.procs") in the hierarchy
 * of controller ("cpu", "memory"). On v1 with the offline parent at the top, "offline/..." is in
 * the scratch group's sibling "<scratch>.offline" (removed with the scratch group). */
const char *harness_cg_path(const char *controller, const char *rel);
/* cgroup v2: the directory of the agent's offline slice ("/sys/fs/cgroup/<slice>", made or
 * not), and of its scope when the agent placed "offline" there (else NULL: a `colo run` before
 * the agent made "<subtree>/offline", which stays while its work runs). */
const char *harness_offline_slice(void);
const char *harness_offline_scope(void);

/* The CFS quota and period of group (relative to the managed root) in microseconds, from
 * cpu.cfs_quota_us/cpu.cfs_period_us (v1) or cpu.max (v2); quota -1 = unlimited. */
void harness_read_cpu_quota(const char *group, int64_t *ret_quota, int64_t *ret_period);

/* Whether the scratch group exists in the v1 hierarchy of controller (false on v2). */
bool harness_has_hierarchy(const char *controller);

/* Reads a number from a cgroup file or /proc file; exits the test if unreadable. */
int64_t harness_read_i64(const char *path);
/* Like harness_read_i64 but returns -1 when the file is missing. */
int64_t harness_try_read_i64(const char *path);

/* CPU time (user + system) of a process in seconds, from /proc/<pid>/stat. */
double harness_cpu_seconds(pid_t pid);
/* Resident memory of a process (VmRSS) in bytes, or 0 when it is gone. */
uint64_t harness_rss(pid_t pid);
bool harness_alive(pid_t pid);

/* The CPU share that pid keeps next to two hogs: in up to pairs pairs of 2 s windows, the hogs
 * stopped (SIGSTOP) for the first and running for the second, so both windows see the same
 * background load of a shared machine; returns the best ratio of pid's CPU time with the hogs to
 * alone, stopping at the first pair at or above stop_at. Each pair is reported on stderr as who. */
double harness_best_cpu_share(pid_t pid, const char *who, pid_t hog1, pid_t hog2, int pairs, double stop_at);

/* Waits for a `colo run` supervisor started by harness_run() (found by the workload name) to
 * exit, at most timeout_ms. Returns its wait status, or -1 on timeout. */
int harness_wait_run(const char *name, long timeout_ms);

void harness_sleep_ms(long ms);
/* How many times longer than on a real machine a bounded wait may take: COLO_TEST_TIMEOUT_SCALE
 * (the VM of tests/vm sets 10, its CPUs are emulated), else 1. */
long harness_timeout_scale(void);
/* The whole of a small file (up to 64 KiB), NUL-terminated, in a static buffer valid until the
 * next call; exits the test if it cannot be opened. */
const char *harness_read_text(const char *path);
/* A /proc/meminfo field ("MemTotal", "MemAvailable") in bytes; exits the test if missing. */
uint64_t harness_meminfo(const char *key);
/* GET path from 127.0.0.1:port over HTTP/1.0; the body of a 200 answer (static buffer, valid
 * until the next call), or NULL. */
const char *harness_http_get(int port, const char *path);
/* The agent's metrics port (127.0.0.1). */
int harness_metrics_port(void);
/* The configuration file the harness wrote (for `colo ... --config`). */
const char *harness_config_path(void);
/* The state directory (status.json lives there). */
const char *harness_state_dir(void);

/* The harness's temporary directory (configuration, state directory, logs). */
const char *harness_dir(void);
/* Stops the agent of harness_start_agent() with SIGTERM; its exit status, or -1. */
int harness_stop_agent(void);
/* Runs another `colo agent --config <the harness's> extra_args...` (NULL-terminated), output to
 * log_path, and waits at most timeout_ms for it to exit. Returns its exit status, or -1 when it
 * was still running (it is then stopped): for agents that must refuse to start. */
int harness_agent_attempt(const char *const *extra_args, const char *log_path, long timeout_ms);
/* For tests that start and stop processes themselves (the chaos test): the colo and workload
 * executables (with harness_config_path(), what a `colo` command line needs). The checkpoint,
 * profiles.ckpt, is in harness_dir(). */
const char *harness_colo_path(void);
const char *harness_workload_path(void);
/* Sends sig to the agent and reaps it (SIGKILL after 5 s if sig did not stop it). Returns its
 * wait status; the agent is then not running and harness_start_agent() starts a new one. */
int harness_kill_agent(int sig);

/* Stops everything and removes the scratch group. Returns 0, or 1 when the agent did not exit
 * cleanly on SIGTERM (a sanitizer report, a crash): return it from main(). */
int harness_teardown(void);
