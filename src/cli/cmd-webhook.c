/* colo webhook: placeholder until its module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_webhook(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "colo webhook: not built yet\n");
        return 1;
}
