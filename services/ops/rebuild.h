/* rebuild.h - sendpath-ops --rebuild: the read model again, from offset zero.
 *
 * The projection is derived data: it can always be thrown away and made
 * again from the topics. A rebuild
 *   1. drops every ops:* key (SCAN + UNLINK; the other services' keys are
 *      never touched),
 *   2. reads the high-water mark of every partition it consumes,
 *   3. consumes from the beginning in a fresh consumer group of its own
 *      (sendpath-ops-rebuild-<pid>-<ms>), so the live group's committed
 *      offsets are left as they were, folding every event in memory
 *      (fold.h) with the live service's projection,
 *   4. goes in waves: the partitions are cut, in partition order, into
 *      ranges of about ops.rebuild_wave_events events; only one range is
 *      read at a time (the rest paused), and once it is read up to its
 *      marks it is written out and freed while the next range is read.
 *      A case's events and keys are all in its partition, so no key spans
 *      two waves; memory holds at most two waves, not the whole model, and
 *      Redis writes one wave while ops folds the next,
 *   5. stops once every wave is written, prints the counts as one JSON line
 *      on stdout and exits 0.
 * With --workers=N it runs in N processes, each a range of the
 * partitions (rebuild_workers.h).
 * Run it with the live ops stopped (the live service writes the same keys);
 * start ops again after: it resumes from its own committed offsets, and what
 * it replays is dropped by event id. Events published during the rebuild
 * past the marks are left to the live service. */
#ifndef OPS_REBUILD_H
#define OPS_REBUILD_H

#include "batch.h"
#include "ops.h"

/* In a worker of a rebuild in several processes (rebuild_workers.h),
 * before sp_service_main: this process rebuilds share k of n of the
 * partitions. barrier_fd: for worker 0 the pipe's write end, on which it
 * writes a byte for each other worker once ops:* is dropped, then closes;
 * for the others its read end, on which they wait for their byte before
 * writing (EOF first: worker 0 failed, and so does this one). The fd is
 * the rebuild's from then on. */
void ops_rebuild_set_worker(int k, int n, int barrier_fd);
/* Before the config is read: points the service at a fresh group and a
 * free HTTP port. */
void ops_rebuild_prepare(void);
/* At init: drops ops:* and reads the marks (blocking: nothing else runs yet);
 * wave_events: ops.rebuild_wave_events. Returns a new rebuild, or NULL with
 * errstr. */
ops_rebuild *ops_rebuild_start(sp_service *s, long long wave_events, char *errstr,
                               size_t errstr_size);
/* A batch is being handed to the projection. */
void ops_rebuild_batch(ops_rebuild *rb, rd_kafka_message_t **msgs, size_t n);
/* Folds one partition's batch into its wave's model (fold.h) instead of
 * sending it; a fold that fails (out of memory) ends the rebuild with
 * exit 1. */
void ops_rebuild_fold(ops_rebuild *rb, const ops_batch *b, int part);
/* Partitions assigned: pauses every one outside the wave being read. */
void ops_rebuild_assigned(ops_rebuild *rb, const rd_kafka_topic_partition_list_t *parts);
void ops_rebuild_free(ops_rebuild *rb);

#endif
