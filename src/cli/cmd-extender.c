/* colo extender: placeholder until its module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_extender(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "colo extender: not built yet\n");
        return 1;
}
