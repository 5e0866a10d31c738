/* Loading libcurl at run time (kube/curl-dl.h): nothing loads it before the first curl_dl_open(),
 * a missing library fails with a message naming it and leaves every pointer unset, and a real
 * load resolves every function, once. The tests run in order: the failed load comes first. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kube/curl-dl.h"
#include "util/macro.h"

#define MISSING_SONAME "libcolo-test-no-such-curl.so.0"

static void test_libcurl_is_not_loaded_before_first_use(void **state) {
        (void) state;
        /* The k8s module (this test links it) must not pull libcurl in as a link dependency. */
        void *dl = dlopen(CURL_DL_SONAME, RTLD_LAZY | RTLD_NOLOAD);
        if (dl)
                (void) dlclose(dl);
        assert_null(dl);
        assert_null(sym_curl_easy_init);
        assert_null(sym_curl_multi_socket_action);
}

static void test_missing_library_names_it_and_sets_nothing(void **state) {
        (void) state;
        ColoError err = {};
        assert_int_equal(curl_dl_open_library(MISSING_SONAME, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.msg, MISSING_SONAME));
        assert_non_null(strstr(err.msg, "Kubernetes"));
        assert_null(sym_curl_easy_init);
        assert_null(sym_curl_global_init);
        assert_int_equal(curl_dl_open_library("", &err), -EINVAL);
        assert_int_equal(curl_dl_open_library(NULL, NULL), -EINVAL);
}

static void test_load_resolves_every_function_once(void **state) {
        (void) state;
        ColoError err = {};
        assert_int_equal(curl_dl_open(&err), 0);
        const void *fns[] = {
                sym_curl_easy_cleanup, sym_curl_easy_escape, sym_curl_easy_getinfo, sym_curl_easy_init,
                sym_curl_easy_perform, sym_curl_easy_setopt, sym_curl_easy_strerror, sym_curl_free,
                sym_curl_global_cleanup, sym_curl_global_init, sym_curl_multi_add_handle, sym_curl_multi_cleanup,
                sym_curl_multi_info_read, sym_curl_multi_init, sym_curl_multi_perform, sym_curl_multi_poll,
                sym_curl_multi_remove_handle, sym_curl_multi_setopt, sym_curl_multi_socket_action,
                sym_curl_slist_append, sym_curl_slist_free_all,
        };
        for (size_t i = 0; i < ELEMENTSOF(fns); i++)
                assert_non_null(fns[i]);

        /* Once loaded, later calls change nothing, whatever they ask for. */
        void *easy_init = (void *) sym_curl_easy_init;
        assert_int_equal(curl_dl_open(&err), 0);
        assert_int_equal(curl_dl_open_library(MISSING_SONAME, &err), 0);
        assert_ptr_equal((void *) sym_curl_easy_init, easy_init);

        /* The pointers are libcurl's functions. */
        char *e = sym_curl_easy_escape(NULL, "a b/c", 0);
        assert_non_null(e);
        assert_string_equal(e, "a%20b%2Fc");
        sym_curl_free(e);
        CURL *easy = sym_curl_easy_init();
        assert_non_null(easy);
        assert_int_equal(sym_curl_easy_setopt(easy, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
        sym_curl_easy_cleanup(easy);
        assert_string_equal(sym_curl_easy_strerror(CURLE_OK), "No error");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_libcurl_is_not_loaded_before_first_use),
                cmocka_unit_test(test_missing_library_names_it_and_sets_nothing),
                cmocka_unit_test(test_load_resolves_every_function_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
