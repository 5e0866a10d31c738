/* The managed tree as a workload source (source.h): standalone mode's workloads are the leaves
 * "<class>/<tier>/<name>" below the class parents, which hold all of their class. */
#include <stdlib.h>

#include "workloads/source.h"
#include "util/macro.h"

static int tree_list(void *userdata, CgRoot *root, SourceWorkload **ret, size_t *ret_n, ColoError *err) {
        _cleanup_free_ TreeWorkload *found = NULL;
        size_t n = 0;
        (void) userdata;
        int r = tree_discover(root, &found, &n, err);
        if (r < 0)
                return r;
        SourceWorkload *w = n > 0 ? calloc(n, sizeof(*w)) : NULL;
        if (n > 0 && !w)
                return colo_error_set(err, ENOMEM, "list %zu workloads", n);
        for (size_t i = 0; i < n; i++)
                w[i] = (SourceWorkload) { .id = found[i] };
        *ret = w;
        *ret_n = n;
        return 0;
}

const WorkloadSourceOps workload_source_tree = {
        .name = "managed tree",
        .class_usage = SOURCE_CLASS_PARENTS,
        .list = tree_list,
};
