/* outbox.c - Maildir and print files. See outbox.h.
 *
 * The thread-pool side touches only its own work record and the paths, which
 * do not change after open; the result goes back to the loop through
 * uv_queue_work's after-callback. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outbox.h"

#define OUTBOX_PATH_MAX 4096

typedef struct outbox_work {
    uv_work_t req;
    notify_outbox *o;
    char *name, *message, *letter;
    size_t message_len, letter_len;
    int recovering, err;
    char errmsg[OUTBOX_PATH_MAX + 64];
    notify_outbox_cb cb;
    void *opaque;
} outbox_work;

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

int notify_outbox_open(notify_outbox *o, uv_loop_t *loop, const char *var_dir,
                       char *errstr, size_t size) {
    static const char *const subdirs[] = {"outbox/tmp", "outbox/new", "outbox/cur",
                                          "print"};
    char path[OUTBOX_PATH_MAX];
    memset(o, 0, sizeof(*o));
    o->loop = loop;
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
    w->err = errno ? errno : EIO;
    snprintf(w->errmsg, sizeof(w->errmsg), "%s %s: %s", what, path, strerror(w->err));
    return -1;
}

static int fsync_dir(outbox_work *w, const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return work_fail(w, "open", dir);
    int rc = fsync(fd);
    close(fd);
    return rc ? work_fail(w, "fsync", dir) : 0;
}

/* Writes data to tmp, flushes it, renames it to final, flushes dir. */
static int file_put(outbox_work *w, const char *tmp, const char *final,
                    const char *dir, const char *data, size_t len) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return work_fail(w, "open", tmp);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close(fd);
            return work_fail(w, "write", tmp);
        }
        off += (size_t)n;
    }
    if (fsync(fd)) {
        close(fd);
        return work_fail(w, "fsync", tmp);
    }
    if (close(fd)) return work_fail(w, "close", tmp);
    if (rename(tmp, final)) return work_fail(w, "rename", tmp);
    return fsync_dir(w, dir);
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

static void outbox_work_cb(uv_work_t *req) {
    outbox_work *w = req->data;
    const notify_outbox *o = w->o;
    char tmp[OUTBOX_PATH_MAX], final[OUTBOX_PATH_MAX], dir[OUTBOX_PATH_MAX];
    if (w->message && !(w->recovering && maildir_taken(o->maildir, w->name))) {
        snprintf(tmp, sizeof(tmp), "%s/tmp/%s", o->maildir, w->name);
        snprintf(final, sizeof(final), "%s/new/%s", o->maildir, w->name);
        snprintf(dir, sizeof(dir), "%s/new", o->maildir);
        if (file_put(w, tmp, final, dir, w->message, w->message_len)) return;
    }
    if (w->letter) {
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", o->print_dir, w->name);
        snprintf(final, sizeof(final), "%s/%s.txt", o->print_dir, w->name);
        file_put(w, tmp, final, o->print_dir, w->letter, w->letter_len);
    }
}

/* ---- back on the loop ------------------------------------------------------ */

static void work_free(outbox_work *w) {
    free(w->name);
    free(w->message);
    free(w->letter);
    free(w);
}

static void outbox_after_cb(uv_work_t *req, int status) {
    outbox_work *w = req->data;
    if (status == UV_ECANCELED) {
        w->err = ECANCELED;
        snprintf(w->errmsg, sizeof(w->errmsg), "write cancelled");
    }
    w->cb(w->err, w->errmsg, w->opaque);
    work_free(w);
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
    int rc;
    if (!w || !(w->name = strdup(item->name)) ||
        (item->message && !(w->message = copy_bytes(item->message, item->message_len))) ||
        (item->letter && !(w->letter = copy_bytes(item->letter, item->letter_len)))) {
        if (w) work_free(w);
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    w->o = o;
    w->message_len = item->message_len;
    w->letter_len = item->letter_len;
    w->recovering = item->recovering;
    w->cb = cb;
    w->opaque = opaque;
    w->req.data = w;
    if ((rc = uv_queue_work(o->loop, &w->req, outbox_work_cb, outbox_after_cb)) != 0) {
        snprintf(errstr, size, "queue write: %s", uv_strerror(rc));
        work_free(w);
        return -1;
    }
    return 0;
}
