/* File helpers: whole-file reads, short writes of cgroupfs-style files, atomic replacement, and
 * strict number parsing. Every function returns 0 or -errno and fills a ColoError naming the path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Reads a whole file (at most max_size bytes, else -EFBIG) into a NUL-terminated malloc'd buffer. */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size, ColoError *err);

/* Reads a small file relative to dirfd into buf (NUL-terminated, trailing newline kept).
 * Returns the length read or -errno. */
int read_small_file_at(int dirfd, const char *name, char *buf, size_t size, ColoError *err);

/* Writes value to a file relative to dirfd in one write(2), as cgroupfs needs. O_WRONLY, no create. */
int write_small_file_at(int dirfd, const char *name, const char *value, ColoError *err);

/* Replaces path atomically: writes a temporary file in the same directory, fsyncs it, renames it
 * over path and fsyncs the directory. On failure the old file is untouched. */
int write_file_atomic(const char *path, const void *data, size_t size, int mode, ColoError *err);

/* Strict parsers: the whole string (a trailing newline allowed) must be a number in range. */
int parse_u64(const char *s, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);
int parse_double(const char *s, double *ret);

/* Monotonic and real-time clocks in microseconds. */
uint64_t now_monotonic_usec(void);
uint64_t now_realtime_usec(void);
