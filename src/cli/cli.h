/*
 * cli.h - mizzen's command-line client, the counterpart of Spinnaker's
 * `spin`. It speaks the same Gate REST API the server answers, sending the
 * requests spin sends (see reference/spin-cli-contract.md), and prints JSON
 * on stdout (keys sorted, one-space indent) and messages on stderr.
 */
#ifndef MZ_CLI_H
#define MZ_CLI_H

/* Runs one command line. argv[0] is the program name and argv[1] the
 * command group ("application", "pipeline", "pipeline-execution",
 * "server-group", "help") or a global flag such as --url. Returns the
 * process exit code: 0 success, 1 failure (server error, unreachable
 * server, bad input file), 2 usage error. */
int mz_cli_main(int argc, char **argv);

#endif
