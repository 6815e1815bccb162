/* import.h - `sendpath import FILE` (see import.c). */
#ifndef CLI_IMPORT_H
#define CLI_IMPORT_H

/* Returns the exit code: 0 all imported (or already there), 1 some refused. */
int cli_import(const char *intake_url, const char *file);

#endif
