/* colo agent: placeholder until its module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_agent(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "colo agent: not built yet\n");
        return 1;
}
