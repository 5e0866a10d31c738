/* colo top's screen, from the status document: see top-view.h. Pure: the same input gives the
 * same lines, which the unit tests compare. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top/top-view.h"
#include "util/human.h"
#include "util/macro.h"

static const char *const sort_names[_TOP_SORT_MAX] = {
        [TOP_SORT_CPU] = "cpu",
        [TOP_SORT_MEMORY] = "memory",
        [TOP_SORT_NAME] = "name",
};

const char *top_sort_to_string(TopSort s) {
        return s >= 0 && s < _TOP_SORT_MAX ? sort_names[s] : NULL;
}

TopSort top_sort_from_string(const char *s) {
        for (int i = 0; s && i < _TOP_SORT_MAX; i++)
                if (strcmp(s, sort_names[i]) == 0)
                        return (TopSort) i;
        return _TOP_SORT_INVALID;
}

typedef struct Frame {
        TopLine *lines;
        size_t n, max, width;
} Frame;

static void add(Frame *f, TopStyle style, const char *fmt, ...) _printf_(3, 4);
static void add(Frame *f, TopStyle style, const char *fmt, ...) {
        if (f->n >= f->max)
                return;
        TopLine *l = &f->lines[f->n++];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(l->text, sizeof(l->text), fmt, ap);
        va_end(ap);
        l->text[MIN(f->width, sizeof(l->text) - 1)] = '\0';    /* every character is ASCII */
        l->style = style;
}

static void add_event(TopEvents *ev, TopStyle style, const char *fmt, ...) _printf_(3, 4);
static void add_event(TopEvents *ev, TopStyle style, const char *fmt, ...) {
        if (ev->n == TOP_EVENTS_MAX) {
                memmove(ev->lines, ev->lines + 1, (TOP_EVENTS_MAX - 1) * sizeof(ev->lines[0]));
                ev->n--;
        }
        TopLine *l = &ev->lines[ev->n++];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(l->text, sizeof(l->text), fmt, ap);
        va_end(ap);
        l->style = style;
}

static const StatusWorkload *find_workload(const StatusDoc *d, const char *name) {
        for (size_t i = 0; d && i < d->n_workloads; i++)
                if (strcmp(d->workloads[i].name, name) == 0)
                        return &d->workloads[i];
        return NULL;
}

void top_events_update(TopEvents *ev, const StatusDoc *prev, const StatusDoc *cur, const char *at_text) {
        if (!prev || !cur)
                return;
        if (cur->squeezed && !prev->squeezed)
                add_event(ev, TOP_STYLE_WARNING, "%s squeezed: %s", at_text, cur->squeeze_reason);
        else if (!cur->squeezed && prev->squeezed)
                add_event(ev, TOP_STYLE_NORMAL, "%s no longer squeezed", at_text);
        for (size_t i = 0; i < cur->n_workloads; i++) {
                const StatusWorkload *w = &cur->workloads[i], *p = find_workload(prev, w->name);
                if (w->state == WORKLOAD_EVICTED && (!p || p->state != WORKLOAD_EVICTED))
                        add_event(ev, TOP_STYLE_BAD, "%s evicted %s (%s/%s): %s", at_text, w->name,
                                  workload_class_to_string(w->cls), workload_tier_to_string(w->tier), w->reason);
        }
}

/* Largest first for usage, then by name, so equal rows keep one order from frame to frame.
 * For qsort_r(): the sort key comes in as the context, not through a global. */
static int compare_workloads(const void *a, const void *b, void *context) {
        const StatusWorkload *x = *(const StatusWorkload *const *) a, *y = *(const StatusWorkload *const *) b;
        TopSort sort_key = *(const TopSort *) context;
        int c = 0;
        if (sort_key == TOP_SORT_CPU)
                c = (y->cpu_usage_cores > x->cpu_usage_cores) - (y->cpu_usage_cores < x->cpu_usage_cores);
        else if (sort_key == TOP_SORT_MEMORY)
                c = (y->mem_working_set > x->mem_working_set) - (y->mem_working_set < x->mem_working_set);
        return c ? c : strcmp(x->name, y->name);
}

static const char *age_text(double seconds, char *buf, size_t size) {
        snprintf(buf, size, seconds < 100 ? "%.1fs ago" : "%.0fs ago", seconds);
        return buf;
}

static void render_summary(Frame *f, const TopFrameInput *in) {
        const StatusDoc *d = in->doc;
        char b1[32], b2[32], b3[32];
        if (in->live)
                add(f, TOP_STYLE_TITLE, "colo top - agent pid %" PRIi64 ", %s, period %.3gs%s, updated %s",
                    d->agent_pid, d->cgroup_mode, (double) d->period_usec / 1e6, d->dry_run ? ", DRY RUN" : "",
                    age_text(in->age_seconds, b1, sizeof(b1)));
        else
                add(f, TOP_STYLE_BAD, "colo top - agent NOT RUNNING: last status from pid %" PRIi64 ", %s",
                    d->agent_pid, age_text(in->age_seconds, b1, sizeof(b1)));
        add(f, TOP_STYLE_NORMAL, "node     %6.2f cores  %10s memory  %10s available", d->cpu_capacity_cores,
            format_bytes_iec(d->mem_capacity, b1, sizeof(b1)), format_bytes_iec(d->mem_available, b2, sizeof(b2)));
        add(f, TOP_STYLE_NORMAL, "online   %6.2f cores  %10s         peak %.2f cores, %s (%s)",
            d->online_cpu_usage_cores, format_bytes_iec(d->online_mem_working_set, b1, sizeof(b1)),
            d->online_estimate_cpu_cores, format_bytes_iec(d->online_estimate_mem_bytes, b2, sizeof(b2)),
            d->has_predicted_peak ? "predicted" : "recent max");
        add(f, TOP_STYLE_NORMAL, "offline  %6.2f cores  %10s         budget %.2f cores%s, %s", d->offline_cpu_usage_cores,
            format_bytes_iec(d->offline_mem_working_set, b1, sizeof(b1)), d->offline_cpu_budget_cores,
            d->offline_cpu_quota_enforced > 0 ? " (quota)" : "", format_bytes_iec(d->offline_mem_budget, b3, sizeof(b3)));
        if (d->squeezed)
                add(f, TOP_STYLE_WARNING, "SQUEEZED: %s", d->squeeze_reason);
        else
                add(f, TOP_STYLE_NORMAL, "not squeezed; %" PRIu64 " evictions so far", d->evictions_total);
}

