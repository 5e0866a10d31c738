/* Checks the admission and extender tests share: a request handler refusing malformed input, a
 * `colo` server on a local port (local-server.h), and the status of a reply (413 for a body over the size limit). Header-only like
 * k8s-test-helpers.h; include it after <cmocka.h>. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "k8s-test-helpers.h"
#include "local-server.h"

/* A fixture the handler must refuse with -EINVAL, and a piece of the message it must give. */
typedef struct RejectedFixture {
        const char *fixture;
        const char *needle;
} RejectedFixture;

/* The handler under test, answering body into *ret_out (left NULL on error): 0 or -errno. */
typedef int (*BodyHandler)(const char *body, size_t size, char **ret_out, size_t *ret_size, ColoError *err,
                           void *userdata);

static inline void expect_fixtures_rejected(const RejectedFixture *cases, size_t n_cases, BodyHandler handle,
                                            void *userdata) {
        for (size_t i = 0; i < n_cases; i++) {
                size_t size;
                _cleanup_free_ char *body = fixture_text(cases[i].fixture, &size);
                char *out = NULL;
                size_t out_size = 0;
                ColoError err = {};
                assert_int_equal(handle(body, size, &out, &out_size, &err, userdata), -EINVAL);
                assert_null(out);
                if (!strstr(err.msg, cases[i].needle))
                        fail_msg("%s: '%s' lacks '%s'", cases[i].fixture, err.msg, cases[i].needle);
        }
}

static inline void expect_bodies_rejected(const char *const *bodies, size_t n_bodies, BodyHandler handle,
                                          void *userdata) {
        for (size_t i = 0; i < n_bodies; i++) {
                char *out = NULL;
                size_t out_size;
                if (handle(bodies[i], strlen(bodies[i]), &out, &out_size, NULL, userdata) != -EINVAL)
                        fail_msg("accepted: %s", bodies[i]);
                assert_null(out);
        }
}

/* Sends body (NULL: a GET) to url and expects the reply to have status. */
static inline void expect_http_status(CURL *curl, const char *url, const char *body, size_t size, long status) {
        HttpResult r;
        assert_int_equal(http_request(curl, url, body, size, NULL, &r), 0);
        assert_int_equal(r.status, status);
        free(r.body);
}

/* POSTs a body one byte over max_body to url and expects 413. The server answers 413 from the
 * headers and closes without reading the body; a client still sending it can then get a reset
 * before it reads the answer (seen in CI: curl's -EIO on the TLS port, one run in tens). So the
 * request asks first with "Expect: 100-continue", as a client that wants the early answer does,
 * and sends no body once the 413 came. */
static inline void expect_oversized_refused(CURL *curl, const char *url, size_t max_body, const char *ca_file) {
        char *huge = malloc(max_body + 2);
        assert_non_null(huge);
        memset(huge, ' ', max_body + 1);
        huge[max_body + 1] = '\0';
        HttpResult r;
        assert_int_equal(http_request_with_header(curl, url, huge, max_body + 1, ca_file, "Expect: 100-continue", &r), 0);
        assert_int_equal(r.status, 413);
        free(r.body);
        free(huge);
}
