/* YAML nesting bound (see yaml-depth.h): one pass over libyaml's events, no document built. */
#include <errno.h>
#include <stdbool.h>
#include <yaml.h>

#include "util/yaml-depth.h"

int yaml_check_depth(const char *text, size_t size, unsigned max_depth, size_t *ret_line, size_t *ret_column) {
        yaml_parser_t p;
        if (!yaml_parser_initialize(&p))
                return -ENOMEM;
        yaml_parser_set_input_string(&p, (const unsigned char *) (text ? text : ""), text ? size : 0);
        unsigned depth = 0;
        int r = 0;
        for (bool end = false; !end && r == 0;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(&p, &ev)) {
                        r = p.error == YAML_MEMORY_ERROR ? -ENOMEM : 0;
                        break;
                }
                end = ev.type == YAML_STREAM_END_EVENT;
                if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
                        if (++depth > max_depth) {
                                *ret_line = ev.start_mark.line;
                                *ret_column = ev.start_mark.column;
                                r = 1;
                        }
                } else if ((ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) && depth > 0)
                        depth--;
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&p);
        return r;
}
