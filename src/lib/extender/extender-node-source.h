/* Where `colo extender` gets node data when kube-scheduler sends only node names
 * (nodeCacheCapable: true): a NodeList JSON file, or a periodic LIST of /api/v1/nodes from the
 * API server (served from its watch cache with resourceVersion=0), with the pod's service account
 * credentials as kube/kubeclient.h reads them (kube_config_from_cluster()). Either way the result is an immutable ExtenderNodeSet to swap into the cache. */
#pragma once

#include <stddef.h>

#include "extender/extender.h"
#include "kube/kubeclient.h"
#include "util/error.h"

#define EXTENDER_NODE_LIST_MAX_SIZE (256u << 20)

/* Reads a v1.NodeList (or a JSON array of Nodes) from path. */
int extender_nodes_load_file(const char *path, ExtenderNodeSet **ret, ColoError *err);

/* GET <server>/api/v1/nodes?resourceVersion=0 and build a set, within timeout_sec (0: 30 s).
 * Uses the parts of kc an in-cluster configuration has: server, ca_file (NULL: the system's
 * CAs), token_file (re-read on every call: tokens rotate) or token; -EOPNOTSUPP for a kc that
 * needs more (client certificates, inline CA data, no TLS verification). */
int extender_nodes_list_api(const KubeConfig *kc, long timeout_sec, ExtenderNodeSet **ret, ColoError *err);
