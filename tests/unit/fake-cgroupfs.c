/* Fake cgroup file systems for unit tests (see fake-cgroupfs.h): plain files the tests lay out
 * and read back, so the real cgroup code runs unchanged without touching the machine's cgroups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-cgroupfs.h"

void fakefs_mkdtemp(char *dir, size_t size, const char *tag) {
        assert_true((size_t) snprintf(dir, size, "/tmp/colo-test-%s-XXXXXX", tag) < size);
        assert_non_null(mkdtemp(dir));
}

/* mkdir of every directory in p after its first skip bytes, up to the last '/'. */
static void mkdir_parents(char *p, size_t skip) {
        for (char *s = strchr(p + skip, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void) mkdir(p, 0755);
                *s = '/';
        }
}

void fakefs_mkdir(const char *dir, const char *rel) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s/", dir, rel);
        mkdir_parents(p, strlen(dir) + 1);
}

void fakefs_write(const char *dir, const char *rel, const char *content) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        mkdir_parents(p, strlen(dir) + 1);
        FILE *fp = fopen(p, "we");
        assert_non_null(fp);
        fputs(content, fp);
        fclose(fp);
}

static void join(char *buf, size_t size, const char *prefix, const char *name) {
        snprintf(buf, size, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
}

void fakefs_write_files(const char *dir, const char *prefix, const FakeFile *files, size_t n) {
        char rel[PATH_MAX];
        for (size_t i = 0; i < n; i++) {
                join(rel, sizeof(rel), prefix, files[i].name);
                fakefs_write(dir, rel, files[i].content);
        }
}

const char *fakefs_read(const char *dir, const char *rel) {
        static char buf[4096];
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        FILE *fp = fopen(p, "re");
        if (!fp)
                return NULL;
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

bool fakefs_exists(const char *dir, const char *rel) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        return access(p, F_OK) == 0;
}

void fakefs_assert_files(const char *dir, const char *prefix, const FakeFile *files, size_t n) {
        char rel[PATH_MAX];
        for (size_t i = 0; i < n; i++) {
                join(rel, sizeof(rel), prefix, files[i].name);
                if (!files[i].content) {
                        if (fakefs_exists(dir, rel))
                                fail_msg("%s: exists, expected absent", rel);
                        continue;
                }
                const char *got = fakefs_read(dir, rel);
                if (!got)
                        fail_msg("%s: missing, expected \"%s\"", rel, files[i].content);
                if (strcmp(got, files[i].content) != 0)
                        fail_msg("%s: \"%s\", expected \"%s\"", rel, got, files[i].content);
        }
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(p);
}

int fakefs_remove_tree(const char *path) {
        return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
