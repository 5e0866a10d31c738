/* Where `colo extender` gets node data when kube-scheduler sends only node names
 * (nodeCacheCapable: true): a NodeList JSON file, or a periodic LIST of /api/v1/nodes from the
 * API server (served from its watch cache with resourceVersion=0), with the pod's service account
 * credentials. Either way the result is an immutable ExtenderNodeSet to swap into the cache. */
#pragma once

#include <stddef.h>

#include "k8s/extender.h"
#include "util/error.h"

#define EXTENDER_NODE_LIST_MAX_SIZE (256u << 20)
#define IN_CLUSTER_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define IN_CLUSTER_CA_FILE "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

/* Reads a v1.NodeList (or a JSON array of Nodes) from path. */
int extender_nodes_load_file(const char *path, ExtenderNodeSet **ret, ColoError *err);

typedef struct ApiServerAccess {
        const char *base_url;           /* "https://10.96.0.1:443" */
        const char *ca_file;            /* PEM bundle to verify the server; NULL = system default */
        const char *token_file;         /* bearer token, re-read on every call (tokens rotate); NULL = none */
        long timeout_sec;
} ApiServerAccess;

/* The in-cluster API server: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the
 * service account's CA and token. -ENOENT when not running in a pod. url_buf keeps the URL. */
int api_server_access_in_cluster(ApiServerAccess *ret, char *url_buf, size_t url_size, ColoError *err);

/* GET /api/v1/nodes?resourceVersion=0 and build a set. */
int extender_nodes_list_api(const ApiServerAccess *api, ExtenderNodeSet **ret, ColoError *err);
