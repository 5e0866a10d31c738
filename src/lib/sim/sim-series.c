/* Simulator series output: per-node CSV series and the gnuplot chart of one node. Both are
 * observers fed during the run, so no series is kept in memory: rows stream to files (a small
 * cache of open files serves many nodes). */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sim/sim.h"

/* ---- CSV ---- */

#define CSV_OPEN_FILES 64

typedef struct CsvFile {
        FILE *f;
        size_t node;
        uint64_t last_use;
} CsvFile;

struct SimCsv {
        char *dir;
        char *header;
        bool *created;          /* per node: its file exists and has the header */
        size_t n_created;
        CsvFile open[CSV_OPEN_FILES];
        uint64_t clock;
};

/* Appends s to buf as a CSV field, quoted if it holds a comma, quote or newline. */
static int csv_field(char **buf, size_t *len, const char *s) {
        bool quote = strpbrk(s, ",\"\n\r") != NULL;
        size_t need = *len + 2 * strlen(s) + 4;
        char *b = realloc(*buf, need);
        if (!b)
                return -ENOMEM;
        *buf = b;
        if (*len > 0)
                b[(*len)++] = ',';
        if (quote)
                b[(*len)++] = '"';
        for (; *s; s++) {
                if (*s == '"')
                        b[(*len)++] = '"';
                b[(*len)++] = *s;
        }
        if (quote)
                b[(*len)++] = '"';
        b[*len] = '\0';
        return 0;
}

SimCsv *sim_csv_free(SimCsv *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < CSV_OPEN_FILES; i++)
                if (c->open[i].f)
                        (void) fclose(c->open[i].f);
        free(c->created);
        free(c->header);
        free(c->dir);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(SimCsv *, sim_csv_free);

int sim_csv_new(const char *dir, const char *const *specs, size_t n_specs, SimCsv **ret, ColoError *err) {
        _cleanup_(sim_csv_freep) SimCsv *c = calloc(1, sizeof(*c));
        size_t len = 0;
        if (!c || !(c->dir = strdup(dir)))
                return colo_error_set(err, ENOMEM, "CSV output");
        static const char *const fixed[] = { "t_s", "usage", "limit", "future_peak" };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                if (csv_field(&c->header, &len, fixed[i]) < 0)
                        return colo_error_set(err, ENOMEM, "CSV output");
        for (size_t i = 0; i < n_specs; i++)
                if (csv_field(&c->header, &len, specs[i]) < 0)
                        return colo_error_set(err, ENOMEM, "CSV output");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return colo_error_set(err, errno, "create '%s'", dir);
        struct stat st;
        if (stat(dir, &st) < 0)
                return colo_error_set(err, errno, "'%s'", dir);
        if (!S_ISDIR(st.st_mode))
                return colo_error_set(err, ENOTDIR, "'%s'", dir);
        *ret = TAKE_PTR(c);
        return 0;
}

