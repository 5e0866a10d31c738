/* What the parts of the fake API server share: its lock and pod store, for the eviction side
 * (fake-apiserver-evict.c). Callers of the _locked functions hold fake_api_lock(). */
#pragma once

#include <stdbool.h>
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