static TopStyle row_style(const StatusWorkload *w) {
        if (w->state == WORKLOAD_EVICTED)
                return TOP_STYLE_BAD;
        if (w->state == WORKLOAD_SQUEEZED)
                return TOP_STYLE_WARNING;
        return w->cls == CLASS_ONLINE ? TOP_STYLE_ONLINE : TOP_STYLE_OFFLINE;
}

/* The table: rows sorted, as many as room allows (room 0: all of them). */
static int render_table(Frame *f, const StatusDoc *d, TopSort sort, size_t room) {
        if (d->n_workloads == 0) {
                add(f, TOP_STYLE_NORMAL, "no workloads");
                return 0;
        }
        const StatusWorkload **rows = malloc(d->n_workloads * sizeof(*rows));
        if (!rows)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_workloads; i++)
                rows[i] = &d->workloads[i];
        qsort_r(rows, d->n_workloads, sizeof(*rows), compare_workloads, &sort);
        /* The sort key's column is marked with a star. */
        add(f, TOP_STYLE_HEADER, "%-20s %-7s %-11s %6s %10s %5s %-8s %s", sort == TOP_SORT_NAME ? "NAME*" : "NAME", "CLASS", "TIER",
            sort == TOP_SORT_CPU ? "CPU*" : "CPU", sort == TOP_SORT_MEMORY ? "MEMORY*" : "MEMORY", "TASKS", "STATE",
            "REASON");
        size_t shown = room == 0 || d->n_workloads <= room ? d->n_workloads : room > 1 ? room - 1 : 0;
        char b[32];
        for (size_t i = 0; i < shown; i++) {
                const StatusWorkload *w = rows[i];
                add(f, row_style(w), "%-20.20s %-7s %-11s %6.2f %10s %5" PRIu64 " %-8s %s", w->name,
                    workload_class_to_string(w->cls), workload_tier_to_string(w->tier), w->cpu_usage_cores,
                    format_bytes_iec(w->mem_working_set, b, sizeof(b)), w->nr_tasks, workload_state_to_string(w->state),
                    w->reason);
        }
        if (shown < d->n_workloads)
                add(f, TOP_STYLE_NORMAL, "... %zu more", d->n_workloads - shown);
        free(rows);
        return 0;
}

static void render_events(Frame *f, const TopEvents *ev, size_t room) {
        if (!ev || ev->n == 0)
                return;
        add(f, TOP_STYLE_HEADER, "EVENTS");
        size_t n = room == 0 ? ev->n : MIN(ev->n, room > 1 ? room - 1 : 0);
        for (size_t i = 0; i < n; i++) {
                const TopLine *l = &ev->lines[ev->n - 1 - i];
                add(f, l->style, "%s", l->text);
        }
}

size_t top_render(const TopFrameInput *in, TopLine *lines, size_t max) {
        Frame f = { .lines = lines, .max = in->height ? MIN(max, in->height) : max, .width = MAX(in->width, (size_t) 1) };
        if (!in->doc) {
                add(&f, TOP_STYLE_BAD, "colo top - no status: %s", in->message ? in->message : "unknown");
                if (in->show_keys)
                        add(&f, TOP_STYLE_NORMAL, "q quit");
                return f.n;
        }
        render_summary(&f, in);
        if (in->message && in->message[0])
                add(&f, TOP_STYLE_WARNING, "%s", in->message);
        if (in->show_keys)
                add(&f, TOP_STYLE_NORMAL, "keys: c sort by CPU, m by memory, n by name, q quit");
        /* Below the summary, the table (its header and rows) gets the room but what the events
         * need for their header and the two newest; events get what the table leaves. */
        size_t rows_room = 0, event_room = 0;
        if (in->height) {
                size_t n_events = in->events ? in->events->n : 0;
                size_t left = f.max > f.n ? f.max - f.n : 0;
                size_t events_want = n_events ? 1 + MIN(n_events, (size_t) 2) : 0;
                size_t table_room = MIN(in->doc->n_workloads + 1, MAX(left > events_want ? left - events_want : 0, (size_t) 2));
                rows_room = table_room - 1;
                event_room = left > table_room ? left - table_room : 0;
        }
        if (render_table(&f, in->doc, in->sort, in->height ? MAX(rows_room, (size_t) 1) : 0) < 0)
                add(&f, TOP_STYLE_BAD, "out of memory");
        if (!in->height || event_room > 0)
                render_events(&f, in->events, in->height ? event_room : 0);
        return f.n;
}
