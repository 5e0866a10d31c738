/* A CgRoot on a fake cgroup tree (fake-cgroupfs.h) for unit tests, set up and torn down alike in
 * every test that needs one: the tree's "fs" directory is the cgroupfs root, "proc" the proc
 * root and "proc/self/cgroup" this process's cgroups, the managed subtree "colo". Header-only;
 * include it after <cmocka.h>. */
#pragma once

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgroup/cgroup.h"
#include "fake-cgroupfs.h"

/* cg_root_open() on the fake tree in dir with o's other options (mode, create, top_group, ...);
 * o's fs_root, proc_root and proc_self_cgroup are the tree's, its subtree "colo" unless set.
 * With err NULL a failure's message is printed (the setup's caller only sees the code). */
static inline int fake_root_open(const char *dir, CgRootOptions o, CgRoot **ret, ColoError *err) {
        char fs[PATH_MAX], proc[PATH_MAX], self[PATH_MAX];
        snprintf(fs, sizeof(fs), "%s/fs", dir);
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        snprintf(self, sizeof(self), "%s/proc/self/cgroup", dir);
        o.fs_root = fs;
        o.proc_root = proc;
        o.proc_self_cgroup = self;
        o.subtree = o.subtree ?: "colo";
        ColoError local = {};
        int r = cg_root_open(&o, ret, err ?: &local);
        if (r < 0 && !err)
                print_error("cg_root_open: %s\n", local.msg);
        return r;
}

/* Frees root and removes the fake tree in dir (NULL-safe: a setup that failed half way). */
static inline void fake_root_remove(const char *dir, CgRoot *root) {
        cg_root_free(root);
        if (dir && dir[0])
                (void) fakefs_remove_tree(dir);
}

/* Defines `static int name(void **state)`, the cmocka teardown of a calloc()ed Type with the
 * members `char dir[]` and `CgRoot *root`: removes the tree and frees it (none: nothing to do). */
#define FAKE_ROOT_DEFINE_TEARDOWN(name, Type)                    \
        static int name(void **state) {                          \
                Type *fake_ = *state;                            \
                if (fake_) {                                     \
                        fake_root_remove(fake_->dir, fake_->root); \
                        free(fake_);                             \
                }                                                \
                *state = NULL;                                   \
                return 0;                                        \
        }
