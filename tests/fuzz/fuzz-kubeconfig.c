/* Fuzz target of the kubeconfig parser: no crash or leak on any YAML, refusals name the file,
 * and an accepted configuration has an http(s) server and consistent credentials. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kubeclient.h"

#define CHECK(cond)                                                                      \
        do {                                                                             \
                if (!(cond)) {                                                           \
                        fprintf(stderr, "fuzz-kubeconfig: check failed: %s\n", #cond);   \
                        abort();                                                         \
                }                                                                        \
        } while (0)

static void parse(const uint8_t *data, size_t size, const char *context) {
        KubeConfig *c = NULL;
        ColoError err = {};
        int r = kube_config_parse_kubeconfig((const char *) data, size, "/etc/colo/kc.yaml", context, &c, &err);
        if (r < 0) {
                CHECK(!c);
                CHECK(err.code > 0);
                CHECK(strncmp(err.msg, "/etc/colo/kc.yaml", 17) == 0);
                return;
        }
        CHECK(c && c->server);
        CHECK(kube_server_url_is_valid(c->server));
        CHECK(!(c->ca_data && c->ca_file));
        CHECK(!(c->token && c->token_file));
        CHECK(!!(c->client_cert_data || c->client_cert_file) == !!(c->client_key_data || c->client_key_file));
        kube_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        parse(data, size, NULL);
        parse(data, size, "dev");
        return 0;
}
