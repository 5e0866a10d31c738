/* The configuration file: libyaml's document API builds the node tree, which is walked against
 * the key table (config-keys.c) into a scratch copy; cross-field rules then run on the copy, and
 * only a copy that passed everything replaces *c, so a bad file changes nothing. Every message
 * reads "file:line:column: section.key: what is wrong". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config-internal.h"
#include "predict/predictor.h"      /* the quantile defaults only: no link dependency */
#include "util/fileio.h"
#include "util/macro.h"
#include "util/yaml-depth.h"

void config_init_defaults(Config *c) {
        memset(c, 0, sizeof(*c));
        c->agent = (AgentConfig) {
                .cgroup_fs_root = "/sys/fs/cgroup",
                .cgroup_mode = "auto",
                .subtree = "colo",
                .state_dir = "/run/colo",
                .offline_placement = "top",
                .period_usec = USEC_PER_SEC,
                .fast_reaction = true,
                .own_cpu_group = true,
                .psi_trigger_stall_usec = 100 * USEC_PER_MSEC,
                .psi_trigger_window_usec = USEC_PER_SEC,
                .cpu_pressure_poll_usec = 25 * USEC_PER_MSEC,
                .evict_grace_usec = 10 * USEC_PER_SEC,
                .log_level = "info",
        };
        c->metrics = (MetricsConfig) {
                .enabled = true,
                .listen_address = "127.0.0.1",
                .port = 9479,
        };
        policy_config_init_defaults(&c->policy);
        c->prediction = (PredictionConfig) {
                .predictor = "colo",
                .cpu_quantile = PREDICTOR_COLO_CPU_QUANTILE,
                .memory_quantile = PREDICTOR_COLO_STRICT_QUANTILE,
                .horizon_usec = 3600 * USEC_PER_SEC,
                .half_life_usec = 12 * 3600 * USEC_PER_SEC,
                .min_history_usec = 3600 * USEC_PER_SEC,
                .checkpoint_interval_usec = 5 * 60 * USEC_PER_SEC,
                .checkpoint_path = "/var/lib/colo/profiles.ckpt",
        };
        c->kubernetes = (KubernetesConfig) {
                .enabled = false,
                .node_name = "",
                .kubeconfig = "",
                .cgroup_driver = "cgroupfs",
                .status_update_interval_usec = 5 * 60 * USEC_PER_SEC,
                .status_change_threshold = 0.1,
                .stale_after_usec = 30 * USEC_PER_SEC,
                .offline_pod_default_cpu_cores = 2.0,
                .offline_pod_default_memory = 4ULL << 30,
                .offline_pod_pids_max = 4096,
        };
}

/* One parse: the document, which nodes were already walked (an alias reaches a node twice), and
 * where each section and key was set, for duplicate and cross-field messages. */
typedef struct Walker {
        const char *filename;
        const char *text;
        size_t text_size;
        yaml_document_t *doc;
        bool *visited;
        size_t n_nodes;
        Config *scratch;
        bool key_set[CONFIG_KEYS_MAX];
        yaml_mark_t key_mark[CONFIG_KEYS_MAX];
        bool section_set[16];
        yaml_mark_t section_mark[16];
        ColoError *err;
} Walker;

/* "file:line:column: key: message"; mark and key may each be missing. */
_printf_(4, 5) static int walker_error(Walker *w, const yaml_mark_t *mark, const char *key, const char *fmt, ...) {
        char msg[768], where[320];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (mark)
                snprintf(where, sizeof(where), "%s:%zu:%zu", w->filename, mark->line + 1, mark->column + 1);
        else
                snprintf(where, sizeof(where), "%s", w->filename);
        if (key)
                return colo_error_setf_plain(w->err, EINVAL, "%s: %s: %s", where, key, msg);
        return colo_error_setf_plain(w->err, EINVAL, "%s: %s", where, msg);
}

static const char *node_kind(const yaml_node_t *n) {
        switch (n->type) {
        case YAML_MAPPING_NODE:
                return "a mapping";
        case YAML_SEQUENCE_NODE:
                return "a list";
        default:
                return "a value";
        }
}

static bool node_is_null(const yaml_node_t *n) {
        if (n->type != YAML_SCALAR_NODE)
                return false;
        if (n->tag && strcmp((const char *) n->tag, YAML_NULL_TAG) == 0)
                return true;
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
        for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
                if (strcmp((const char *) n->data.scalar.value, nulls[i]) == 0)
                        return true;
        return false;
}

