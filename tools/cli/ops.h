/* ops.h - `sendpath overdue` and `sendpath stats`: the ops API's lists as
 * terminal tables (see ops.c). */
#ifndef CLI_OPS_H
#define CLI_OPS_H

/* Each returns the exit code: 0 done, 1 refused or unreachable, 2 usage. */
int cli_overdue(const char *ops_url, int argc, char **argv);
int cli_stats(const char *ops_url, int argc, char **argv);

#endif
