/* colo run: placeholder until its module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_run(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "colo run: not built yet\n");
        return 1;
}
