/* What the parts of the fake API server share: its lock and pod store, for the eviction side
 * (fake-apiserver-evict.c). Callers of the _locked functions hold fake_api_lock(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "fake-apiserver.h"

typedef struct FakeEvict FakeEvict;

void fake_api_lock(FakeApi *f);
void fake_api_unlock(FakeApi *f);
/* The stored pod (borrowed), or NULL. */
json_t *fake_api_pod_locked(FakeApi *f, const char *ns, const char *name);
/* Records a watch event on the stored obj (assigning it a new resourceVersion). */
uint64_t fake_api_emit_locked(FakeApi *f, const char *type, json_t *obj);
/* Removes the pod and sends DELETED; 0 if there is no such pod. */
uint64_t fake_api_remove_pod_locked(FakeApi *f, const char *ns, const char *name);
FakeEvict *fake_api_evict_state(FakeApi *f);

/* fake-apiserver-evict.c: started and stopped with the server. */
FakeEvict *fake_evict_start(FakeApi *f);
void fake_evict_stop(FakeEvict *e);
/* POST /api/v1/namespaces/<ns>/pods/<name>/eviction and GET /api/v1/namespaces/<ns>/pods/<name>. */
enum MHD_Result fake_evict_handle_eviction(FakeApi *f, struct MHD_Connection *conn, const char *ns, const char *name,
                                           const char *body, size_t size, unsigned *status);
enum MHD_Result fake_evict_handle_get_pod(FakeApi *f, struct MHD_Connection *conn, const char *ns, const char *name,
                                          unsigned *status);

/* fake-apiserver-objects.c: objects as the real API server writes them. */
/* s (a resource.Quantity) in the API server's canonical form into buf: "2000" -> "2k",
 * "1073741824" -> "1073741824", "1024Mi" -> "1Gi", "0.5" -> "500m". 0, -EINVAL, -ERANGE, -ENOBUFS. */
int fake_quantity_canonical(const char *s, char *buf, size_t size);
/* Canonicalises every quantity of a ResourceList in place; -EINVAL naming the bad key in bad. */
int fake_canonicalize_resource_list(json_t *list, char *bad, size_t bad_size);
/* A v1.Node as kubelet registers it (without resourceVersion); seq makes its uid unique. */
json_t *fake_node_json(const char *name, const char *cpu, const char *memory, unsigned seq);
