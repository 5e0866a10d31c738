/* colo move: placeholder until its module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_move(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "colo move: not built yet\n");
        return 1;
}
