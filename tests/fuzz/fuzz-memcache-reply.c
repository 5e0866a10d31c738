/* Fuzz target: colo-loadgen's memcached reply parser (bench/memcache-text.c), which reads bytes a
 * server sent. Parses replies back to back, as the load generator does, until the input runs out
 * or is refused; the parser must never read past the input or claim more bytes than it has. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memcache-text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* A private copy, exactly size bytes, so ASan flags any overread. */
        char *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        size_t off = 0;
        for (;;) {
                McReplyKind kind;
                int used = mc_parse_reply(buf + off, size - off, &kind);
                if (used <= 0)
                        break;
                if ((size_t) used > size - off || kind >= _MC_REPLY_KIND_MAX)
                        abort();
                off += (size_t) used;
        }
        free(buf);
        return 0;
}
