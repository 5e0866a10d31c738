/* How the standalone front-ends (colo run, status, move) find the managed tree and the agent.
 *
 * A relative subtree ("colo") means "below the cgroup the agent was started in", which differs
 * between a shell and a systemd service. So when a live agent publishes its status file, the
 * front-ends resolve the subtree against the agent's cgroups (/proc/<agent pid>/cgroup) rather
 * than their own; without an agent they use their own, and an agent started later from the same
 * place adopts what they created. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "status/status-doc.h"
#include "util/error.h"
#include "util/macro.h"

typedef struct CgRoot CgRoot;

#define STATUS_FILE_NAME "status.json"
#define DEFAULT_CONFIG_PATH "/etc/colo/colo.yaml"

/* Fills buf with "<state_dir>/status.json". */
int session_status_path(const char *state_dir, char *buf, size_t size);

/* Loads the configuration: path if given (errors are fatal), else DEFAULT_CONFIG_PATH if it
 * exists, else the defaults. */
int session_load_config(const char *path, Config *ret, ColoError *err);

/* What the status file says about the agent. */
typedef enum StatusFileState {
        STATUS_FILE_ABSENT,             /* no file: no agent has run with this state directory */
        STATUS_FILE_UNREADABLE,         /* it exists but cannot be read (permissions, not a regular file, ...) */
        STATUS_FILE_CORRUPT,            /* read, but not a status document (truncated, garbage) */
        STATUS_FILE_AGENT_GONE,         /* a document whose agent (pid) has exited */
        STATUS_FILE_STALE,              /* its agent is alive but the document is older than STATUS_STALE_AFTER() */
        STATUS_FILE_LIVE,               /* a live agent wrote it recently */
        _STATUS_FILE_MAX,
        _STATUS_FILE_INVALID = -EINVAL,
} StatusFileState;

/* A document is stale once its own timestamp (updated_realtime_usec) is older than 3 of its
 * periods plus 5 s: the agent writes it every period, so it missed at least three writes. */
#define STATUS_STALE_AFTER(period_usec) (3 * (period_usec) + 5 * USEC_PER_SEC)

/* Reads and decodes the status file. -ENOENT if there is none. ret_state (may be NULL) tells an
 * unreadable file (STATUS_FILE_UNREADABLE) from an undecodable one (STATUS_FILE_CORRUPT); err
 * names the path either way. */
int session_read_status(const char *state_dir, StatusDoc *ret, StatusFileState *ret_state, ColoError *err);

/* Classifies a decoded document at now_realtime_usec: AGENT_GONE unless its pid exists and is a
 * colo process (not a zombie); then STALE or LIVE by its age (STATUS_STALE_AFTER). */
StatusFileState session_classify_status(const StatusDoc *d, uint64_t now_realtime_usec, const char *proc_root);
/* session_classify_status() == STATUS_FILE_LIVE. */
bool session_agent_is_live(const StatusDoc *d, uint64_t now_realtime_usec, const char *proc_root);

/* cgroup v2: where the agent put the offline scope (src/agent/offline-slice.c), or why it did not;
 * CgRootOptions.top_dir and top_cause. */
typedef struct SessionTop {
        const char *dir;
        const char *cause;
} SessionTop;

/* Opens the managed root. subtree is the configured one (agent.subtree, or --subtree); when
 * agent_pid > 0 a relative subtree is resolved against that process's cgroups, else against the
 * caller's. create makes the managed root if it is missing. top NULL (the front-ends): on v2 the
 * offline scope named after the subtree, where it is on disk. */
int session_open_root(const Config *cfg, const char *subtree, pid_t agent_pid, bool create, const SessionTop *top,
                      CgRoot **ret, ColoError *err);

/* Everything a front-end needs, found in one call. */
typedef struct SessionOptions {
        const char *config_path;        /* --config, or NULL */
        const char *subtree;            /* --subtree, or NULL: the live agent's, else the config's */
        const char *state_dir;          /* --state-dir, or NULL: the config's */
        bool create;                    /* create the managed root if missing */
} SessionOptions;

typedef struct Session {
        Config config;
        char state_dir[256];
        char subtree[256];
        bool have_status;               /* a status file was read */
        bool agent_live;                /* ... and its agent is alive and the file recent */
        StatusFileState status_state;
        char status_problem[768];       /* unless ABSENT or LIVE: the path and what is wrong, for people */
        StatusDoc status;
        CgRoot *root;
} Session;

/* -ENOENT when the managed tree does not exist (and !opts->create): *ret is set all the same,
 * with root NULL, so the caller can still report the status file. */
int session_open(const SessionOptions *opts, Session **ret, ColoError *err);
Session *session_free(Session *s);      /* NULL-safe, returns NULL */
static inline void session_freep(Session **s) {
        if (*s)
                session_free(*s);
}
