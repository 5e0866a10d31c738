/* Where the API server is and how to authenticate: the in-cluster service account, or a
 * kubeconfig file. The kubeconfig is loaded as a libyaml document tree and walked by key, so every
 * error can name the file, line and key; fields colo does not use are ignored, as kubectl does. */
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <yaml.h>

#include "kube/kubeclient.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/yaml-depth.h"

KubeConfig *kube_config_free(KubeConfig *c) {
        if (!c)
                return NULL;
        free(c->server);
        free(c->ca_file);
        free(c->ca_data);
        free(c->client_cert_file);
        free(c->client_key_file);
        free(c->client_cert_data);
        free(c->client_key_data);
        if (c->token)
                explicit_bzero(c->token, strlen(c->token));
        free(c->token);
        free(c->token_file);
        free(c->namespace_);
        free(c);
        return NULL;
}

/* Drops trailing whitespace (files end with a newline; tokens must not carry it). */
static void strip_trailing_space(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
}

static int read_text_file(const char *path, char **ret, ColoError *err) {
        char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, KUBE_CONFIG_FILE_MAX, &text, &size, err);
        if (r < 0)
                return r;
        if (strlen(text) != size) {
                free(text);
                return colo_error_setf_plain(err, EINVAL, "'%s': contains a NUL byte", path);
        }
        strip_trailing_space(text);
        *ret = text;
        return 0;
}

static bool is_port(const char *s) {
        uint64_t v;
        return parse_u64(s, &v) >= 0 && v >= 1 && v <= 65535 && s[0] >= '0' && s[0] <= '9';
}

static bool is_host(const char *s) {
        if (!s[0] || strlen(s) > 253)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      strchr(".-:%", *p)))
                        return false;
        return true;
}

int kube_config_from_cluster(const KubeInClusterOptions *opts, KubeConfig **ret, ColoError *err) {
        const char *dir = opts && opts->dir ? opts->dir : KUBE_SERVICE_ACCOUNT_DIR;
        const char *host = opts && opts->host ? opts->host : getenv("KUBERNETES_SERVICE_HOST");
        const char *port = opts && opts->port ? opts->port : getenv("KUBERNETES_SERVICE_PORT");
        int r;

        if (!host || !host[0] || !port || !port[0])
                return colo_error_setf_plain(err, ENXIO,
                                             "in-cluster configuration: KUBERNETES_SERVICE_HOST and "
                                             "KUBERNETES_SERVICE_PORT are not set (not running in a pod?)");
        if (!is_host(host))
                return colo_error_setf_plain(err, EINVAL, "in-cluster configuration: KUBERNETES_SERVICE_HOST '%s' is not a host",
                                             host);
        if (!is_port(port))
                return colo_error_setf_plain(err, EINVAL, "in-cluster configuration: KUBERNETES_SERVICE_PORT '%s' is not a port",
                                             port);

        _cleanup_(kube_config_freep) KubeConfig *c = calloc(1, sizeof(*c));
        if (!c)
                return colo_error_set(err, ENOMEM, "in-cluster configuration");
        bool v6 = strchr(host, ':') != NULL;
        if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0)
                c->server = NULL;
        if (asprintf(&c->token_file, "%s/token", dir) < 0)
                c->token_file = NULL;
        if (asprintf(&c->ca_file, "%s/ca.crt", dir) < 0)
                c->ca_file = NULL;
        if (!c->server || !c->token_file || !c->ca_file)
                return colo_error_set(err, ENOMEM, "in-cluster configuration");
        /* The token must be there now; it is re-read for each request. */
        _cleanup_free_ char *token = NULL;
        r = read_text_file(c->token_file, &token, err);
        if (r < 0)
                return colo_error_wrap(err, "in-cluster configuration: service account token");
        explicit_bzero(token, strlen(token));
        if (access(c->ca_file, R_OK) < 0)
                return colo_error_set(err, errno, "in-cluster configuration: '%s'", c->ca_file);

        _cleanup_free_ char *ns_path = NULL;
        if (asprintf(&ns_path, "%s/namespace", dir) < 0)
                return colo_error_set(err, ENOMEM, "in-cluster configuration");
        r = read_text_file(ns_path, &c->namespace_, NULL);
        if (r < 0)
                c->namespace_ = NULL;   /* optional */
        snprintf(c->source, sizeof(c->source), "in-cluster (%s)", dir);
        *ret = TAKE_PTR(c);
        return 0;
}

