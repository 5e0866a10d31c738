/* logfmt writer: one write(2) per line so lines from concurrent processes do not interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const struct { const char *name; int level; } table[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "warn", LOG_WARNING }, { "error", LOG_ERR },
        };
        for (size_t i = 0; s && i < ELEMENTSOF(table); i++)
                if (strcmp(s, table[i].name) == 0)
                        return table[i].level;
        return -EINVAL;
}

static const char *level_name(int level) {
        switch (level) {
        case LOG_DEBUG: return "debug";
        case LOG_INFO: return "info";
        case LOG_NOTICE: return "notice";
        case LOG_WARNING: return "warning";
        default: return "error";
        }
}

static size_t append_prefix(char *buf, size_t size, int level) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(buf, size, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         ts.tv_nsec / 1000000, level_name(level));
        return n > 0 ? MIN((size_t) n, size - 1) : 0;
}

/* Appends src quoted, escaping quotes, backslashes and control characters. */
static size_t append_quoted(char *buf, size_t size, size_t pos, const char *src) {
        if (pos + 1 < size)
                buf[pos++] = '"';
        for (; *src && pos + 3 < size; src++) {
                unsigned char c = (unsigned char) *src;
                if (c == '"' || c == '\\') {
                        buf[pos++] = '\\';
                        buf[pos++] = (char) c;
                } else if (c == '\n') {
                        buf[pos++] = '\\';
                        buf[pos++] = 'n';
                } else if (c < 0x20)
                        buf[pos++] = ' ';
                else
                        buf[pos++] = (char) c;
        }
        if (pos + 1 < size)
                buf[pos++] = '"';
        buf[pos] = '\0';
        return pos;
}

static void write_line(char *buf, size_t size, size_t pos) {
        if (pos >= size - 1)
                pos = size - 2;
        buf[pos++] = '\n';
        (void) !write(STDERR_FILENO, buf, pos);
}

int log_emit(int level, const char *fmt, ...) {
        if (level > max_level)
                return 0;
        char msg[2048], line[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        int saved = errno;
        size_t pos = append_prefix(line, sizeof(line), level);
        pos += (size_t) snprintf(line + pos, sizeof(line) - pos, "msg=");
        pos = append_quoted(line, sizeof(line), MIN(pos, sizeof(line) - 1), msg);
        write_line(line, sizeof(line), pos);
        errno = saved;
        return 0;
}

int log_kv(int level, const char *event, const char *kv_fmt, ...) {
        if (level > max_level)
                return 0;
        char line[4096];
        int saved = errno;
        size_t pos = append_prefix(line, sizeof(line), level);
        int n = snprintf(line + pos, sizeof(line) - pos, "event=%s ", event);
        pos = MIN(pos + (size_t) MAX(n, 0), sizeof(line) - 1);
        va_list ap;
        va_start(ap, kv_fmt);
        n = vsnprintf(line + pos, sizeof(line) - pos, kv_fmt, ap);
        va_end(ap);
        pos = MIN(pos + (size_t) MAX(n, 0), sizeof(line) - 1);
        write_line(line, sizeof(line), pos);
        errno = saved;
        return 0;
}
