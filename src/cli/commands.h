/* One function per `colo` subcommand; each parses its own arguments and calls the library.
 * Returns the process exit code. */
#pragma once

int cmd_agent(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_move(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_webhook(int argc, char **argv);
int cmd_extender(int argc, char **argv);