/* Marks a node as walked. A node reached twice was reached through an alias: refused, so that
 * one anchored block cannot quietly configure several places (and alias loops cannot form). Tags
 * other than YAML's core ones ("!!python/object", "!custom") are refused too. */
static int walker_visit(Walker *w, yaml_node_t *n, const yaml_mark_t *use_mark, const char *key) {
        size_t idx = (size_t) (n - w->doc->nodes.start);
        if (idx >= w->n_nodes)
                return walker_error(w, use_mark, key, "internal error: node out of range");
        if (w->visited[idx])
                return walker_error(w, use_mark, key, "aliases (*name) are not supported: write the value out");
        w->visited[idx] = true;

        static const char *const scalar_tags[] = { YAML_STR_TAG, YAML_INT_TAG, YAML_FLOAT_TAG, YAML_BOOL_TAG,
                                                   YAML_NULL_TAG };
        const char *tag = (const char *) n->tag;
        bool ok = !tag;
        if (tag && n->type == YAML_SCALAR_NODE)
                for (size_t i = 0; i < ELEMENTSOF(scalar_tags) && !ok; i++)
                        ok = strcmp(tag, scalar_tags[i]) == 0;
        else if (tag && n->type == YAML_MAPPING_NODE)
                ok = strcmp(tag, YAML_MAP_TAG) == 0;
        else if (tag && n->type == YAML_SEQUENCE_NODE)
                ok = strcmp(tag, YAML_SEQ_TAG) == 0;
        if (!ok) {
                char quoted[96];
                return walker_error(w, &n->start_mark, key, "unsupported tag %s",
                                    config_quote(tag, strlen(tag), quoted, sizeof(quoted)));
        }
        return 0;
}

/* A mapping key: a non-null scalar without NUL bytes. */
static int walker_key_name(Walker *w, yaml_node_t *k, const char *parent, const char **ret) {
        if (k->type != YAML_SCALAR_NODE || node_is_null(k))
                return walker_error(w, &k->start_mark, parent, "expected a key name, got %s",
                                    k->type == YAML_SCALAR_NODE ? "an empty key" : node_kind(k));
        const char *name = (const char *) k->data.scalar.value;
        if (strlen(name) != k->data.scalar.length)
                return walker_error(w, &k->start_mark, parent, "key names cannot contain NUL bytes");
        *ret = name;
        return 0;
}

static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), row[65];
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
                        diag = up;
                }
        }
        return row[lb];
}

/* " (did you mean \"period\"?)" for a near miss in the same section, or the same name in
 * another section; "" when nothing is close. */
static const char *suggest_key(const char *section, const char *name, char *buf, size_t size) {
        const char *best = NULL;
        size_t best_distance = 3;
        buf[0] = '\0';
        for (size_t i = 0; i < config_keys_count; i++) {
                const ConfigKey *k = &config_keys[i];
                if (strcmp(k->section, section) != 0) {
                        if (strcmp(k->name, name) == 0) {
                                snprintf(buf, size, " (did you mean %s?)", k->dotted);
                                return buf;
                        }
                        continue;
                }
                size_t d = edit_distance(name, k->name);
                if (d < best_distance) {
                        best_distance = d;
                        best = k->name;
                }
        }
        if (best)
                snprintf(buf, size, " (did you mean %s?)", best);
        return buf;
}

static const char *suggest_section(const char *name, char *buf, size_t size) {
        buf[0] = '\0';
        for (size_t i = 0; config_sections[i]; i++)
                if (edit_distance(name, config_sections[i]) < 3) {
                        snprintf(buf, size, " (did you mean %s?)", config_sections[i]);
                        break;
                }
        return buf;
}

