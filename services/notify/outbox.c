/* outbox.c - Maildir and print files. See outbox.h.
 *
 * Writes are grouped: notify_outbox_write() queues an item, and a flush
 * runs on the thread pool with every item queued so far (up to
 * OUTBOX_FLUSH_MAX). Up to OUTBOX_FLUSHES flushes run at once: on a
 * virtual disk a flush of the disk's cache mostly waits, and several waits
 * overlap. Items queued while every flush slot is taken wait for the next
 * free one, so the busier the service, the more each flush carries.
 *
 * A flush writes each file into its temporary name, then makes them
 * durable in one of two ways (notify.outbox.sync):
 *   syncfs  one syncfs(2) of the file system for the whole group, then an
 *           fsync of tmp/ (a second cache flush; see dirs_syncfs), then the
 *           renames into new/ and one fsync of new/. A file system has one
 *           syncfs for the group where the per-file way has an fsync, an
 *           inode write and a cache flush for each file; it also writes
 *           whatever else is dirty on that file system, so give the outbox
 *           a file system of its own when other writers share it.
 *   fsync   the write-back of each file started as it is written
 *           (sync_file_range), an fsync of each, then the renames and one
 *           fsync of each directory renamed into.
 * Either way no file is renamed into new/ before its data and inode are
 * durable, and no item's callback is called before the rename is: a
 * message that is reported written is on disk under its final name, and a
 * SIGKILL or power cut at any point leaves in new/ only durable files (the
 * rest are in tmp/, rewritten by the next attempt under the same name).
 *
 * The thread-pool side touches only its own flush record and the paths,
 * which do not change after open; the results go back to the loop through
 * uv_queue_work's after-callback. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "log.h"
#include "outbox.h"

#define OUTBOX_PATH_MAX 4096
#define OUTBOX_FLUSH_MAX 1024 /* items in one group */
#define OUTBOX_FLUSHES 3       /* groups on the thread pool at once (it has 4 threads) */

enum { DIR_NEW, DIR_PRINT, DIR_COUNT };

const char *const notify_outbox_sync_names[] = {"syncfs", "fsync", NULL};

/* One file of an item: written to tmp, renamed to final in dir. */
typedef struct outbox_file {
    const char *data;
    size_t len;
    int dir, fd;
    char *tmp, *final;
} outbox_file;

struct notify_outbox_work {
    notify_outbox_work *next;
    char *name, *message, *letter;
    size_t message_len, letter_len;
    int recovering, err;
    outbox_file files[2];
    int nfiles;
    char errmsg[OUTBOX_PATH_MAX + 64];
    notify_outbox_cb cb;
    void *opaque;
};
typedef notify_outbox_work outbox_work;

typedef struct outbox_flush {
    uv_work_t req;
    notify_outbox *o;
    outbox_work *items;
} outbox_flush;

/* ---- directories ----------------------------------------------------------- */

/* mkdir -p, 0700 for what it creates. */
static int mkdir_p(const char *path, char *errstr, size_t size) {
    char buf[OUTBOX_PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0700) && errno != EEXIST) {
            snprintf(errstr, size, "cannot create %s: %s", buf, strerror(errno));
            return -1;
        }
        if (!(*p = c)) return 0;
    }
}

/* 1 if the running kernel's syncfs returns write-back errors (Linux 5.8):
 * before, it returned 0 whatever happened to the data. */
static int syncfs_reports_errors(void) {
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
    return major > 5 || (major == 5 && minor >= 8);
}

int notify_outbox_open(notify_outbox *o, uv_loop_t *loop, const char *var_dir,
                       int sync, char *errstr, size_t size) {
    static const char *const subdirs[] = {"outbox/tmp", "outbox/new", "outbox/cur",
                                          "print"};
    char path[OUTBOX_PATH_MAX];
    memset(o, 0, sizeof(*o));
    o->loop = loop;
    o->pending_tail = &o->pending;
    o->use_syncfs = sync == NOTIFY_OUTBOX_SYNCFS;
    if (o->use_syncfs && !syncfs_reports_errors()) {
        sp_warn("notify: this kernel's syncfs does not report write errors (Linux < 5.8): "
                "the outbox fsyncs each file instead");
        o->use_syncfs = 0;
    }
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", var_dir, subdirs[i]);
        if (mkdir_p(path, errstr, size)) return -1;
    }
    if (asprintf(&o->maildir, "%s/outbox", var_dir) < 0 ||
        asprintf(&o->print_dir, "%s/print", var_dir) < 0) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    return 0;
}

