/* outbox.h - the outbox channel: messages as files, nothing sent.
 *
 * Email goes into a Maildir, <var.dir>/outbox/{tmp,new,cur}: a message is
 * written to tmp/, flushed, then renamed into new/, so a reader never sees
 * half a message. Letters for recipients who prefer post go to
 * <var.dir>/print/<name>.txt the same way (via a dot-file). An MTA, the GOV.UK
 * Notify adapter or a print service picks them up from there.
 *
 * File names are deterministic ("<event time>.N<id>.sendpath": the Maildir
 * shape time.unique.host, where the unique part is the delivery's id and the
 * host a constant), so writing the same delivery twice replaces one file
 * instead of making two. A reader that has taken a message moves it to cur/
 * as "<name>:2,<flags>"; a rewrite in recovery looks there first and does
 * not put the message back into new/.
 *
 * Writes run on libuv's thread pool (open, write, syncfs or fsync, rename,
 * fsync of the directory), so the loop never waits on the disk, and they are
 * grouped: the writes queued while the groups in flight are on the disk go
 * together in the next, made durable together (one syncfs of the file
 * system, or an fsync each: notify.outbox.sync) before any is renamed, and
 * each directory fsynced once per group (outbox.c). A callback says written only when its files are on
 * disk under their final names. Files are 0600 and directories 0700: they
 * hold personal data. */
#ifndef NOTIFY_OUTBOX_H
#define NOTIFY_OUTBOX_H

#include <stddef.h>
#include <uv.h>

typedef struct notify_outbox_work notify_outbox_work;

typedef struct notify_outbox {
    uv_loop_t *loop;
    char *maildir;   /* <var.dir>/outbox */
    char *print_dir; /* <var.dir>/print */
    notify_outbox_work *pending, **pending_tail; /* queued for the next group */
    int flushing;    /* groups on the thread pool */
    int use_syncfs;  /* one syncfs a group, not an fsync a file */
} notify_outbox;

/* How a group's files are made durable (notify.outbox.sync). */
enum { NOTIFY_OUTBOX_SYNCFS, NOTIFY_OUTBOX_FSYNC };
extern const char *const notify_outbox_sync_names[]; /* "syncfs", "fsync", NULL */

/* What to write for one delivery. Everything is copied. */
typedef struct notify_outbox_item {
    const char *name;    /* file name */
    const char *message; /* RFC 5322 text, or NULL: no email */
    size_t message_len;
    const char *letter;  /* printable letter, or NULL: no post */
    size_t letter_len;
    int recovering;      /* an earlier attempt may have written it */
} notify_outbox_item;

/* err is 0 on success, else errmsg (borrowed) says what failed. */
typedef void (*notify_outbox_cb)(int err, const char *errmsg, void *opaque);

/* Creates the directories under var_dir; sync is NOTIFY_OUTBOX_SYNCFS or
 * _FSYNC (syncfs falls back to fsync, with a warning, on a kernel whose
 * syncfs does not report errors). Returns 0, or -1 with errstr. */
int notify_outbox_open(notify_outbox *o, uv_loop_t *loop, const char *var_dir,
                       int sync, char *errstr, size_t errstr_size);
/* Starts writing item. Returns 0 (cb will be called once, on the loop) or -1
 * with errstr (cb will not be called). */
int notify_outbox_write(notify_outbox *o, const notify_outbox_item *item,
                        notify_outbox_cb cb, void *opaque, char *errstr,
                        size_t errstr_size);
/* Frees the paths; call when no write is in flight. */
void notify_outbox_close(notify_outbox *o);

#endif
