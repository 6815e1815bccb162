/* rebuild_workers.h - sendpath-ops --rebuild --workers=N: the rebuild
 * (rebuild.h) in N processes.
 *
 * Folding is one core's work per process, and a case's events and keys are
 * all in one partition, so the partitions are shared out: worker k of N
 * rebuilds the k-th contiguous range of partition numbers, in waves as one
 * process does, with a consumer group of its own. Nothing is shared between
 * workers but the drop: worker 0 drops ops:* as one process does and then
 * lets the others write (a pipe: one byte each); a worker that wrote first
 * would have its keys dropped with the old ones.
 *
 * The parent checks the settings once (a bad one: exit 2, before any
 * worker), forks the workers before anything else starts (no threads, no
 * connections), waits for them, and prints one report line merged from
 * theirs: the counts summed, "ms" its own wall time, "apply_ms" and
 * "write_ms" the longest worker's, "max_rss_kb" the workers' peaks summed,
 * "workers" N. A worker that fails makes the parent stop the others and
 * exit 1: the model is incomplete, run the rebuild again. */
#ifndef OPS_REBUILD_WORKERS_H
#define OPS_REBUILD_WORKERS_H

#include "service.h"

#define OPS_REBUILD_WORKERS_MAX 64

/* Takes "--workers=N" out of argv (argc adjusted). Returns N, 1 when it is
 * absent, or -1 with errstr (not a number in 1..OPS_REBUILD_WORKERS_MAX, or
 * given without --rebuild). */
int ops_rebuild_workers_arg(int *argc, char **argv, char *errstr, size_t errstr_size);

/* Runs the rebuild in n workers, each sp_service_main(def, argc, argv);
 * returns the process's exit code. */
int ops_rebuild_workers_run(const sp_service_def *def, int argc, char **argv, int n);

#endif
