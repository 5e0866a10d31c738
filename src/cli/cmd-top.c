/* colo top: a live view of the agent's status document, refreshed every interval, like
 * systemd-cgtop. The screen itself is a pure function (top/top-view.h); this file reads the
 * status file, keeps the events between documents and draws with ncurses. One poll(2) waits for
 * a key, a signal (signalfd: SIGINT/SIGTERM quit cleanly, SIGWINCH resizes) or the next refresh,
 * so nothing runs in a signal handler. Without a terminal on stdout, or with --once, it prints
 * one screen as plain text and exits. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include "cli/commands.h"
#include "workloads/session.h"
#include "top/top-view.h"
#include "util/fileio.h"
#include "util/macro.h"

#define TOP_MAX_LINES 512

typedef enum ColorMode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER } ColorMode;

typedef struct TopOptions {
        const char *config_path, *state_dir;
        double interval_sec;
        TopSort sort;
        ColorMode color;
        bool once;
} TopOptions;

/* What the view shows: the last document read, and why the newest read failed, if it did. */
typedef struct TopState {
        char state_dir[256];
        StatusDoc doc;
        bool have_doc;
        char message[512];
        TopEvents events;
} TopState;

static void top_usage(FILE *f) {
        fprintf(f, "Usage: colo top [OPTIONS]\n\n"
                   "A live view of the agent's status: node, budget, predicted peak, workloads, and\n"
                   "squeeze and eviction events as they happen. Keys: c, m, n sort by CPU, memory, name; q quits.\n\n"
                   "      --once             print one screen as plain text and exit (also without a terminal)\n"
                   "  -d, --interval SEC     refresh interval (default 1)\n"
                   "  -s, --sort KEY         cpu (default), memory or name\n"
                   "      --color WHEN       auto (default: if the terminal has colours and NO_COLOR is unset),\n"
                   "                         always or never\n"
                   "      --config FILE      configuration file (default %s if present)\n"
                   "      --state-dir DIR    where the agent's status file is (default: agent.state_dir)\n",
                DEFAULT_CONFIG_PATH);
}

