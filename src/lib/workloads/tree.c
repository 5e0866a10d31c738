/* The managed tree: paths of class, tier and workload groups, discovery by listing the four tier
 * parents, and the create / move / remove operations shared by the agent, `colo run` and
 * `colo move`. Moves are written so that an interrupted one is finished by repeating it. */
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup.h"
#include "workloads/tree.h"
#include "util/macro.h"

/* Bounds the migration loop of a move: a workload forking as fast as we move it still ends up
 * moved, since children are born in their parent's (new) group; a few rounds catch the stragglers. */
#define MOVE_ROUNDS_MAX 16

static const char *const tier_paths[_TIER_MAX] = {
        [TIER_CRITICAL] = "online/critical",
        [TIER_NORMAL] = "online/normal",
        [TIER_BATCH] = "offline/batch",
        [TIER_BEST_EFFORT] = "offline/best-effort",
};

const char *tree_class_path(WorkloadClass c) {
        return workload_class_to_string(c);
}

const char *tree_tier_path(WorkloadTier t) {
        return t >= 0 && t < _TIER_MAX ? tier_paths[t] : NULL;
}

int tree_workload_path(WorkloadTier tier, const char *name, char *buf, size_t size) {
        const char *tp = tree_tier_path(tier);
        if (!tp || !workload_name_is_valid(name))
                return -EINVAL;
        int n = snprintf(buf, size, "%s/%s", tp, name);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int tree_parse_path(const char *path, TreeWorkload *ret) {
        const char *slash1 = path ? strchr(path, '/') : NULL;
        const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
        if (!slash2)
                return -EINVAL;
        const char *name = slash2 + 1;
        if (strchr(name, '/') || !workload_name_is_valid(name))
                return -EINVAL;
        for (int t = 0; t < _TIER_MAX; t++) {
                size_t n = strlen(tier_paths[t]);
                if ((size_t) (slash2 - path) == n && strncmp(path, tier_paths[t], n) == 0) {
                        TreeWorkload w = { .tier = (WorkloadTier) t, .cls = workload_tier_class((WorkloadTier) t) };
                        snprintf(w.name, sizeof(w.name), "%s", name);
                        if (tree_workload_path(w.tier, w.name, w.path, sizeof(w.path)) < 0)
                                return -EINVAL;
                        *ret = w;
                        return 0;
                }
        }
        return -EINVAL;
}

int tree_ensure_parents(CgRoot *root, ColoError *err) {
        for (int c = 0; c < _CLASS_MAX; c++) {
                CgGroup *g = NULL;
                int r = cg_group_open(root, tree_class_path((WorkloadClass) c), true, &g, err);
                if (r < 0)
                        return colo_error_wrap(err, "create class group '%s'", tree_class_path((WorkloadClass) c));
                cg_group_free(g);
        }
        for (int t = 0; t < _TIER_MAX; t++) {
                CgGroup *g = NULL;
                int r = cg_group_open(root, tier_paths[t], true, &g, err);
                if (r < 0)
                        return colo_error_wrap(err, "create tier group '%s'", tier_paths[t]);
                cg_group_free(g);
        }
        return 0;
}

static int compare_workloads(const void *a, const void *b) {
        const TreeWorkload *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c != 0 ? c : (int) x->tier - (int) y->tier;
}

int tree_discover(CgRoot *root, TreeWorkload **ret, size_t *ret_n, ColoError *err) {
        _cleanup_free_ TreeWorkload *list = NULL;
        size_t n = 0, cap = 0;

        for (int t = 0; t < _TIER_MAX; t++) {
                char **children = NULL;
                size_t n_children = 0;
                int r = cg_group_list_children(root, tier_paths[t], &children, &n_children, err);
                if (r == -ENOENT) {
                        colo_error_clear(err);
                        continue;
                }
                if (r < 0)
                        return colo_error_wrap(err, "list workloads of '%s'", tier_paths[t]);
                for (size_t i = 0; i < n_children; i++) {
                        if (!workload_name_is_valid(children[i]))
                                continue;
                        if (n == cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                TreeWorkload *nl = realloc(list, ncap * sizeof(*nl));
                                if (!nl) {
                                        strv_free(children);
                                        return colo_error_set(err, ENOMEM, "list workloads");
                                }
                                list = nl;
                                cap = ncap;
                        }
                        TreeWorkload *w = &list[n];
                        *w = (TreeWorkload) { .tier = (WorkloadTier) t, .cls = workload_tier_class((WorkloadTier) t) };
                        snprintf(w->name, sizeof(w->name), "%s", children[i]);
                        if (tree_workload_path(w->tier, w->name, w->path, sizeof(w->path)) < 0)
                                continue;
                        n++;
                }
                strv_free(children);
        }
        if (n > 1)
                qsort(list, n, sizeof(*list), compare_workloads);
        *ret = n > 0 ? TAKE_PTR(list) : NULL;
        *ret_n = n;
        return 0;
}

int tree_find(CgRoot *root, const char *name, TreeWorkload *ret, size_t max, ColoError *err) {
        if (!workload_name_is_valid(name))
                return colo_error_setf_plain(err, EINVAL, "invalid workload name '%s'", name ? name : "");
        int found = 0;
        for (int t = 0; t < _TIER_MAX; t++) {
                char path[TREE_PATH_MAX];
                if (tree_workload_path((WorkloadTier) t, name, path, sizeof(path)) < 0)
                        return colo_error_setf_plain(err, ENAMETOOLONG, "workload name '%s' too long", name);
                CgGroup *g = NULL;
                int r = cg_group_open(root, path, false, &g, err);
                if (r == -ENOENT) {
                        colo_error_clear(err);
                        continue;
                }
                if (r < 0)
                        return colo_error_wrap(err, "look up workload '%s'", name);
                cg_group_free(g);
                if ((size_t) found < max)
                        (void) tree_parse_path(path, &ret[found]);
                found++;
        }
        return found;
}

int tree_lock_names(CgRoot *root, ColoError *err) {
        int fd = cg_root_lock_below(root, TREE_NAMES_LOCK, true, err);
        return fd < 0 ? colo_error_wrap(err, "lock workload names") : fd;
}

int tree_try_lock_names(CgRoot *root, ColoError *err) {
        int fd = cg_root_lock_below(root, TREE_NAMES_LOCK, false, err);
        return fd < 0 ? colo_error_wrap(err, "lock workload names") : fd;
}

/* Under the names lock: frees the name from leaves whose workload is gone (empty leaves of a
 * crashed `colo run`, or of one whose command exited and whose supervisor was killed), so a crash
 * never holds a name for good. -EEXIST, naming the leaf, if a leaf still has processes or groups
 * (rmdir is refused then, atomically, by the kernel). */
static int reclaim_name(CgRoot *root, const char *name, ColoError *err) {
        for (int t = 0; t < _TIER_MAX; t++) {
                char path[TREE_PATH_MAX];
                if (tree_workload_path((WorkloadTier) t, name, path, sizeof(path)) < 0)
                        return colo_error_setf_plain(err, EINVAL, "invalid workload name '%s'", name);
                int r = cg_group_remove(root, path, err);
                if (r == -EBUSY) {
                        colo_error_clear(err);
                        return colo_error_setf_plain(err, EEXIST, "name in use: a workload named '%s' exists (%s)",
                                                     name, path);
                }
                if (r < 0)
                        return colo_error_wrap(err, "look up workload '%s'", name);
        }
        return 0;
}

/* An offline leaf, still empty, gets the IO throttles of the offline parent and its tier at once
 * (cgroup v1 only; see cg_group_inherit_io_throttles()): it would run unthrottled until the
 * agent's next period otherwise. */
static int inherit_offline_throttles(CgRoot *root, WorkloadTier tier, CgGroup *leaf, ColoError *err) {
        if (workload_tier_class(tier) != CLASS_OFFLINE)
                return 0;
        const char *paths[] = { tree_class_path(CLASS_OFFLINE), tree_tier_path(tier) };
        CgGroup *ancestors[ELEMENTSOF(paths)] = {};
        size_t n = 0;
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(paths) && r >= 0; i++) {
                r = cg_group_open(root, paths[i], false, &ancestors[n], err);
                if (r >= 0)
                        n++;
                else if (r == -ENOENT) {
                        colo_error_clear(err);
                        r = 0;
                }
        }
        if (r >= 0)
                r = cg_group_inherit_io_throttles(leaf, ancestors, n, NULL, NULL, err);
        for (size_t i = 0; i < n; i++)
                cg_group_free(ancestors[i]);
        /* r > 0: writes failed, the first one left in err by cg_group_apply(). */
        return r != 0 ? colo_error_wrap(err, "give '%s' the offline IO throttles", cg_group_path(leaf)) : 0;
}

