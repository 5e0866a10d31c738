/* Node data for the extender's name-only mode, from a file or one LIST call with libcurl. A LIST
 * every few seconds instead of a watch keeps this small; the data it carries (colo.io/node-usage)
 * changes only on the agent's hysteresis anyway, and stale entries are ignored by time stamp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/curl-dl.h"
#include "extender/extender-node-source.h"
#include "util/fileio.h"
#include "util/macro.h"

int extender_nodes_load_file(const char *path, ExtenderNodeSet **ret, ColoError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, EXTENDER_NODE_LIST_MAX_SIZE, &text, &size, err);
        if (r < 0)
                return r;
        r = extender_node_set_parse(text, size, ret, err);
        if (r < 0)
                return colo_error_wrap(err, "'%s'", path);
        return 0;
}

typedef struct Download {
        char *data;
        size_t size;
        bool too_large;
} Download;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Download *d = userdata;
        size_t n = size * nmemb;
        if (d->size + n > EXTENDER_NODE_LIST_MAX_SIZE) {
                d->too_large = true;
                return 0;
        }
        char *p = realloc(d->data, d->size + n + 1);
        if (!p)
                return 0;
        memcpy(p + d->size, ptr, n);
        d->data = p;
        d->size += n;
        d->data[d->size] = '\0';
        return n;
}

static void curl_easy_cleanupp(CURL **c) {
        if (*c)
                sym_curl_easy_cleanup(*c);
}

static void curl_slist_free_allp(struct curl_slist **l) {
        sym_curl_slist_free_all(*l);
}

/* "Authorization: Bearer <token>" from the file (re-read: tokens rotate) or the inline token. */
static int bearer_header(const KubeConfig *kc, char **ret, ColoError *err) {
        _cleanup_free_ char *token = NULL;
        if (kc->token_file) {
                int r = read_full_file(kc->token_file, 64 << 10, &token, NULL, err);
                if (r < 0)
                        return colo_error_wrap(err, "service account token");
                token[strcspn(token, "\r\n")] = '\0';
        }
        const char *t = token ? token : kc->token;
        int n = asprintf(ret, "Authorization: Bearer %s", t);
        if (token)
                explicit_bzero(token, strlen(token));
        if (n < 0) {
                *ret = NULL;
                return colo_error_set(err, ENOMEM, "curl");
        }
        return 0;
}

int extender_nodes_list_api(const KubeConfig *kc, long timeout_sec, ExtenderNodeSet **ret, ColoError *err) {
        if (kc->ca_data || kc->client_cert_file || kc->client_cert_data || kc->insecure_skip_tls_verify)
                return colo_error_setf_plain(err, EOPNOTSUPP, "%s: the node source takes a server, a CA file and a "
                                             "token only", kc->source);
        int r = curl_dl_open(err);
        if (r < 0)
                return r;
        _cleanup_(curl_easy_cleanupp) CURL *curl = sym_curl_easy_init();
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_free_ char *auth = NULL;
        Download d = {};
        if (!curl)
                return colo_error_set(err, ENOMEM, "curl");
        if (kc->token_file || kc->token) {
                r = bearer_header(kc, &auth, err);
                if (r < 0)
                        return r;
                headers = sym_curl_slist_append(headers, auth);
        }
        headers = sym_curl_slist_append(headers, "Accept: application/json");
        if (!headers)
                return colo_error_set(err, ENOMEM, "curl");
        char url[1024];
        snprintf(url, sizeof(url), "%s/api/v1/nodes?resourceVersion=0", kc->server);

        (void) sym_curl_easy_setopt(curl, CURLOPT_URL, url);
        (void) sym_curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void) sym_curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
        (void) sym_curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
        (void) sym_curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_sec > 0 ? timeout_sec : 30L);
        (void) sym_curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void) sym_curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
        (void) sym_curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
        if (kc->ca_file)
                (void) sym_curl_easy_setopt(curl, CURLOPT_CAINFO, kc->ca_file);
        CURLcode cc = sym_curl_easy_perform(curl);
        if (auth)
                explicit_bzero(auth, strlen(auth));
        if (cc != CURLE_OK) {
                free(d.data);
                if (d.too_large)
                        return colo_error_setf_plain(err, EFBIG, "GET %s: NodeList larger than %u bytes", url,
                                                     EXTENDER_NODE_LIST_MAX_SIZE);
                return colo_error_setf_plain(err, EIO, "GET %s: %s", url, sym_curl_easy_strerror(cc));
        }
        _cleanup_free_ char *body = d.data;
        long status = 0;
        (void) sym_curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
                return colo_error_setf_plain(err, status == 401 || status == 403 ? EACCES : EIO,
                                             "GET %s: HTTP %ld: %.200s", url, status, body ? body : "");
        r = extender_node_set_parse(body ? body : "", d.size, ret, err);
        if (r < 0)
                return colo_error_wrap(err, "GET %s", url);
        return 0;
}
