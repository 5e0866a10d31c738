/* libcurl, loaded at run time: only Kubernetes mode talks HTTP to an API server, and linking
 * libcurl (with OpenSSL, nghttp2, libssh2, LDAP, Kerberos, ...) into colo costs every standalone
 * agent about 3 MB of resident memory. Code that calls libcurl calls curl_dl_open() first, then
 * the sym_curl_* pointers below instead of the curl_* functions (systemd's dlopen habit). The
 * header is libcurl's own, so types and constants are unchanged; only the gcc type checks of
 * curl_easy_setopt()/curl_easy_getinfo() arguments, which are macros around the real names, do
 * not apply to the sym_ calls. */
#pragma once

#include <curl/curl.h>

#include "util/error.h"

/* The library opened: libcurl's SONAME on Debian (libcurl4, OpenSSL flavour). */
#define CURL_DL_SONAME "libcurl.so.4"

/* Declares sym_<name>, a pointer with the type of libcurl's <name>; NULL until curl_dl_open(). */
#define CURL_DL_PROTOTYPE(name) extern __typeof__(name) *sym_##name

CURL_DL_PROTOTYPE(curl_easy_cleanup);
CURL_DL_PROTOTYPE(curl_easy_escape);
CURL_DL_PROTOTYPE(curl_easy_getinfo);
CURL_DL_PROTOTYPE(curl_easy_init);
CURL_DL_PROTOTYPE(curl_easy_perform);
CURL_DL_PROTOTYPE(curl_easy_setopt);
CURL_DL_PROTOTYPE(curl_easy_strerror);
CURL_DL_PROTOTYPE(curl_free);
CURL_DL_PROTOTYPE(curl_global_cleanup);
CURL_DL_PROTOTYPE(curl_global_init);
CURL_DL_PROTOTYPE(curl_multi_add_handle);
CURL_DL_PROTOTYPE(curl_multi_cleanup);
CURL_DL_PROTOTYPE(curl_multi_info_read);
CURL_DL_PROTOTYPE(curl_multi_init);
CURL_DL_PROTOTYPE(curl_multi_perform);
CURL_DL_PROTOTYPE(curl_multi_poll);
CURL_DL_PROTOTYPE(curl_multi_remove_handle);
CURL_DL_PROTOTYPE(curl_multi_setopt);
CURL_DL_PROTOTYPE(curl_multi_socket_action);
CURL_DL_PROTOTYPE(curl_slist_append);
CURL_DL_PROTOTYPE(curl_slist_free_all);

/* Loads CURL_DL_SONAME and resolves every sym_curl_* pointer, once per process (later calls
 * return 0 at once; thread-safe). The library stays loaded until exit. -EOPNOTSUPP when the
 * library cannot be loaded, -ELIBBAD when it lacks a function; the pointers then stay NULL and
 * the message names the library and what to install. */
int curl_dl_open(ColoError *err);

/* As curl_dl_open(), loading soname instead (tests: a library that does not exist). */
int curl_dl_open_library(const char *soname, ColoError *err);
