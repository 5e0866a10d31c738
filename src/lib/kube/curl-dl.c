/* Loading libcurl at run time: one dlopen() per process, every symbol resolved into a local table
 * first and published only when all were found, so a partial failure leaves every sym_ pointer
 * NULL. A mutex makes the first load safe from any thread (the extender refreshes nodes on its
 * own thread). */
#include <dlfcn.h>
#include <pthread.h>

#include "kube/curl-dl.h"
#include "util/macro.h"

#define CURL_DL_DEFINE(name) __typeof__(name) *sym_##name = NULL

CURL_DL_DEFINE(curl_easy_cleanup);
CURL_DL_DEFINE(curl_easy_escape);
CURL_DL_DEFINE(curl_easy_getinfo);
CURL_DL_DEFINE(curl_easy_init);
CURL_DL_DEFINE(curl_easy_perform);
CURL_DL_DEFINE(curl_easy_setopt);
CURL_DL_DEFINE(curl_easy_strerror);
CURL_DL_DEFINE(curl_free);
CURL_DL_DEFINE(curl_global_cleanup);
CURL_DL_DEFINE(curl_global_init);
CURL_DL_DEFINE(curl_multi_add_handle);
CURL_DL_DEFINE(curl_multi_cleanup);
CURL_DL_DEFINE(curl_multi_info_read);
CURL_DL_DEFINE(curl_multi_init);
CURL_DL_DEFINE(curl_multi_perform);
CURL_DL_DEFINE(curl_multi_poll);
CURL_DL_DEFINE(curl_multi_remove_handle);
CURL_DL_DEFINE(curl_multi_setopt);
CURL_DL_DEFINE(curl_multi_socket_action);
CURL_DL_DEFINE(curl_slist_append);
CURL_DL_DEFINE(curl_slist_free_all);

typedef struct CurlSymbol {
        const char *name;
        void **ptr;
} CurlSymbol;

/* The stringified name is taken before macro expansion, so curl_easy_setopt stays the function's
 * name even where curl.h defines a type-checking macro of that name. */
#define CURL_DL_SYMBOL(name) { #name, (void **) &sym_##name }

static const CurlSymbol symbols[] = {
        CURL_DL_SYMBOL(curl_easy_cleanup),
        CURL_DL_SYMBOL(curl_easy_escape),
        CURL_DL_SYMBOL(curl_easy_getinfo),
        CURL_DL_SYMBOL(curl_easy_init),
        CURL_DL_SYMBOL(curl_easy_perform),
        CURL_DL_SYMBOL(curl_easy_setopt),
        CURL_DL_SYMBOL(curl_easy_strerror),
        CURL_DL_SYMBOL(curl_free),
        CURL_DL_SYMBOL(curl_global_cleanup),
        CURL_DL_SYMBOL(curl_global_init),
        CURL_DL_SYMBOL(curl_multi_add_handle),
        CURL_DL_SYMBOL(curl_multi_cleanup),
        CURL_DL_SYMBOL(curl_multi_info_read),
        CURL_DL_SYMBOL(curl_multi_init),
        CURL_DL_SYMBOL(curl_multi_perform),
        CURL_DL_SYMBOL(curl_multi_poll),
        CURL_DL_SYMBOL(curl_multi_remove_handle),
        CURL_DL_SYMBOL(curl_multi_setopt),
        CURL_DL_SYMBOL(curl_multi_socket_action),
        CURL_DL_SYMBOL(curl_slist_append),
        CURL_DL_SYMBOL(curl_slist_free_all),
};

/* Process-wide by nature: the library is loaded once for the whole process. */
static pthread_mutex_t curl_dl_lock = PTHREAD_MUTEX_INITIALIZER;
static void *curl_dl_handle;

static int load_locked(const char *soname, ColoError *err) {
        if (curl_dl_handle)
                return 0;

        /* RTLD_NOW: a library lacking a function fails here, not at the first call. */
        void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!dl)
                return colo_error_setf_plain(err, EOPNOTSUPP,
                                             "cannot load %s, which Kubernetes mode needs (Debian: apt-get install libcurl4): %s",
                                             soname, dlerror());

        void *found[ELEMENTSOF(symbols)];
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                (void) dlerror();
                found[i] = dlsym(dl, symbols[i].name);
                if (!found[i]) {
                        const char *why = dlerror();
                        int r = colo_error_setf_plain(err, ELIBBAD, "%s lacks %s, which Kubernetes mode needs: %s",
                                                      soname, symbols[i].name, why ? why : "NULL symbol");
                        (void) dlclose(dl);
                        return r;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++)
                *symbols[i].ptr = found[i];
        curl_dl_handle = dl;
        return 0;
}

int curl_dl_open_library(const char *soname, ColoError *err) {
        if (!soname || !soname[0])
                return colo_error_setf_plain(err, EINVAL, "no library name to load libcurl from");
        pthread_mutex_lock(&curl_dl_lock);
        int r = load_locked(soname, err);
        pthread_mutex_unlock(&curl_dl_lock);
        return r;
}

int curl_dl_open(ColoError *err) {
        return curl_dl_open_library(CURL_DL_SONAME, err);
}