/* --- kubeconfig --- */

typedef struct Kubeconfig {
        yaml_document_t doc;
        const char *filename;
        ColoError *err;
} Kubeconfig;

static yaml_node_t *node_at(Kubeconfig *k, int id) {
        return id > 0 ? yaml_document_get_node(&k->doc, id) : NULL;
}

static unsigned long line_of(const yaml_node_t *n) {
        return n ? (unsigned long) n->start_mark.line + 1 : 0;
}

/* The value node of key in a mapping, or NULL. */
static yaml_node_t *map_get(Kubeconfig *k, yaml_node_t *map, const char *key) {
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = node_at(k, p->key);
                if (kn && kn->type == YAML_SCALAR_NODE && strlen(key) == kn->data.scalar.length &&
                    memcmp(kn->data.scalar.value, key, kn->data.scalar.length) == 0)
                        return node_at(k, p->value);
        }
        return NULL;
}

/* A scalar's text (NUL-terminated by libyaml), or NULL (with an error) when n is not a scalar. */
static const char *scalar(Kubeconfig *k, yaml_node_t *n, const char *key) {
        if (!n || n->type != YAML_SCALAR_NODE || strlen((const char *) n->data.scalar.value) != n->data.scalar.length) {
                colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s: expected a string", k->filename, line_of(n), key);
                return NULL;
        }
        return (const char *) n->data.scalar.value;
}

/* An optional string field: 0 with *ret NULL when absent or empty, -EINVAL when not a string. */
static int optional_string(Kubeconfig *k, yaml_node_t *map, const char *field, const char *path, const char **ret) {
        yaml_node_t *n = map_get(k, map, field);
        *ret = NULL;
        if (!n)
                return 0;
        if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
                return 0;
        char key[256];
        snprintf(key, sizeof(key), "%s.%s", path, field);
        const char *v = scalar(k, n, key);
        if (!v)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Finds the entry {name: <name>, <field>: {...}} of a named list ("clusters", "users", ...). */
static int find_named(Kubeconfig *k, yaml_node_t *root, const char *list, const char *name, const char *field,
                      yaml_node_t **ret) {
        yaml_node_t *seq = map_get(k, root, list);
        if (seq && seq->type != YAML_SEQUENCE_NODE)
                return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s: expected a list", k->filename, line_of(seq), list);
        for (yaml_node_item_t *i = seq ? seq->data.sequence.items.start : NULL; seq && i < seq->data.sequence.items.top; i++) {
                yaml_node_t *entry = node_at(k, *i);
                yaml_node_t *n = map_get(k, entry, "name");
                if (!n || n->type != YAML_SCALAR_NODE || strcmp((const char *) n->data.scalar.value, name) != 0)
                        continue;
                yaml_node_t *body = map_get(k, entry, field);
                if (!body || body->type != YAML_MAPPING_NODE)
                        return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s '%s': missing or malformed '%s'",
                                                     k->filename, line_of(entry), list, name, field);
                *ret = body;
                return 0;
        }
        return colo_error_setf_plain(k->err, ENOENT, "%s: %s: no entry named '%s'", k->filename, list, name);
}

static int dup_string(const char *s, char **ret, Kubeconfig *k) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : colo_error_set(k->err, ENOMEM, "%s", k->filename);
}

