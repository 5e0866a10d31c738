/* File helpers: whole-file reads, short writes of cgroupfs-style files, atomic replacement, and
 * strict number parsing. Every function returns 0 or -errno and fills a ColoError naming the path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Opens path for reading without blocking on a FIFO or device, and only if it is a regular file:
 * -EINVAL (-EISDIR for a directory) naming the path and what it is ("a FIFO") otherwise. flags adds open flags (O_NOFOLLOW:
 * -ELOOP for a symbolic link). Returns the fd (blocking again) or -errno. */
int open_regular_file(const char *path, int flags, ColoError *err);

/* Reads a whole regular file (at most max_size bytes, else -EFBIG) into a NUL-terminated
 * malloc'd buffer; a FIFO, device or directory is refused at once (open_regular_file()). */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size, ColoError *err);
/* The same with extra open flags (O_NOFOLLOW for files only colo writes, by rename). */
int read_full_file_flags(const char *path, int flags, size_t max_size, char **ret, size_t *ret_size, ColoError *err);

/* Removes the temporary files "<basename>.tmp.<pid>" that write_file_atomic() leaves next to path
 * when the writer dies mid-write, for writers no longer alive (kill(pid, 0) says ESRCH): a live
 * pid may be a writer still at work. Returns the number removed, or -errno (err names the
 * directory or file). */
int remove_stale_temp_files(const char *path, ColoError *err);

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
