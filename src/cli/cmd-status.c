/* colo status: placeholder until its module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_status(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "colo status: not built yet\n");
        return 1;
}
