/* The units that hold offline work on cgroup v2 (offline-units.h): systemd's escaping of the
 * subtree's name (a '-' would nest the slice under another one), the names and the directory,
 * and the properties sent with StartTransientUnit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "systemd/offline-units.h"

static void test_escape_like_systemd(void **state) {
        (void) state;
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "colo", "colo" },
                { "colo-test-7-0", "colo\\x2dtest\\x2d7\\x2d0" },       /* '-' would make colo.slice a parent */
                { "a.b_c:d", "a.b_c:d" },
                { ".hidden", "\\x2ehidden" },                           /* no leading '.' */
                { "x.y.", "x.y." },
                { "sp ace", "sp\\x20ace" },
                { "back\\slash", "back\\x5cslash" },
                { "caf\xc3\xa9", "caf\\xc3\\xa9" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[UNIT_NAME_MAX];
                assert_int_equal(unit_escape_prefix(cases[i].in, buf, sizeof(buf)), (int) strlen(cases[i].want));
                assert_string_equal(buf, cases[i].want);
        }
        char small[5];
        assert_int_equal(unit_escape_prefix("abcd", small, sizeof(small)), 4);
        assert_int_equal(unit_escape_prefix("abcde", small, sizeof(small)), -ENOBUFS);
        assert_int_equal(unit_escape_prefix("a-", small, sizeof(small)), -ENOBUFS);
        assert_int_equal(unit_escape_prefix("", small, sizeof(small)), -EINVAL);
        assert_int_equal(unit_escape_prefix(NULL, small, sizeof(small)), -EINVAL);
}

static void test_names_from_the_subtree(void **state) {
        (void) state;
        OfflineUnits u;
        assert_int_equal(offline_units_for_subtree("colo", &u), 0);
        assert_string_equal(u.slice, "colo.offline.slice");
        assert_string_equal(u.scope, "colo.offline.scope");
        assert_string_equal(u.dir, "/colo.offline.slice/colo.offline.scope");
        assert_int_equal(offline_units_for_subtree("/system.slice/colo.service/colo-test-12-3/", &u), 0);
        assert_string_equal(u.slice, "colo\\x2dtest\\x2d12\\x2d3.offline.slice");
        assert_string_equal(u.dir, "/colo\\x2dtest\\x2d12\\x2d3.offline.slice/colo\\x2dtest\\x2d12\\x2d3.offline.scope");
        assert_int_equal(offline_units_for_subtree("", &u), -EINVAL);
        assert_int_equal(offline_units_for_subtree("/", &u), -EINVAL);
        assert_int_equal(offline_units_for_subtree(NULL, &u), -EINVAL);
        char longname[300];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        assert_int_equal(offline_units_for_subtree(longname, &u), -ENAMETOOLONG);
        longname[UNIT_NAME_MAX - 14] = '\0';    /* fits escaped, not with ".offline.slice" */
        assert_int_equal(offline_units_for_subtree(longname, &u), -ENAMETOOLONG);
}

static const TransientProp *find(const TransientProp *p, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(p[i].name, name) == 0)
                        return &p[i];
        return NULL;
}

static void test_properties(void **state) {
        (void) state;
        OfflineUnits u;
        assert_int_equal(offline_units_for_subtree("colo", &u), 0);
        TransientProp p[TRANSIENT_PROPS_MAX];
        size_t n = offline_units_slice_props(&u, p);
        const TransientProp *w = find(p, n, "CPUWeight");
        assert_non_null(w);
        assert_int_equal(w->type, 't');
        assert_int_equal(w->value, UNIT_CPU_WEIGHT_IDLE);      /* systemd's "idle": cpu.idle 1 */
        assert_null(find(p, n, "Delegate"));                    /* slices cannot be delegated */

        n = offline_units_scope_props(&u, 4242, p);
        const TransientProp *d = find(p, n, "Delegate");
        assert_non_null(d);
        assert_int_equal(d->type, 'b');
        assert_int_equal(d->value, 1);
        const TransientProp *s = find(p, n, "Slice");
        assert_non_null(s);
        assert_string_equal(s->str, "colo.offline.slice");
        const TransientProp *pids = find(p, n, "PIDs");
        assert_non_null(pids);
        assert_int_equal(pids->type, 'u');
        assert_int_equal(pids->value, 4242);
        assert_string_equal(find(p, n, "CollectMode")->str, "inactive-or-failed");
        assert_null(find(p, n, "CPUWeight"));                   /* the slice's weight is the one that counts */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_like_systemd),
                cmocka_unit_test(test_names_from_the_subtree),
                cmocka_unit_test(test_properties),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
