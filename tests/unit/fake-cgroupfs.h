/* Fake cgroup file systems for unit tests: a tree of plain directories and files under
 * mkdtemp() that the real cgroup code is pointed at. Paths are relative to the tree's directory;
 * every helper fails the running cmocka test on an error it cannot report. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* One file of a fake group: its name and contents (NULL contents: the file must not exist). */
typedef struct FakeFile {
        const char *name;
        const char *content;
} FakeFile;

/* Makes /tmp/colo-test-<tag>-XXXXXX into dir (size at least 64). */
void fakefs_mkdtemp(char *dir, size_t size, const char *tag);

/* Creates the missing directories of rel (mkdir -p), all below dir. */
void fakefs_mkdir(const char *dir, const char *rel);

/* Writes content to dir/rel, creating the missing parent directories first. */
void fakefs_write(const char *dir, const char *rel, const char *content);

/* Writes each file in prefix (relative to dir; "" for dir itself). */
void fakefs_write_files(const char *dir, const char *prefix, const FakeFile *files, size_t n);

/* The whole contents of dir/rel (at most 4095 bytes) in a static buffer, NULL when it cannot be
 * opened. Valid until the next call. */
const char *fakefs_read(const char *dir, const char *rel);

bool fakefs_exists(const char *dir, const char *rel);

/* Asserts each file in prefix has exactly the given contents, or is absent when they are NULL. */
void fakefs_assert_files(const char *dir, const char *prefix, const FakeFile *files, size_t n);

/* Removes path and everything below it, without following links. Returns 0 or -1 (errno set). */
int fakefs_remove_tree(const char *path);