int tree_create_workload(CgRoot *root, WorkloadTier tier, const char *name, CgGroup **ret, ColoError *err) {
        char path[TREE_PATH_MAX];
        if (workload_tier_class(tier) < 0)
                return colo_error_setf_plain(err, EINVAL, "invalid tier");
        const char *problem = workload_name_problem(name);
        if (problem)
                return colo_error_setf_plain(err, EINVAL, "invalid workload name '%s': %s (allowed: A-Z a-z 0-9 _ . -, "
                                             "at most %d characters, no leading '.', not <controller>.<knob>)",
                                             name ? name : "", problem, WORKLOAD_NAME_MAX - 1);
        if (tree_workload_path(tier, name, path, sizeof(path)) < 0)
                return colo_error_setf_plain(err, ENAMETOOLONG, "workload name '%s' too long", name);
        int r = reclaim_name(root, name, err);
        if (r < 0)
                return r;
        r = tree_ensure_parents(root, err);
        if (r < 0)
                return r;
        CgGroup *g = NULL;
        r = cg_group_create(root, path, &g, err);
        if (r == -EEXIST) {
                /* Something that is not a group (a file), or a holder that ignores the lock. */
                colo_error_clear(err);
                return colo_error_setf_plain(err, EEXIST, "name in use: '%s' exists", path);
        }
        if (r < 0)
                return colo_error_wrap(err, "create workload '%s'", name);
        r = inherit_offline_throttles(root, tier, g, err);
        if (r < 0) {
                (void) cg_group_remove(root, path, NULL);
                cg_group_free(g);
                return r;
        }
        if (ret)
                *ret = g;
        else
                cg_group_free(g);
        return 0;
}