/* The open file of node, opening it (and evicting the least recently used) if needed. */
static int csv_file(SimCsv *c, size_t node, FILE **ret, ColoError *err) {
        size_t victim = 0;
        c->clock++;
        for (size_t i = 0; i < CSV_OPEN_FILES; i++) {
                if (c->open[i].f && c->open[i].node == node) {
                        c->open[i].last_use = c->clock;
                        *ret = c->open[i].f;
                        return 0;
                }
                if (!c->open[i].f || (c->open[victim].f && c->open[i].last_use < c->open[victim].last_use))
                        victim = i;
        }
        if (c->open[victim].f && fclose(c->open[victim].f) != 0) {
                c->open[victim].f = NULL;
                return colo_error_set(err, errno, "write '%s/node-%zu.csv'", c->dir, c->open[victim].node);
        }
        c->open[victim].f = NULL;

        if (node >= c->n_created) {
                size_t n = MAX(node + 1, c->n_created * 2);
                bool *created = realloc(c->created, n * sizeof(bool));
                if (!created)
                        return colo_error_set(err, ENOMEM, "CSV output");
                memset(created + c->n_created, 0, (n - c->n_created) * sizeof(bool));
                c->created = created;
                c->n_created = n;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/node-%zu.csv", c->dir, node);
        FILE *f = fopen(path, c->created[node] ? "ae" : "we");
        if (!f)
                return colo_error_set(err, errno, "open '%s'", path);
        if (!c->created[node])
                fprintf(f, "%s\n", c->header);
        c->created[node] = true;
        c->open[victim] = (CsvFile) { .f = f, .node = node, .last_use = c->clock };
        *ret = f;
        return 0;
}

int sim_csv_observe(void *userdata, const SimStep *step, ColoError *err) {
        SimCsv *c = userdata;
        FILE *f;
        int r = csv_file(c, step->node, &f, err);
        if (r < 0)
                return r;
        fprintf(f, "%" PRIu64 ",%.9g,%.9g,%.9g", step->t_usec / USEC_PER_SEC, step->usage, step->limit,
                step->future_peak);
        for (size_t i = 0; i < step->n_predictors; i++)
                fprintf(f, ",%.9g", step->predictions[i]);
        if (fputc('\n', f) == EOF)
                return colo_error_set(err, errno ? errno : EIO, "write '%s/node-%zu.csv'", c->dir, step->node);
        return 0;
}

int sim_csv_finish(SimCsv *c, const TraceReader *reader, ColoError *err) {
        int ret = 0;
        for (size_t i = 0; i < CSV_OPEN_FILES; i++)
                if (c->open[i].f) {
                        if (fclose(c->open[i].f) != 0 && ret == 0)
                                ret = colo_error_set(err, errno, "write '%s/node-%zu.csv'", c->dir, c->open[i].node);
                        c->open[i].f = NULL;
                }
        if (ret < 0)
                return ret;

        char path[4096];
        snprintf(path, sizeof(path), "%s/nodes.csv", c->dir);
        FILE *f = fopen(path, "we");
        if (!f)
                return colo_error_set(err, errno, "open '%s'", path);
        fprintf(f, "index,name,members,file\n");
        size_t n = reader ? trace_reader_n_nodes(reader) : c->n_created;
        for (size_t node = 0; node < n; node++) {
                char *line = NULL, *members = NULL, num[32];
                size_t len = 0, mlen = 0;
                const char *m;
                snprintf(num, sizeof(num), "%zu", node);
                int k = csv_field(&line, &len, num);
                k |= csv_field(&line, &len, reader ? trace_reader_node_name(reader, node) : num);
                for (size_t i = 0; k == 0 && reader && (m = trace_reader_node_member(reader, node, i)); i++) {
                        char *b = realloc(members, mlen + strlen(m) + 2);
                        if (!b) {
                                k = -ENOMEM;
                                break;
                        }
                        members = b;
                        mlen += (size_t) sprintf(members + mlen, "%s%s", mlen ? " " : "", m);
                }
                k |= csv_field(&line, &len, members ? members : "");
                snprintf(num, sizeof(num), "node-%zu.csv", node);
                k |= csv_field(&line, &len, node < c->n_created && c->created[node] ? num : "");
                if (k == 0)
                        fprintf(f, "%s\n", line);
                free(line);
                free(members);
                if (k != 0) {
                        (void) fclose(f);
                        return colo_error_set(err, ENOMEM, "write '%s'", path);
                }
        }
        if (fclose(f) != 0)
                return colo_error_set(err, errno, "write '%s'", path);
        return 0;
}

/* ---- plot ---- */

struct SimPlot {
        char *png_path;
        char *node_selector;
        bool selector_is_index;
        size_t node;                    /* when resolved */
        bool resolved;
        const TraceReader *reader;
        char **specs;
        size_t n_specs;
        uint64_t horizon_usec, step_usec;
        double limit;
        uint64_t rows;
        uint64_t last_t;
        char tmpdir[256];
        char data_path[300], script_path[300], log_path[300];
        FILE *data;
};

SimPlot *sim_plot_free(SimPlot *p) {
        if (!p)
                return NULL;
        if (p->data)
                (void) fclose(p->data);
        if (p->tmpdir[0]) {
                (void) unlink(p->data_path);
                (void) unlink(p->script_path);
                (void) unlink(p->log_path);
                (void) rmdir(p->tmpdir);
        }
        for (size_t i = 0; i < p->n_specs; i++)
                free(p->specs[i]);
        free(p->specs);
        free(p->node_selector);
        free(p->png_path);
        free(p);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(SimPlot *, sim_plot_free);

int sim_plot_new(const char *png_path, const char *node, const TraceReader *reader, const char *const *specs,
                 size_t n_specs, uint64_t horizon_usec, uint64_t step_usec, SimPlot **ret, ColoError *err) {
        _cleanup_(sim_plot_freep) SimPlot *p = calloc(1, sizeof(*p));
        if (!p)
                return colo_error_set(err, ENOMEM, "plot");
        if (!node || !*node)
                node = "0";
        p->png_path = strdup(png_path);
        p->node_selector = strdup(node);
        p->specs = calloc(n_specs, sizeof(char *));
        if (!p->png_path || !p->node_selector || !p->specs)
                return colo_error_set(err, ENOMEM, "plot");
        for (; p->n_specs < n_specs; p->n_specs++)
                if (!(p->specs[p->n_specs] = strdup(specs[p->n_specs])))
                        return colo_error_set(err, ENOMEM, "plot");
        p->selector_is_index = strspn(node, "0123456789") == strlen(node);
        if (p->selector_is_index) {
                p->node = strtoul(node, NULL, 10);
                p->resolved = true;
        }
        p->reader = reader;
        p->horizon_usec = horizon_usec;
        p->step_usec = step_usec;

        const char *tmp = getenv("TMPDIR");
        snprintf(p->tmpdir, sizeof(p->tmpdir), "%s/colo-sim-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(p->tmpdir)) {
                int e = errno;
                p->tmpdir[0] = '\0';
                return colo_error_set(err, e, "create a temporary directory for the plot");
        }
        snprintf(p->data_path, sizeof(p->data_path), "%s/series.csv", p->tmpdir);
        snprintf(p->script_path, sizeof(p->script_path), "%s/plot.gp", p->tmpdir);
        snprintf(p->log_path, sizeof(p->log_path), "%s/gnuplot.log", p->tmpdir);
        p->data = fopen(p->data_path, "we");
        if (!p->data)
                return colo_error_set(err, errno, "open '%s'", p->data_path);
        *ret = TAKE_PTR(p);
        return 0;
}

int sim_plot_observe(void *userdata, const SimStep *step, ColoError *err) {
        SimPlot *p = userdata;
        if (!p->resolved) {
                const char *name = p->reader ? trace_reader_node_name(p->reader, step->node) : NULL;
                if (!name || strcmp(name, p->node_selector) != 0)
                        return 0;
                p->node = step->node;
                p->resolved = true;
        }
        if (step->node != p->node)
                return 0;
        /* A blank line makes gnuplot break the lines where steps were not scored (gaps). */
        if (p->rows > 0 && step->t_usec - p->last_t > p->step_usec)
                fputc('\n', p->data);
        p->last_t = step->t_usec;
        fprintf(p->data, "%" PRIu64 ",%.9g,%.9g,%.9g", step->t_usec / USEC_PER_SEC, step->usage, step->limit,
                step->future_peak);
        for (size_t i = 0; i < step->n_predictors; i++)
                fprintf(p->data, ",%.9g", step->predictions[i]);
        if (fputc('\n', p->data) == EOF)
                return colo_error_set(err, errno ? errno : EIO, "write '%s'", p->data_path);
        p->limit = step->limit;
        p->rows++;
        return 0;
}

/* A gnuplot single-quoted string: quotes are doubled. */
static void gp_string(FILE *f, const char *s) {
        fputc('\'', f);
        for (; *s; s++) {
                if (*s == '\'')
                        fputc('\'', f);
                if (*s != '\n' && *s != '\r')
                        fputc(*s, f);
        }
        fputc('\'', f);
}

/* Distinct from the black actual peak and the grey usage. */
static const char *const plot_colors[] = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
};

static int write_script(SimPlot *p, ColoError *err) {
        FILE *f = fopen(p->script_path, "we");
        if (!f)
                return colo_error_set(err, errno, "open '%s'", p->script_path);
        const char *node_name = p->reader ? trace_reader_node_name(p->reader, p->node) : NULL;
        char title[512];
        snprintf(title, sizeof(title), "%s, node %s: peak over the next %" PRIu64 " min, predicted vs actual",
                 p->reader ? trace_reader_name(p->reader) : "trace", node_name ? node_name : p->node_selector,
                 p->horizon_usec / USEC_PER_SEC / 60);

        fprintf(f, "set terminal pngcairo size 1600,700 noenhanced\nset output ");
        gp_string(f, p->png_path);
        fprintf(f, "\nset datafile separator ','\nset title ");
        gp_string(f, title);
        fprintf(f, "\nset xlabel 'time (days from the trace start)'\n"
                   "set ylabel 'CPU (limit %.3g)'\nset key outside right top\nset grid\n"
                   "set yrange [0:%.6g]\n",
                p->limit, p->limit * 1.05);
        fprintf(f, "plot ");
        gp_string(f, p->data_path);
        fprintf(f, " using ($1/86400):2 with lines lc rgb '#bbbbbb' title 'usage'");
        for (size_t i = 0, color = 0; i < p->n_specs; i++) {
                if (strcmp(p->specs[i], "oracle") == 0)
                        continue; /* it is the actual peak */
                fprintf(f, ", \\\n  '' using ($1/86400):%zu with lines lc rgb '%s' title ", i + 5,
                        plot_colors[color++ % ELEMENTSOF(plot_colors)]);
                gp_string(f, p->specs[i]);
        }
        /* Last, so it is drawn on top. */
        fprintf(f, ", \\\n  '' using ($1/86400):4 with lines lw 2 lc rgb 'black' title 'actual peak'\n");
        if (fclose(f) != 0)
                return colo_error_set(err, errno, "write '%s'", p->script_path);
        return 0;
}

int sim_plot_render(SimPlot *p, ColoError *err) {
        int r;

        if (fclose(p->data) != 0) {
                p->data = NULL;
                return colo_error_set(err, errno, "write '%s'", p->data_path);
        }
        p->data = NULL;
        if (p->rows == 0)
                return colo_error_setf_plain(err, ENODATA, "plot: node '%s' has no scored step%s", p->node_selector,
                                             p->reader ? " (see nodes with --csv)" : "");
        r = write_script(p, err);
        if (r < 0)
                return r;

        posix_spawn_file_actions_t fa;
        if (posix_spawn_file_actions_init(&fa) != 0)
                return colo_error_set(err, ENOMEM, "run gnuplot");
        (void) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        (void) posix_spawn_file_actions_addopen(&fa, 1, p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        (void) posix_spawn_file_actions_adddup2(&fa, 1, 2);
        char *argv[] = { (char *) "gnuplot", p->script_path, NULL };
        extern char **environ;
        pid_t pid;
        r = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r == ENOENT)
                return colo_error_setf_plain(err, ENOENT,
                                             "plot: gnuplot not found in PATH (Debian: apt-get install gnuplot-nox)");
        if (r != 0)
                return colo_error_set(err, r, "plot: run gnuplot");
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return colo_error_set(err, errno, "plot: wait for gnuplot");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char log[512] = "";
                FILE *l = fopen(p->log_path, "re");
                if (l) {
                        size_t n = fread(log, 1, sizeof(log) - 1, l);
                        log[n] = '\0';
                        (void) fclose(l);
                }
                for (char *c = log; *c; c++)
                        if (*c == '\n' || *c == '\r' || *c == '\t')
                                *c = ' ';
                return colo_error_setf_plain(err, EIO, "plot: gnuplot failed writing '%s'%s%s", p->png_path,
                                             log[0] ? ": " : "", log);
        }
        return 0;
}