static int walker_key(Walker *w, size_t section, yaml_node_pair_t *pair) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, pair->key), *vn = yaml_document_get_node(w->doc, pair->value);
        const char *sec = config_sections[section], *name;
        char dotted[192], hint[96], got[96], reason_buf[512];
        int r;

        if (!kn || !vn)
                return walker_error(w, NULL, sec, "internal error: dangling YAML node");
        r = walker_visit(w, kn, &kn->start_mark, sec);
        if (r < 0)
                return r;
        r = walker_key_name(w, kn, sec, &name);
        if (r < 0)
                return r;
        /* The name as shown in messages: printable, and not the whole of a huge key. */
        snprintf(dotted, sizeof(dotted), "%s.%.60s%s", sec, name, strlen(name) > 60 ? "..." : "");
        for (char *ch = dotted; *ch; ch++)
                if ((unsigned char) *ch < 0x20 || *ch == 0x7f)
                        *ch = '?';

        int idx = -1;
        for (size_t i = 0; i < config_keys_count; i++)
                if (strcmp(config_keys[i].section, sec) == 0 && strcmp(config_keys[i].name, name) == 0) {
                        idx = (int) i;
                        break;
                }
        if (idx < 0)
                return walker_error(w, &kn->start_mark, dotted, "unknown key%s",
                                    suggest_key(sec, name, hint, sizeof(hint)));
        const ConfigKey *k = &config_keys[idx];
        if (w->key_set[idx])
                return walker_error(w, &kn->start_mark, k->dotted, "duplicate key (first set at line %zu)",
                                    w->key_mark[idx].line + 1);

        r = walker_visit(w, vn, &kn->start_mark, k->dotted);
        if (r < 0)
                return r;
        w->key_set[idx] = true;
        w->key_mark[idx] = vn->start_mark;

        const char *noun = config_type_noun(k->type);
        if (vn->type != YAML_SCALAR_NODE)
                return walker_error(w, &vn->start_mark, k->dotted, "expected %s, got %s", noun, node_kind(vn));
        if (node_is_null(vn))
                return walker_error(w, &vn->start_mark, k->dotted, "expected %s, got no value%s", noun,
                                    k->type == CONFIG_TYPE_STRING ? " (write \"\" for an empty string)" : "");
        const char *text = (const char *) vn->data.scalar.value;
        if (strlen(text) != vn->data.scalar.length)
                return walker_error(w, &vn->start_mark, k->dotted, "NUL bytes are not allowed, got %s",
                                    config_quote(text, vn->data.scalar.length, got, sizeof(got)));

        const char *reason = NULL;
        r = config_key_parse(k, text, w->scratch, reason_buf, sizeof(reason_buf), &reason);
        if (r < 0)
                return walker_error(w, &vn->start_mark, k->dotted, "%s", reason ? reason : "invalid value");
        return 0;
}

