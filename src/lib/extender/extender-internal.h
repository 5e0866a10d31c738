/* Shared by the extender's own files only: the streaming reader of ExtenderArgs and NodeList
 * documents. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "extender/extender.h"
#include "util/error.h"

/* Candidates read from a document: names always (pointing into arena); for full Nodes also
 * what colo reads of each (nodes[i].name == names[i]) and the byte range of each Node object in
 * the document, so it can be echoed without re-encoding. nodes, start and end are NULL when the
 * document gave names only. */
typedef struct NodeListView {
        size_t n;
        const char **names;
        ExtenderNode *nodes;
        size_t *start, *end;
        char *arena;
} NodeListView;

typedef struct ExtenderArgsView {
        size_t pod_start, pod_end;      /* byte range of the pod object; pod_end == 0: none */
        bool has_nodes;                 /* candidates came as full Nodes (list has data and ranges) */
        bool has_names;                 /* candidates came as names (list has names only) */
        NodeListView list;
} ExtenderArgsView;

/* Reads an ExtenderArgs document without building a tree of it: the pod's byte range, and the
 * candidates. -EINVAL with the offending field named. */
int extender_args_parse(const char *text, size_t size, ExtenderArgsView *ret, ColoError *err);

/* Reads a v1.NodeList object (or a JSON array of Nodes). */
int node_list_parse(const char *text, size_t size, NodeListView *ret, ColoError *err);

void node_list_view_done(NodeListView *v);