/* A file named in the kubeconfig: relative paths are relative to the kubeconfig's directory. */
static int resolve_path(Kubeconfig *k, const char *path, char **ret) {
        if (!path) {
                *ret = NULL;
                return 0;
        }
        const char *slash = strrchr(k->filename, '/');
        int n;
        if (path[0] == '/' || !slash)
                n = asprintf(ret, "%s", path);
        else
                n = asprintf(ret, "%.*s/%s", (int) (slash - k->filename), k->filename, path);
        if (n < 0) {
                *ret = NULL;
                return colo_error_set(k->err, ENOMEM, "%s", k->filename);
        }
        return 0;
}

/* Decodes a *-data field (base64 PEM). */
static int decode_data(Kubeconfig *k, yaml_node_t *map, const char *field, const char *path, char **ret,
                       size_t *ret_size) {
        const char *v = NULL;
        int r = optional_string(k, map, field, path, &v);
        if (r < 0 || !v) {
                *ret = NULL;
                *ret_size = 0;
                return r;
        }
        gnutls_datum_t in = { .data = (unsigned char *) v, .size = (unsigned) strlen(v) }, out = {};
        if (strlen(v) > UINT32_MAX / 2 || gnutls_base64_decode2(&in, &out) < 0 || out.size == 0) {
                gnutls_free(out.data);
                return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s.%s: not valid base64", k->filename,
                                             line_of(map_get(k, map, field)), path, field);
        }
        char *copy = malloc(out.size + 1);
        if (!copy) {
                gnutls_free(out.data);
                return colo_error_set(k->err, ENOMEM, "%s", k->filename);
        }
        memcpy(copy, out.data, out.size);
        copy[out.size] = '\0';
        *ret_size = out.size;
        gnutls_free(out.data);
        *ret = copy;
        return 0;
}

bool kube_server_url_is_valid(const char *s) {
        const char *host = !s ? NULL : strncmp(s, "https://", 8) == 0 ? s + 8 : strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
        if (!host || !*host || *host == '/')
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static bool is_true(const char *v) {
        return strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0;
}

static int parse_cluster(Kubeconfig *k, yaml_node_t *cluster, const char *name, KubeConfig *c) {
        char path[300];
        const char *server, *ca_file, *insecure;
        snprintf(path, sizeof(path), "clusters[%s].cluster", name);
        if (optional_string(k, cluster, "server", path, &server) < 0 ||
            optional_string(k, cluster, "certificate-authority", path, &ca_file) < 0 ||
            optional_string(k, cluster, "insecure-skip-tls-verify", path, &insecure) < 0)
                return -EINVAL;
        if (!server)
                return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s.server: missing", k->filename,
                                             line_of(cluster), path);
        if (!kube_server_url_is_valid(server))
                return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s.server: '%s' is not an http(s):// URL",
                                             k->filename, line_of(map_get(k, cluster, "server")), path, server);
        if (insecure && !is_true(insecure) && strcmp(insecure, "false") != 0 && strcmp(insecure, "False") != 0)
                return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s.insecure-skip-tls-verify: '%s' is not a boolean",
                                             k->filename, line_of(map_get(k, cluster, "insecure-skip-tls-verify")), path,
                                             insecure);
        c->insecure_skip_tls_verify = insecure && is_true(insecure);
        int r = dup_string(server, &c->server, k);
        if (r < 0)
                return r;
        size_t n = strlen(c->server);
        while (n > 0 && c->server[n - 1] == '/')
                c->server[--n] = '\0';
        r = decode_data(k, cluster, "certificate-authority-data", path, &c->ca_data, &c->ca_data_size);
        if (r < 0)
                return r;
        if (!c->ca_data)
                return resolve_path(k, ca_file, &c->ca_file);
        return 0;
}