void notify_outbox_close(notify_outbox *o) {
    free(o->maildir);
    free(o->print_dir);
    o->maildir = o->print_dir = NULL;
}

/* ---- on the thread pool ---------------------------------------------------- */

static int work_fail(outbox_work *w, const char *what, const char *path) {
    if (w->err) return -1; /* the first failure is the one to report */
    w->err = errno ? errno : EIO;
    snprintf(w->errmsg, sizeof(w->errmsg), "%s %s: %s", what, path, strerror(w->err));
    return -1;
}

/* 1 if a reader already moved the message to cur/ ("<name>:2,<flags>"). */
static int maildir_taken(const char *maildir, const char *name) {
    char path[OUTBOX_PATH_MAX];
    size_t n = strlen(name);
    struct dirent *e;
    int found = 0;
    snprintf(path, sizeof(path), "%s/cur", maildir);
    DIR *d = opendir(path);
    if (!d) return 0;
    while (!found && (e = readdir(d)) != NULL)
        found = strncmp(e->d_name, name, n) == 0 && e->d_name[n] == ':';
    closedir(d);
    return found;
}

static int file_add(outbox_work *w, int dir, const char *data, size_t len, char *tmp,
                    char *final) {
    outbox_file *f = &w->files[w->nfiles++];
    *f = (outbox_file){.data = data, .len = len, .dir = dir, .fd = -1, .tmp = tmp,
                       .final = final};
    return tmp && final ? 0 : work_fail(w, "name", "(out of memory)");
}

/* The files of w: its email (unless a reader already took it, on a rewrite
 * in recovery) and its letter. */
static void work_files(outbox_work *w, const notify_outbox *o) {
    char *tmp, *final;
    if (w->message && !(w->recovering && maildir_taken(o->maildir, w->name))) {
        if (asprintf(&tmp, "%s/tmp/%s", o->maildir, w->name) < 0) tmp = NULL;
        if (asprintf(&final, "%s/new/%s", o->maildir, w->name) < 0) final = NULL;
        if (file_add(w, DIR_NEW, w->message, w->message_len, tmp, final)) return;
    }
    if (w->letter) {
        if (asprintf(&tmp, "%s/.%s.tmp", o->print_dir, w->name) < 0) tmp = NULL;
        if (asprintf(&final, "%s/%s.txt", o->print_dir, w->name) < 0) final = NULL;
        file_add(w, DIR_PRINT, w->letter, w->letter_len, tmp, final);
    }
}

/* Opens f's temporary file and writes it. With syncfs (keep_open 0) it is
 * closed here, and the group's syncfs makes it durable; per file it stays
 * open for its fsync. */