static int walker_section(Walker *w, yaml_node_pair_t *pair) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, pair->key), *vn = yaml_document_get_node(w->doc, pair->value);
        const char *name;
        char hint[96], quoted[96];
        int r;

        if (!kn || !vn)
                return walker_error(w, NULL, NULL, "internal error: dangling YAML node");
        r = walker_visit(w, kn, &kn->start_mark, NULL);
        if (r < 0)
                return r;
        r = walker_key_name(w, kn, NULL, &name);
        if (r < 0)
                return r;
        size_t section = SIZE_MAX;
        for (size_t i = 0; config_sections[i]; i++)
                if (strcmp(config_sections[i], name) == 0)
                        section = i;
        if (section == SIZE_MAX) {
                suggest_section(name, hint, sizeof(hint));
                return walker_error(w, &kn->start_mark, NULL, "unknown section %s%s",
                                    config_quote(name, strlen(name), quoted, sizeof(quoted)),
                                    hint[0] ? hint
                                            : " (sections: agent, metrics, features, isolation, prediction, kubernetes)");
        }
        if (w->section_set[section])
                return walker_error(w, &kn->start_mark, name, "duplicate section (first at line %zu)",
                                    w->section_mark[section].line + 1);
        w->section_set[section] = true;
        w->section_mark[section] = kn->start_mark;

        r = walker_visit(w, vn, &kn->start_mark, name);
        if (r < 0)
                return r;
        if (node_is_null(vn))
                return 0;       /* "agent:" with every key commented out */
        if (vn->type != YAML_MAPPING_NODE)
                return walker_error(w, &vn->start_mark, name, "expected a mapping of keys, got %s", node_kind(vn));
        for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top; p++) {
                r = walker_key(w, section, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int walker_document(Walker *w) {
        yaml_node_t *root = yaml_document_get_root_node(w->doc);
        int r;

        if (!root)
                return 0;       /* an empty file: every key keeps its value */
        r = walker_visit(w, root, &root->start_mark, NULL);
        if (r < 0)
                return r;
        if (node_is_null(root))
                return 0;       /* "---" alone, or only comments after it */
        if (root->type != YAML_MAPPING_NODE)
                return walker_error(w, &root->start_mark, NULL,
                                    "expected a mapping of sections (agent:, metrics:, ...), got %s", node_kind(root));
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
                r = walker_section(w, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Cross-field rules: lower must stay below upper (strictly, or not). Checked only when the
 * guard key (a boolean) is true, when there is one. */
static const struct {
        const char *lower, *upper;
        bool strict;
        const char *only_if;
} order_rules[] = {
        /* The kernel rejects a PSI trigger whose stall exceeds its window; equal means "stalled
         * the whole window", which would never fire before the damage is done. */
        { "agent.psi_trigger_stall", "agent.psi_trigger_window", true, NULL },
        { "isolation.memory_psi_squeeze", "isolation.memory_psi_evict", false, NULL },
        /* The hysteresis band of the CPU interference controller: release at or below target. */
        { "isolation.cpu_pressure_release", "isolation.cpu_pressure_target", false, NULL },
        { "isolation.io_pressure_release", "isolation.io_pressure_target", false, NULL },
        /* best-effort is the lower tier: the OOM killer must prefer it. */
        { "isolation.oom_score_adj_batch", "isolation.oom_score_adj_best_effort", false, NULL },
        { "isolation.offline_cpu_weight", "isolation.online_cpu_weight", false, NULL },
        /* Advertised capacity must survive at least one control period. */
        { "agent.period", "kubernetes.stale_after", true, "kubernetes.enabled" },
};

static int walker_check_rules(Walker *w) {
        const Config *c = w->scratch;
        char lo_text[96], hi_text[96];

        for (size_t i = 0; i < ELEMENTSOF(order_rules); i++) {
                int lo = config_key_lookup(order_rules[i].lower), hi = config_key_lookup(order_rules[i].upper);
                if (lo < 0 || hi < 0)
                        return walker_error(w, NULL, NULL, "internal error: unknown key in rule %zu", i);
                if (order_rules[i].only_if) {
                        int g = config_key_lookup(order_rules[i].only_if);
                        if (g < 0 || config_key_number(&config_keys[g], c) == 0)
                                continue;
                }
                double vlo = config_key_number(&config_keys[lo], c), vhi = config_key_number(&config_keys[hi], c);
                if (order_rules[i].strict ? vlo < vhi : vlo <= vhi)
                        continue;

                config_format_key(c, (size_t) lo, lo_text, sizeof(lo_text));
                config_format_key(c, (size_t) hi, hi_text, sizeof(hi_text));
                /* Blame the key the file set last: that is the one the user just changed. */
                bool blame_upper = w->key_set[hi] &&
                                   (!w->key_set[lo] || w->key_mark[hi].index > w->key_mark[lo].index);
                if (blame_upper)
                        return walker_error(w, &w->key_mark[hi], config_keys[hi].dotted,
                                            "must be %s %s (%s), got %s", order_rules[i].strict ? "greater than" : "at least",
                                            config_keys[lo].dotted, lo_text, hi_text);
                return walker_error(w, w->key_set[lo] ? &w->key_mark[lo] : NULL, config_keys[lo].dotted,
                                    "must be %s %s (%s), got %s", order_rules[i].strict ? "less than" : "at most",
                                    config_keys[hi].dotted, hi_text, lo_text);
        }
        return 0;
}

/* libyaml's own messages: "mapping values are not allowed in this context" and the like. */
static int yaml_error(Walker *w, const yaml_parser_t *parser) {
        if (parser->error == YAML_MEMORY_ERROR)
                return colo_error_set(w->err, ENOMEM, "%s: parse", w->filename);
        if (parser->error == YAML_READER_ERROR) {
                /* The reader reports a byte offset only: turn it into a line and column. */
                yaml_mark_t mark = {};
                for (size_t i = 0; i < parser->problem_offset && i < w->text_size; i++) {
                        if (w->text[i] == '\n') {
                                mark.line++;
                                mark.column = 0;
                        } else
                                mark.column++;
                }
                return walker_error(w, &mark, NULL, "invalid YAML: %s (byte %zu)",
                                    parser->problem ? parser->problem : "unreadable input", parser->problem_offset);
        }
        if (parser->context)
                return walker_error(w, &parser->problem_mark, NULL, "invalid YAML: %s (%s at line %zu)",
                                    parser->problem ? parser->problem : "syntax error", parser->context,
                                    parser->context_mark.line + 1);
        return walker_error(w, &parser->problem_mark, NULL, "invalid YAML: %s",
                            parser->problem ? parser->problem : "syntax error");
}

/* Refuses a document nested deeper than CONFIG_DEPTH_MAX before yaml_parser_load() builds it
 * (util/yaml-depth.h: quadratic otherwise); no configuration nests deeper than 4. */
static int check_depth(Walker *w) {
        yaml_mark_t mark = {};
        int r = yaml_check_depth(w->text, w->text_size, CONFIG_DEPTH_MAX, &mark.line, &mark.column);
        if (r < 0)
                return colo_error_set(w->err, -r, "%s: parse", w->filename);
        if (r > 0)
                return walker_error(w, &mark, NULL, "nested deeper than %u levels of lists and mappings",
                                    (unsigned) CONFIG_DEPTH_MAX);
        return 0;
}

static void yaml_parser_deletep(yaml_parser_t **p) {
        if (*p)
                yaml_parser_delete(*p);
}
static void yaml_document_deletep(yaml_document_t **d) {
        if (*d)
                yaml_document_delete(*d);
}

int config_parse_yaml(const char *text, size_t size, const char *filename, Config *c, ColoError *err) {
        Walker w = { .filename = filename ? filename : "<config>", .err = err };
        yaml_parser_t parser;
        yaml_document_t doc, next;
        _cleanup_(yaml_parser_deletep) yaml_parser_t *parser_owned = NULL;
        _cleanup_(yaml_document_deletep) yaml_document_t *doc_owned = NULL, *next_owned = NULL;
        _cleanup_free_ Config *scratch = NULL;
        _cleanup_free_ bool *visited = NULL;
        int r;

        if (!c)
                return colo_error_setf_plain(err, EINVAL, "%s: no configuration to fill", w.filename);
        if (size > CONFIG_FILE_MAX)
                return colo_error_setf_plain(err, EFBIG, "%s: larger than %u bytes", w.filename, CONFIG_FILE_MAX);

        if (!yaml_parser_initialize(&parser))
                return colo_error_set(err, ENOMEM, "%s: parse", w.filename);
        parser_owned = &parser;
        w.text = text ? text : "";
        w.text_size = text ? size : 0;
        yaml_parser_set_input_string(&parser, (const unsigned char *) w.text, w.text_size);

        r = check_depth(&w);
        if (r < 0)
                return r;
        if (!yaml_parser_load(&parser, &doc))
                return yaml_error(&w, &parser);
        doc_owned = &doc;

        scratch = malloc(sizeof(*scratch));
        w.n_nodes = (size_t) (doc.nodes.top - doc.nodes.start);
        visited = calloc(MAX(w.n_nodes, (size_t) 1), sizeof(*visited));
        if (!scratch || !visited)
                return colo_error_set(err, ENOMEM, "%s: parse", w.filename);
        *scratch = *c;
        w.doc = &doc;
        w.visited = visited;
        w.scratch = scratch;

        r = walker_document(&w);
        if (r < 0)
                return r;

        /* One document per file: a second one would be silently ignored otherwise. */
        if (yaml_document_get_root_node(&doc)) {
                if (!yaml_parser_load(&parser, &next))
                        return yaml_error(&w, &parser);
                next_owned = &next;
                if (yaml_document_get_root_node(&next))
                        return walker_error(&w, &next.start_mark, NULL,
                                            "a second YAML document starts here; the configuration is one document");
        }

        r = walker_check_rules(&w);
        if (r < 0)
                return r;

        *c = *scratch;
        return 0;
}

int config_load_file(const char *path, Config *c, ColoError *err) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ Config *fresh = NULL;
        size_t size = 0;
        int r;

        if (!path || !c)
                return colo_error_setf_plain(err, EINVAL, "load configuration: no path or no configuration");
        r = read_full_file(path, CONFIG_FILE_MAX, &text, &size, err);
        if (r < 0)
                return r;
        fresh = malloc(sizeof(*fresh));
        if (!fresh)
                return colo_error_set(err, ENOMEM, "%s: load", path);
        config_init_defaults(fresh);
        r = config_parse_yaml(text, size, path, fresh, err);
        if (r < 0)
                return r;
        r = config_resolve_devices(fresh, "/sys", path, err);
        if (r < 0)
                return r;
        *c = *fresh;
        return 0;
}