static int parse_user(Kubeconfig *k, yaml_node_t *user, const char *name, KubeConfig *c) {
        char path[300];
        const char *cert, *key, *token, *token_file;
        snprintf(path, sizeof(path), "users[%s].user", name);
        if (map_get(k, user, "exec") || map_get(k, user, "auth-provider"))
                return colo_error_setf_plain(k->err, EOPNOTSUPP,
                                             "%s:%lu: %s: exec and auth-provider credentials are not supported; use a "
                                             "token, tokenFile or client certificate",
                                             k->filename, line_of(user), path);
        if (optional_string(k, user, "client-certificate", path, &cert) < 0 ||
            optional_string(k, user, "client-key", path, &key) < 0 ||
            optional_string(k, user, "token", path, &token) < 0 ||
            optional_string(k, user, "tokenFile", path, &token_file) < 0)
                return -EINVAL;
        int r = decode_data(k, user, "client-certificate-data", path, &c->client_cert_data, &c->client_cert_data_size);
        if (r < 0)
                return r;
        r = decode_data(k, user, "client-key-data", path, &c->client_key_data, &c->client_key_data_size);
        if (r < 0)
                return r;
        if (!c->client_cert_data && (r = resolve_path(k, cert, &c->client_cert_file)) < 0)
                return r;
        if (!c->client_key_data && (r = resolve_path(k, key, &c->client_key_file)) < 0)
                return r;
        bool has_cert = c->client_cert_data || c->client_cert_file, has_key = c->client_key_data || c->client_key_file;
        if (has_cert != has_key)
                return colo_error_setf_plain(k->err, EINVAL, "%s:%lu: %s: a client certificate needs its key, and a key its "
                                             "certificate", k->filename, line_of(user), path);
        if (token)
                return dup_string(token, &c->token, k);
        return resolve_path(k, token_file, &c->token_file);
}

int kube_config_parse_kubeconfig(const char *text, size_t size, const char *filename, const char *context,
                                 KubeConfig **ret, ColoError *err) {
        Kubeconfig k = { .filename = filename ? filename : "kubeconfig", .err = err };
        yaml_parser_t parser;
        int r;

        if (!text || size > KUBE_CONFIG_FILE_MAX)
                return colo_error_setf_plain(err, EFBIG, "%s: larger than %u bytes", k.filename, KUBE_CONFIG_FILE_MAX);
        /* Bounded before anything is built: loading 100k '[' takes quadratic time. */
        size_t line = 0, column = 0;
        r = yaml_check_depth(text, size, KUBE_CONFIG_DEPTH_MAX, &line, &column);
        if (r < 0)
                return colo_error_set(err, -r, "%s", k.filename);
        if (r > 0)
                return colo_error_setf_plain(err, EINVAL, "%s:%zu:%zu: nested deeper than %u levels of lists and mappings",
                                             k.filename, line + 1, column + 1, (unsigned) KUBE_CONFIG_DEPTH_MAX);
        if (!yaml_parser_initialize(&parser))
                return colo_error_set(err, ENOMEM, "%s", k.filename);
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, size);
        if (!yaml_parser_load(&parser, &k.doc)) {
                r = colo_error_setf_plain(err, EINVAL, "%s:%lu: %s", k.filename, (unsigned long) parser.problem_mark.line + 1,
                                          parser.problem ? parser.problem : "malformed YAML");
                yaml_parser_delete(&parser);
                return r;
        }
        yaml_parser_delete(&parser);

        _cleanup_(kube_config_freep) KubeConfig *c = calloc(1, sizeof(*c));
        yaml_node_t *root = yaml_document_get_root_node(&k.doc);
        const char *ctx_name = context, *cluster_name, *user_name, *ns;
        yaml_node_t *ctx, *cluster, *user;
        if (!c) {
                r = colo_error_set(err, ENOMEM, "%s", k.filename);
                goto done;
        }
        if (!root || root->type != YAML_MAPPING_NODE) {
                r = colo_error_setf_plain(err, EINVAL, "%s: not a kubeconfig (expected a mapping)", k.filename);
                goto done;
        }
        if (!ctx_name) {
                r = optional_string(&k, root, "current-context", "", &ctx_name);
                if (r < 0)
                        goto done;
                if (!ctx_name) {
                        r = colo_error_setf_plain(err, EINVAL, "%s: current-context: missing; name a context", k.filename);
                        goto done;
                }
        }
        r = find_named(&k, root, "contexts", ctx_name, "context", &ctx);
        if (r < 0)
                goto done;
        char path[300];
        snprintf(path, sizeof(path), "contexts[%s].context", ctx_name);
        if ((r = optional_string(&k, ctx, "cluster", path, &cluster_name)) < 0 ||
            (r = optional_string(&k, ctx, "user", path, &user_name)) < 0 ||
            (r = optional_string(&k, ctx, "namespace", path, &ns)) < 0)
                goto done;
        if (!cluster_name) {
                r = colo_error_setf_plain(err, EINVAL, "%s:%lu: %s.cluster: missing", k.filename, line_of(ctx), path);
                goto done;
        }
        r = find_named(&k, root, "clusters", cluster_name, "cluster", &cluster);
        if (r < 0)
                goto done;
        r = parse_cluster(&k, cluster, cluster_name, c);
        if (r < 0)
                goto done;
        if (user_name) {
                r = find_named(&k, root, "users", user_name, "user", &user);
                if (r < 0)
                        goto done;
                r = parse_user(&k, user, user_name, c);
                if (r < 0)
                        goto done;
        }
        r = dup_string(ns, &c->namespace_, &k);
        if (r < 0)
                goto done;
        snprintf(c->source, sizeof(c->source), "kubeconfig '%s' context '%s'", k.filename, ctx_name);
        *ret = TAKE_PTR(c);
        r = 0;