static void file_write(outbox_work *w, outbox_file *f, int keep_open) {
    if ((f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        work_fail(w, "open", f->tmp);
        return;
    }
    for (size_t off = 0; off < f->len;) {
        ssize_t n = write(f->fd, f->data + off, f->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            work_fail(w, "write", f->tmp);
            return;
        }
        off += (size_t)n;
    }
    /* Per file: start its write-back now, so the fsyncs that follow find it
     * under way (only a hint). Not with syncfs, which submits the group's
     * write-back in one pass: here it rang the virtual disk once a file
     * (8% of notify's CPU in a profile). */
    if (keep_open) {
        (void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        return;
    }
    if (close(f->fd)) work_fail(w, "close", f->tmp);
    f->fd = -1;
}

/* Per-file mode: fsyncs and closes f. Returns 0 if f may be renamed. */
static int file_fsync(outbox_work *w, outbox_file *f) {
    if (f->fd < 0) return -1;
    int ok = !w->err;
    if (ok && fsync(f->fd)) ok = !work_fail(w, "fsync", f->tmp);
    if (close(f->fd) && ok) ok = !work_fail(w, "close", f->tmp);
    f->fd = -1;
    return ok ? 0 : -1;
}

/* Renames f into place. Returns f's directory index if renamed, -1 if not. */
static int file_rename(outbox_work *w, outbox_file *f) {
    if (w->err) return -1;
    if (rename(f->tmp, f->final)) return work_fail(w, "rename", f->tmp);
    return f->dir;
}

/* The directories a group touches, opened before any file is written: a
 * syncfs reports the write-back errors of its file system since its fd was
 * opened (Linux >= 5.8), so an error during this group's writes cannot have
 * been reported to someone else already. */
enum { FD_TMP, FD_NEW, FD_PRINT, FD_COUNT };
typedef struct outbox_dirs {
    const char *path[FD_COUNT];
    int fd[FD_COUNT];
    char tmp[OUTBOX_PATH_MAX], new_[OUTBOX_PATH_MAX];
} outbox_dirs;

static int dirs_open(outbox_dirs *d, const notify_outbox *o) {
    snprintf(d->tmp, sizeof(d->tmp), "%s/tmp", o->maildir);
    snprintf(d->new_, sizeof(d->new_), "%s/new", o->maildir);
    d->path[FD_TMP] = d->tmp;
    d->path[FD_NEW] = d->new_;
    d->path[FD_PRINT] = o->print_dir;
    for (int i = 0; i < FD_COUNT; i++) d->fd[i] = -1;
    for (int i = 0; i < FD_COUNT; i++)
        if ((d->fd[i] = open(d->path[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) return i;
    return -1;
}

static void dirs_close(outbox_dirs *d) {
    for (int i = 0; i < FD_COUNT; i++)
        if (d->fd[i] >= 0) close(d->fd[i]);
}

/* Makes every file written through the fds' file systems durable: syncfs,
 * then an fsync of a directory there. The fsync is a second cache flush:
 * on ext4 without a journal, syncfs flushes the disk's write cache before
 * its last write-back of metadata (fs/sync.c sync_filesystem, then
 * ext4_sync_fs), so an inode's block map written in that pass could still
 * be in the cache; an ext4 fsync always flushes after its own writes.
 * Returns 0, or -1 with *failed_fd the fd index and errno. */
static int dirs_syncfs(const outbox_dirs *d, int with_print, int *failed_fd) {
    struct stat a, b;
    int targets[2] = {FD_TMP, FD_PRINT}, n = 1;
    if (with_print && (fstat(d->fd[FD_TMP], &a) || fstat(d->fd[FD_PRINT], &b) ||
                       a.st_dev != b.st_dev))
        n = 2; /* the print directory is another file system (or unknown) */
    for (int i = 0; i < n; i++) {
        *failed_fd = targets[i];
        if (syncfs(d->fd[targets[i]]) || fsync(d->fd[targets[i]])) return -1;
    }
    return 0;
}

/* Fails every item of the group not failed yet with what and errno. */
static void group_fail(outbox_work *items, const char *what, const char *path) {
    int e = errno;
    for (outbox_work *w = items; w; w = w->next) {
        errno = e;
        work_fail(w, what, path);
    }
}

/* Writes each file of the group; returns whether any is a letter. */
static int group_write(outbox_work *items, const notify_outbox *o) {
    int letters = 0;
    for (outbox_work *w = items; w; w = w->next) {
        work_files(w, o);
        for (int k = 0; k < w->nfiles && !w->err; k++) {
            file_write(w, &w->files[k], !o->use_syncfs);
            letters |= w->files[k].dir == DIR_PRINT;
        }
    }
    return letters;
}

static void flush_work_cb(uv_work_t *req) {
    outbox_flush *fl = req->data;
    const notify_outbox *o = fl->o;
    outbox_dirs d;
    int renamed[DIR_COUNT] = {0}, failed[DIR_COUNT] = {0};
    int dir_fd[DIR_COUNT] = {FD_NEW, FD_PRINT}, bad;
    if ((bad = dirs_open(&d, o)) >= 0) {
        group_fail(fl->items, "open", d.path[bad]);
        dirs_close(&d);
        return;
    }
    int letters = group_write(fl->items, o);
    if (o->use_syncfs && dirs_syncfs(&d, letters, &bad))
        group_fail(fl->items, "syncfs", d.path[bad]);
    for (outbox_work *w = fl->items; w; w = w->next)
        for (int k = 0; k < w->nfiles; k++) {
            outbox_file *f = &w->files[k];
            if (!o->use_syncfs && file_fsync(w, f)) continue;
            if (f->fd >= 0) close(f->fd); /* a failed write left it open */
            f->fd = -1;
            int dir = file_rename(w, f);
            if (dir >= 0) renamed[dir] = 1;
        }
    for (int i = 0; i < DIR_COUNT; i++)
        if (renamed[i] && fsync(d.fd[dir_fd[i]])) failed[i] = errno ? errno : EIO;
    for (outbox_work *w = fl->items; w; w = w->next)
        for (int k = 0; k < w->nfiles; k++)
            if (failed[w->files[k].dir]) {
                errno = failed[w->files[k].dir];
                work_fail(w, "fsync", d.path[dir_fd[w->files[k].dir]]);
            }
    dirs_close(&d);
}

/* ---- back on the loop ------------------------------------------------------ */

static void work_free(outbox_work *w) {
    for (int k = 0; k < w->nfiles; k++) {
        free(w->files[k].tmp);
        free(w->files[k].final);
    }
    free(w->name);
    free(w->message);
    free(w->letter);
    free(w);
}

static void flush_start(notify_outbox *o);

static void flush_after_cb(uv_work_t *req, int status) {
    outbox_flush *fl = req->data;
    notify_outbox *o = fl->o;
    outbox_work *w = fl->items, *next;
    free(fl);
    o->flushing--;
    flush_start(o); /* what queued meanwhile, before these callbacks add more */
    for (; w; w = next) {
        next = w->next;
        if (status == UV_ECANCELED) {
            w->err = ECANCELED;
            snprintf(w->errmsg, sizeof(w->errmsg), "write cancelled");
        }
        w->cb(w->err, w->errmsg, w->opaque);
        work_free(w);
    }
}

/* Hands everything queued (up to OUTBOX_FLUSH_MAX items) to the thread
 * pool, unless every flush slot is taken. */
static void flush_start(notify_outbox *o) {
    if (o->flushing >= OUTBOX_FLUSHES || !o->pending) return;
    outbox_flush *fl = calloc(1, sizeof(*fl));
    if (!fl) return; /* tried again at the next write or flush */
    outbox_work *last = o->pending;
    for (size_t n = 1; n < OUTBOX_FLUSH_MAX && last->next; n++) last = last->next;
    fl->o = o;
    fl->items = o->pending;
    fl->req.data = fl;
    o->pending = last->next;
    last->next = NULL;
    if (!o->pending) o->pending_tail = &o->pending;
    if (uv_queue_work(o->loop, &fl->req, flush_work_cb, flush_after_cb) != 0) {
        last->next = o->pending; /* put them back; the next write tries again */
        if (!o->pending) o->pending_tail = &last->next;
        o->pending = fl->items;
        free(fl);
        return;
    }
    o->flushing++;
}

static char *copy_bytes(const char *s, size_t len) {
    char *c = malloc(len + 1);
    if (!c) return NULL;
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

int notify_outbox_write(notify_outbox *o, const notify_outbox_item *item,
                        notify_outbox_cb cb, void *opaque, char *errstr, size_t size) {
    outbox_work *w = calloc(1, sizeof(*w));
    if (!w || !(w->name = strdup(item->name)) ||
        (item->message && !(w->message = copy_bytes(item->message, item->message_len))) ||
        (item->letter && !(w->letter = copy_bytes(item->letter, item->letter_len)))) {
        if (w) work_free(w);
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    w->message_len = item->message_len;
    w->letter_len = item->letter_len;
    w->recovering = item->recovering;
    w->cb = cb;
    w->opaque = opaque;
    *o->pending_tail = w;
    o->pending_tail = &w->next;
    flush_start(o);
    return 0;
}
