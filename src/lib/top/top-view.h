/* colo top's view of the status document, as a pure function: the lines of one screen for a
 * given width and height, each with a style the terminal layer may colour, and the squeeze and
 * eviction events seen between two documents. No terminal, no clock, no files: the CLI
 * (src/cli/cmd-top.c) reads the status file, keeps the events and draws the lines. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status/status-doc.h"

#define TOP_EVENTS_MAX 64
#define TOP_LINE_MAX 512

typedef enum TopSort {
        TOP_SORT_CPU,
        TOP_SORT_MEMORY,
        TOP_SORT_NAME,
        _TOP_SORT_MAX,
        _TOP_SORT_INVALID = -1,
} TopSort;
const char *top_sort_to_string(TopSort s);
TopSort top_sort_from_string(const char *s);

typedef enum TopStyle {
        TOP_STYLE_NORMAL,
        TOP_STYLE_TITLE,        /* the first line */
        TOP_STYLE_HEADER,       /* the workload table's header */
        TOP_STYLE_ONLINE,       /* an online workload's row */
        TOP_STYLE_OFFLINE,      /* an offline workload's row */
        TOP_STYLE_WARNING,      /* squeezed; a squeeze event; a stale document */
        TOP_STYLE_BAD,          /* evicted; an eviction event; no agent */
        _TOP_STYLE_MAX,
} TopStyle;

typedef struct TopLine {
        char text[TOP_LINE_MAX];        /* at most the frame's width in characters, no newline */
        TopStyle style;
} TopLine;

/* Squeeze and eviction events, newest last; the oldest are dropped past TOP_EVENTS_MAX. */
typedef struct TopEvents {
        TopLine lines[TOP_EVENTS_MAX];
        size_t n;
} TopEvents;

/* Appends the events between prev (NULL: the first document, which has none) and cur: offline
 * work squeezed or released, a workload newly evicted. at_text is cur's time as the caller
 * wants it shown ("12:00:01"). */
void top_events_update(TopEvents *ev, const StatusDoc *prev, const StatusDoc *cur, const char *at_text);

typedef struct TopFrameInput {
        const StatusDoc *doc;           /* NULL: no status document (message says why) */
        const char *message;            /* shown when doc is NULL, or as a warning above the table */
        bool live;                      /* doc comes from a running agent */
        double age_seconds;             /* how old doc is */
        const TopEvents *events;
        TopSort sort;
        bool show_keys;                 /* the key help line (interactive mode) */
        size_t width, height;           /* height 0: as many lines as there is content */
} TopFrameInput;

/* Renders one screen into lines (room for max lines); returns the number of lines. Workloads
 * that do not fit the height are summarised as "... N more"; events get the lines left below
 * the table, newest first, at least two when there are any. */
size_t top_render(const TopFrameInput *in, TopLine *lines, size_t max);
