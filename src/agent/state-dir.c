/* The state directory (status.json, agent.lock) and the agent's two locks. The agent runs as
 * root and writes there every period, so whoever can write the directory could plant a symlink
 * and have root overwrite any file: the directory must belong to the agent's user and be
 * writable by no one else, and everything in it is reached through its fd with O_NOFOLLOW. The
 * lock file is 0600 (a lock others can open, others can hold, keeping the agent from starting).
 * One agent per state directory (agent.lock) and per managed subtree (a flock on the subtree's
 * own directory, see cg_root_lock()). A state directory deleted while the agent runs is
 * recreated, and its lock retaken, before the next write. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "util/log.h"
#include "util/macro.h"

#define LOCK_FILE_NAME "agent.lock"

static int mkdir_parents(const char *path, mode_t mode) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Opens the directory itself (not a symlink to one) and checks who may write it. */
static int open_checked_dir(const char *path, int *ret_fd, ColoError *err) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
                return colo_error_setf_plain(err, errno, "the state directory '%s' is not a directory (a symbolic "
                                             "link?): refusing it", path);
        if (fd < 0)
                return colo_error_set(err, errno, "open the state directory '%s'", path);
        struct stat st;
        int r = fstat(fd, &st) < 0 ? colo_error_set(err, errno, "stat the state directory '%s'", path) : 0;
        if (r >= 0 && st.st_uid != geteuid())
                r = colo_error_setf_plain(err, EPERM, "the state directory '%s' is owned by uid %u, not by the "
                                          "agent's uid %u: refusing it (its owner could plant symlinks the agent "
                                          "would write through). Fix: chown %u '%s'", path, (unsigned) st.st_uid,
                                          (unsigned) geteuid(), (unsigned) geteuid(), path);
        else if (r >= 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
                r = colo_error_setf_plain(err, EPERM, "the state directory '%s' is writable by group or others "
                                          "(mode %04o): refusing it (they could plant symlinks the agent would "
                                          "write through). Fix: chmod go-w '%s'", path,
                                          (unsigned) (st.st_mode & 07777), path);
        if (r < 0) {
                (void) close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* agent.lock: created 0600, never through a symlink; one left 0644 by an older colo is fixed. */
static int take_state_lock(Agent *a, ColoError *err) {
        int fd = openat(a->state_dir_fd, LOCK_FILE_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ELOOP)
                return colo_error_setf_plain(err, ELOOP, "'%s/" LOCK_FILE_NAME "' is a symbolic link: refusing to "
                                             "follow it", a->state_dir);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s/" LOCK_FILE_NAME "'", a->state_dir);
        struct stat st;
        int r = fstat(fd, &st) < 0 ? colo_error_set(err, errno, "stat '%s/" LOCK_FILE_NAME "'", a->state_dir) : 0;
        if (r >= 0 && !S_ISREG(st.st_mode))
                r = colo_error_setf_plain(err, EPERM, "'%s/" LOCK_FILE_NAME "' is not a regular file: refusing it",
                                          a->state_dir);
        else if (r >= 0 && (st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
                r = colo_error_set(err, errno, "chmod 0600 '%s/" LOCK_FILE_NAME "'", a->state_dir);
        if (r >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
                r = errno == EWOULDBLOCK ? colo_error_setf_plain(err, EWOULDBLOCK, "another colo agent is running "
                                                                 "with state directory '%s'", a->state_dir)
                                         : colo_error_set(err, errno, "flock '%s/" LOCK_FILE_NAME "'", a->state_dir);
        if (r < 0) {
                (void) close(fd);
                return r;
        }
        a->lock_fd = fd;
        return 0;
}

static int state_dir_open(Agent *a, ColoError *err) {
        int r = mkdir_parents(a->state_dir, 0755);
        if (r < 0)
                return colo_error_set(err, -r, "create the state directory '%s'", a->state_dir);
        r = open_checked_dir(a->state_dir, &a->state_dir_fd, err);
        if (r < 0)
                return r;
        return take_state_lock(a, err);
}

int agent_state_dir_open(Agent *a) {
        ColoError err = {};
        int r = state_dir_open(a, &err);
        if (r < 0)
                log_error("State directory: %s", colo_error_msg(&err));
        return r;
}

void agent_state_dir_close(Agent *a) {
        if (a->lock_fd >= 0)
                (void) close(a->lock_fd);
        if (a->state_dir_fd >= 0)
                (void) close(a->state_dir_fd);
        a->lock_fd = a->state_dir_fd = -1;
}

int agent_state_dir_ensure(Agent *a) {
        struct stat held, now;
        if (a->state_dir_fd >= 0 && fstat(a->state_dir_fd, &held) == 0 && lstat(a->state_dir, &now) == 0 &&
            held.st_dev == now.st_dev && held.st_ino == now.st_ino)
                return 0;
        /* Deleted or replaced: a new directory, checked like the first, and the lock in it. Logged
         * when that starts and stops failing, not every period. */
        agent_state_dir_close(a);
        ColoError err = {};
        int r = state_dir_open(a, &err);
        if (r < 0) {
                agent_state_dir_close(a);
                if (!a->state_dir_lost)
                        log_error("The state directory '%s' went away and cannot be recreated, status is not "
                                  "written: %s", a->state_dir, colo_error_msg(&err));
                a->state_dir_lost = true;
                return r;
        }
        log_warning("The state directory '%s' went away; recreated it.", a->state_dir);
        a->state_dir_lost = false;
        return 0;
}

int agent_state_open_tmp(Agent *a, const char *name) {
        int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        int fd = openat(a->state_dir_fd, name, flags, 0644);
        if (fd < 0 && errno == EEXIST) {
                /* Left by a write that died halfway, or planted: removed, never followed. */
                if (unlinkat(a->state_dir_fd, name, 0) < 0)
                        return -1;
                fd = openat(a->state_dir_fd, name, flags, 0644);
        }
        return fd;
}

int agent_lock_subtree(Agent *a) {
        ColoError err = {};
        int r = cg_root_lock(a->root, &a->subtree_lock_fd, &err);
        if (r == -EWOULDBLOCK)
                log_error("Another colo agent manages the subtree '%s' (%s), with another state directory than "
                          "'%s': refusing to manage it too.", a->subtree, colo_error_msg(&err), a->state_dir);
        else if (r < 0)
                log_error("Cannot lock the managed subtree '%s': %s", a->subtree, colo_error_msg(&err));
        return r;
}