static int parse_options(int argc, char **argv, TopOptions *o) {
        enum { OPT_ONCE = 0x100, OPT_COLOR, OPT_CONFIG, OPT_STATE_DIR };
        static const struct option options[] = {
                { "once", no_argument, NULL, OPT_ONCE },
                { "interval", required_argument, NULL, 'd' },
                { "sort", required_argument, NULL, 's' },
                { "color", required_argument, NULL, OPT_COLOR },
                { "config", required_argument, NULL, OPT_CONFIG },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        char *end;
        while ((c = getopt_long(argc, argv, "d:s:h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_ONCE: o->once = true; break;
                case 'd':
                        o->interval_sec = strtod(optarg, &end);
                        if (*end || !(o->interval_sec >= 0.1 && o->interval_sec <= 3600)) {
                                fprintf(stderr, "colo top: --interval '%s' is not 0.1..3600 seconds\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 's':
                        if ((o->sort = top_sort_from_string(optarg)) < 0) {
                                fprintf(stderr, "colo top: --sort '%s' is not cpu, memory or name\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_COLOR:
                        if (strcmp(optarg, "auto") == 0) o->color = COLOR_AUTO;
                        else if (strcmp(optarg, "always") == 0) o->color = COLOR_ALWAYS;
                        else if (strcmp(optarg, "never") == 0) o->color = COLOR_NEVER;
                        else {
                                fprintf(stderr, "colo top: --color '%s' is not auto, always or never\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_CONFIG: o->config_path = optarg; break;
                case OPT_STATE_DIR: o->state_dir = optarg; break;
                case 'h': top_usage(stdout); return 1;
                default: top_usage(stderr); return -EINVAL;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "colo top: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 0;
}

/* Reads the status file again. On failure the last document stays on screen, with the error. */
static void refresh_state(TopState *t) {
        StatusDoc next = {};
        ColoError err = {};
        int r = session_read_status(t->state_dir, &next, NULL, &err);
        if (r < 0) {
                snprintf(t->message, sizeof(t->message), "%s", r == -ENOENT ? "no status file: is the agent running?"
                                                                             : colo_error_msg(&err));
                return;
        }
        t->message[0] = '\0';
        char at[16] = "";
        time_t when = (time_t) (next.updated_realtime_usec / USEC_PER_SEC);
        struct tm tm;
        if (localtime_r(&when, &tm))
                strftime(at, sizeof(at), "%H:%M:%S", &tm);
        if (!t->have_doc || next.updated_realtime_usec != t->doc.updated_realtime_usec) {
                top_events_update(&t->events, t->have_doc ? &t->doc : NULL, &next, at);
                status_doc_done(&t->doc);
                t->doc = next;
                t->have_doc = true;
        } else
                status_doc_done(&next);
}

static size_t render(const TopState *t, const TopOptions *o, size_t width, size_t height, bool keys, TopLine *lines) {
        uint64_t now = now_realtime_usec();
        TopFrameInput in = {
                .doc = t->have_doc ? &t->doc : NULL,
                .message = t->message,
                .live = t->have_doc && session_agent_is_live(&t->doc, now, NULL),
                .age_seconds = t->have_doc ? (double) (now - MIN(now, t->doc.updated_realtime_usec)) / USEC_PER_SEC : 0,
                .events = &t->events,
                .sort = o->sort,
                .show_keys = keys,
                .width = width,
                .height = height,
        };
        return top_render(&in, lines, TOP_MAX_LINES);
}

/* ANSI colours for --once --color=always (a pipe into less -R, say). */
static const char *ansi_color(TopStyle s) {
        switch (s) {
        case TOP_STYLE_TITLE: return "\033[1m";
        case TOP_STYLE_HEADER: return "\033[7m";
        case TOP_STYLE_ONLINE: return "\033[32m";
        case TOP_STYLE_OFFLINE: return "\033[36m";
        case TOP_STYLE_WARNING: return "\033[33m";
        case TOP_STYLE_BAD: return "\033[1;31m";
        default: return "";
        }
}

static int print_once(TopState *t, const TopOptions *o) {
        refresh_state(t);
        const char *columns = getenv("COLUMNS");
        size_t width = columns && atoi(columns) > 0 ? (size_t) atoi(columns) : 200;
        TopLine *lines = calloc(TOP_MAX_LINES, sizeof(*lines));
        if (!lines)
                return fprintf(stderr, "colo top: out of memory\n"), 1;
        size_t n = render(t, o, width, 0, false, lines);
        for (size_t i = 0; i < n; i++) {
                const char *on = o->color == COLOR_ALWAYS ? ansi_color(lines[i].style) : "";
                printf("%s%s%s\n", on, lines[i].text, on[0] ? "\033[0m" : "");
        }
        free(lines);
        return t->have_doc ? 0 : 1;
}

static void init_colors(void) {
        start_color();
        (void) use_default_colors();
        init_pair(1, COLOR_GREEN, -1);
        init_pair(2, COLOR_CYAN, -1);
        init_pair(3, COLOR_YELLOW, -1);
        init_pair(4, COLOR_RED, -1);
}

static attr_t style_attr(TopStyle s, bool color) {
        switch (s) {
        case TOP_STYLE_TITLE: return A_BOLD;
        case TOP_STYLE_HEADER: return A_REVERSE;
        case TOP_STYLE_ONLINE: return color ? COLOR_PAIR(1) : A_NORMAL;
        case TOP_STYLE_OFFLINE: return color ? COLOR_PAIR(2) : A_NORMAL;
        case TOP_STYLE_WARNING: return color ? COLOR_PAIR(3) : A_BOLD;
        case TOP_STYLE_BAD: return color ? COLOR_PAIR(4) | A_BOLD : A_BOLD | A_UNDERLINE;
        default: return A_NORMAL;
        }
}

static void draw(const TopState *t, const TopOptions *o, bool color, TopLine *lines) {
        size_t n = render(t, o, (size_t) MAX(COLS, 1), (size_t) MAX(LINES, 1), true, lines);
        erase();
        for (size_t i = 0; i < n; i++) {
                attr_t a = style_attr(lines[i].style, color);
                attron(a);
                mvaddnstr((int) i, 0, lines[i].text, COLS);
                attroff(a);
        }
        refresh();
}

/* SIGWINCH reaches us through the signalfd, not ncurses' handler: tell ncurses the new size. */
static void resize(void) {
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
                (void) resizeterm(ws.ws_row, ws.ws_col);
}

/* Handles one key; returns false to quit. */
static bool on_key(int ch, TopOptions *o) {
        switch (ch) {
        case 'q': case 'Q': return false;
        case 'c': case 'C': o->sort = TOP_SORT_CPU; break;
        case 'm': case 'M': o->sort = TOP_SORT_MEMORY; break;
        case 'n': case 'N': o->sort = TOP_SORT_NAME; break;
        default: break;
        }
        return true;
}

static int run_interactive(TopState *t, TopOptions *o, int sigfd) {
        TopLine *lines = calloc(TOP_MAX_LINES, sizeof(*lines));
        if (!lines || !initscr())
                return free(lines), fprintf(stderr, "colo top: cannot start the terminal\n"), 1;
        cbreak();
        noecho();
        keypad(stdscr, TRUE);
        nodelay(stdscr, TRUE);
        (void) curs_set(0);
        bool color = o->color != COLOR_NEVER && has_colors() && (o->color == COLOR_ALWAYS || !getenv("NO_COLOR"));
        if (color)
                init_colors();
        uint64_t interval_usec = (uint64_t) (o->interval_sec * USEC_PER_SEC), due = 0;
        for (bool running = true; running;) {
                uint64_t now = now_monotonic_usec();
                if (now >= due) {
                        refresh_state(t);
                        due = now + interval_usec;
                }
                draw(t, o, color, lines);
                struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };
                int timeout_ms = (int) ((due - MIN(due, now_monotonic_usec())) / USEC_PER_MSEC) + 1;
                if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
                        break;
                struct signalfd_siginfo si;
                if ((fds[1].revents & POLLIN) && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                        if (si.ssi_signo == SIGWINCH)
                                resize();
                        else
                                running = false;
                }
                for (int ch; running && (ch = getch()) != ERR;)
                        running = on_key(ch, o);
                if (fds[0].revents & (POLLHUP | POLLERR))
                        running = false;
        }
        endwin();
        free(lines);
        return 0;
}

int cmd_top(int argc, char **argv) {
        TopOptions o = { .interval_sec = 1.0, .sort = TOP_SORT_CPU, .color = COLOR_AUTO };
        int r = parse_options(argc, argv, &o);
        if (r != 0)
                return r > 0 ? 0 : 2;
        TopState t = {};
        Config cfg;
        ColoError err = {};
        if (session_load_config(o.config_path, &cfg, &err) < 0) {
                fprintf(stderr, "colo top: %s\n", colo_error_msg(&err));
                return 1;
        }
        snprintf(t.state_dir, sizeof(t.state_dir), "%s", o.state_dir ?: cfg.agent.state_dir);
        if (o.once || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
                r = print_once(&t, &o);
        } else {
                sigset_t mask;
                sigemptyset(&mask);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGHUP);
                sigaddset(&mask, SIGWINCH);
                int sigfd = sigprocmask(SIG_BLOCK, &mask, NULL) == 0 ? signalfd(-1, &mask, SFD_CLOEXEC) : -1;
                if (sigfd < 0) {
                        fprintf(stderr, "colo top: signalfd: %s\n", strerror(errno));
                        return 1;
                }
                r = run_interactive(&t, &o, sigfd);
                close(sigfd);
        }
        if (t.message[0] && !t.have_doc)
                fprintf(stderr, "colo top: %s\n", t.message);
        status_doc_done(&t.doc);
        return r;
}