done:
        yaml_document_delete(&k.doc);
        return r;
}

int kube_config_load_kubeconfig(const char *path, const char *context, KubeConfig **ret, ColoError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, KUBE_CONFIG_FILE_MAX, &text, &size, err);
        if (r < 0)
                return r;
        return kube_config_parse_kubeconfig(text, size, path, context, ret, err);
}

int kube_config_load(const char *kubeconfig_path, KubeConfig **ret, ColoError *err) {
        if (kubeconfig_path && kubeconfig_path[0])
                return kube_config_load_kubeconfig(kubeconfig_path, NULL, ret, err);
        int r = kube_config_from_cluster(NULL, ret, err);
        if (r == -ENXIO && err) {       /* the agent's way out; `colo extender` has none */
                char msg[COLO_ERROR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s", err->msg);
                (void) colo_error_setf_plain(err, ENXIO, "%s; set kubernetes.kubeconfig instead", msg);
        }
        return r;
}

/* --- metav1.Status --- */

int kube_status_parse(const char *text, size_t size, KubeStatus *ret) {
        json_error_t jerr;
        json_t *j = json_loadb(text, size, 0, &jerr);
        if (!j)
                return -EINVAL;
        const char *kind = json_string_value(json_object_get(j, "kind"));
        json_t *code = json_object_get(j, "code");
        if (!json_is_object(j) || (kind && strcmp(kind, "Status") != 0) || (code && !json_is_integer(code)) ||
            (!kind && !code)) {
                json_decref(j);
                return -EINVAL;
        }
        KubeStatus s = {};
        json_int_t c = code ? json_integer_value(code) : 0;
        s.code = c >= 0 && c < 1000 ? (int) c : 0;
        snprintf(s.reason, sizeof(s.reason), "%s", json_string_value(json_object_get(j, "reason")) ?: "");
        snprintf(s.message, sizeof(s.message), "%s", json_string_value(json_object_get(j, "message")) ?: "");
        json_t *details = json_object_get(j, "details");
        snprintf(s.details_kind, sizeof(s.details_kind), "%s", json_string_value(json_object_get(details, "kind")) ?: "");
        /* An int32 in Go; anything beyond a day is not a delay anyone means. */
        json_t *retry = json_object_get(details, "retryAfterSeconds");
        json_int_t ra = json_is_integer(retry) ? json_integer_value(retry) : 0;
        s.retry_after_seconds = ra > 0 && ra <= 86400 ? (int) ra : 0;
        json_decref(j);
        *ret = s;
        return 0;
}
