/* <state_dir>/status.json: encoded after every tick and swapped in with rename(2), so readers see
 * the old or the new document, never a torn one. No fsync: the file describes the running agent
 * and is worthless after a crash (readers check the agent's pid), and a per-second fsync would be
 * the agent's largest cost on a disk-backed state directory. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "workloads/session.h"
#include "util/log.h"
#include "util/macro.h"

static int write_all(int fd, const char *data, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, data, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                size -= (size_t) n;
        }
        return 0;
}

/* A full disk fails every write: say so once, and once more when writing works again. */
static int report_write(Agent *a, const char *path, int r) {
        switch (failure_latch_update(&a->status_write, r < 0)) {
        case FAILURE_LATCH_FAILED:
                log_warning("Failed to write the status file '%s': %s; retrying every period, reported again once "
                            "it works.", path, strerror(-r));
                break;
        case FAILURE_LATCH_RECOVERED:
                log_notice("The status file '%s' is written again (after %" PRIu64 " failed writes).", path,
                           a->status_write.failures);
                failure_latch_reset_count(&a->status_write);
                break;
        default:
                break;
        }
        return r;
}

int agent_write_status(Agent *a) {
        ColoError err = {};
        char *json = NULL;
        int r = status_doc_to_json(&a->status, &json, &err);
        if (r < 0) {
                log_warning("Failed to encode the status document: %s, ignoring.", colo_error_msg(&err));
                return r;
        }
        free(a->status_json);
        a->status_json = json;
        r = agent_state_dir_ensure(a);  /* recreated if deleted; logged */
        if (r < 0)
                return r;

        char path[512], tmp[520];
        if (session_status_path(a->state_dir, path, sizeof(path)) < 0)
                return -ENAMETOOLONG;
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        int fd = agent_state_open_tmp(a, STATUS_FILE_NAME ".tmp");       /* never through a symlink */
        if (fd < 0)
                return report_write(a, tmp, -errno);
        size_t len = strlen(json);
        r = write_all(fd, json, len);
        if (r >= 0)
                r = write_all(fd, "\n", 1);
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && renameat(a->state_dir_fd, STATUS_FILE_NAME ".tmp", a->state_dir_fd, STATUS_FILE_NAME) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(a->state_dir_fd, STATUS_FILE_NAME ".tmp", 0);
        return report_write(a, path, r);
}