int tree_remove_if_empty(CgRoot *root, const char *path, ColoError *err) {
        int r = cg_group_remove(root, path, err);
        if (r == -ENOENT || r >= 0) {
                colo_error_clear(err);
                return 1;
        }
        if (r == -EBUSY) {
                colo_error_clear(err);
                return 0;
        }
        return colo_error_wrap(err, "remove workload group '%s'", path);
}

/* Moves every process of from into to, over a few rounds to catch children forked meanwhile.
 * Returns the number moved, or -EBUSY when processes keep appearing. */
static int migrate_all(CgRoot *root, const char *from_path, CgGroup *to, ColoError *err) {
        CgGroup *from = NULL;
        int r = cg_group_open(root, from_path, false, &from, err);
        if (r == -ENOENT) {
                colo_error_clear(err);
                return 0;
        }
        if (r < 0)
                return r;

        int moved = 0;
        for (int round = 0; round < MOVE_ROUNDS_MAX; round++) {
                pid_t *pids = NULL;
                size_t n = 0;
                r = cg_group_get_pids(from, &pids, &n, err);
                if (r < 0)
                        break;
                for (size_t i = 0; i < n; i++) {
                        r = cg_group_attach(to, pids[i], err);
                        if (r == -ESRCH) {              /* exited meanwhile */
                                colo_error_clear(err);
                                r = 0;
                                continue;
                        }
                        if (r < 0)
                                break;
                        moved++;
                }
                free(pids);
                if (r < 0)
                        break;
                r = tree_remove_if_empty(root, from_path, err);
                if (r != 0)
                        break;          /* removed (1) or failed (< 0) */
        }
        cg_group_free(from);
        if (r < 0)
                return colo_error_wrap(err, "move processes out of '%s'", from_path);
        if (r == 0)
                return colo_error_setf_plain(err, EBUSY, "'%s' still has processes after %d rounds of moving",
                                             from_path, MOVE_ROUNDS_MAX);
        return moved;
}

int tree_move_workload(CgRoot *root, const char *name, WorkloadTier tier, ColoError *err) {
        TreeWorkload leaves[_TIER_MAX];
        char target_path[TREE_PATH_MAX];

        if (workload_tier_class(tier) < 0)
                return colo_error_setf_plain(err, EINVAL, "invalid tier");
        int n = tree_find(root, name, leaves, ELEMENTSOF(leaves), err);
        if (n < 0)
                return n;
        if (n == 0)
                return colo_error_setf_plain(err, ENOENT, "no workload named '%s'", name);
        if (tree_workload_path(tier, name, target_path, sizeof(target_path)) < 0)
                return colo_error_setf_plain(err, EINVAL, "invalid workload name '%s'", name);

        int r = tree_ensure_parents(root, err);
        if (r < 0)
                return r;
        CgGroup *target = NULL;
        r = cg_group_open(root, target_path, true, &target, err);
        if (r < 0)
                return colo_error_wrap(err, "create '%s'", target_path);
        r = inherit_offline_throttles(root, tier, target, err);
        if (r < 0) {
                cg_group_free(target);
                return r;
        }

        int moved = 0;
        for (int i = 0; i < n && (size_t) i < ELEMENTSOF(leaves); i++) {
                if (leaves[i].tier == tier)
                        continue;
                r = migrate_all(root, leaves[i].path, target, err);
                if (r < 0)
                        break;
                moved += r;
        }
        cg_group_free(target);
        if (r < 0)
                return colo_error_wrap(err, "move workload '%s' to %s", name, target_path);
        return moved;
}

int tree_generate_name(const char *command, uint32_t suffix, char *buf, size_t size) {
        char base[41];
        size_t n = 0;
        const char *slash = command ? strrchr(command, '/') : NULL;
        const char *s = slash ? slash + 1 : command ? command : "";

        for (; *s && n < sizeof(base) - 1; s++) {
                char c = *s;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-' || c == '.';
                if (!ok && n > 0 && base[n - 1] == '_')
                        continue;       /* collapse runs of replaced characters */
                base[n++] = ok ? c : '_';
        }
        /* A leading dot would make "." or ".." (or hidden names) possible; drop it. */
        size_t skip = 0;
        while (skip < n && base[skip] == '.')
                skip++;
        base[n] = '\0';
        const char *b = base[skip] ? base + skip : "cmd";
        int k = snprintf(buf, size, "%s-%x", b, suffix);
        if (k < 0 || (size_t) k >= size)
                return -ENAMETOOLONG;
        /* "memory.hog" would look like a cgroup file: such a command gets "memory_hog-<hex>". */
        for (char *p = buf; !workload_name_is_valid(buf) && *p; p++)
                if (*p == '.')
                        *p = '_';
        return workload_name_is_valid(buf) ? 0 : -EINVAL;
}
