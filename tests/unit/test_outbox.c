/* test_outbox.c - notify's Maildir and print files (services/notify/outbox.c),
 * on the real disk, in both durability modes (syncfs a group, fsync a
 * file): every callback called once, every file under its final name with
 * its bytes and nothing left in tmp/, a rewrite replacing its file, a
 * recovery leaving alone a message a reader took, and a failed group
 * reported to each of its items with nothing renamed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outbox.h"

#define ITEMS 300 /* more than one group's worth while groups are in flight */

typedef struct env {
    uv_loop_t loop;
    notify_outbox o;
    char var[64];
    int calls, failures;
    char last_err[512];
} env;

static void written(int err, const char *errmsg, void *opaque) {
    env *e = opaque;
    e->calls++;
    if (err) {
        e->failures++;
        snprintf(e->last_err, sizeof(e->last_err), "%s", errmsg);
    }
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static env *env_open(int sync) {
    char err[256] = "";
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    snprintf(e->var, sizeof(e->var), "/tmp/sendpath-unit-outbox-XXXXXX");
    assert_non_null(mkdtemp(e->var));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    if (notify_outbox_open(&e->o, &e->loop, e->var, sync, err, sizeof(err)))
        fail_msg("%s", err);
    return e;
}

static void env_close(env *e) {
    notify_outbox_close(&e->o);
    assert_int_equal(uv_loop_close(&e->loop), 0); /* no handle or request left */
    nftw(e->var, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(e);
}

static void write_item(env *e, const char *name, const char *msg, const char *letter,
                       int recovering) {
    char err[256] = "";
    notify_outbox_item item = {.name = name, .message = msg,
                               .message_len = msg ? strlen(msg) : 0, .letter = letter,
                               .letter_len = letter ? strlen(letter) : 0,
                               .recovering = recovering};
    if (notify_outbox_write(&e->o, &item, written, e, err, sizeof(err)))
        fail_msg("%s", err);
}

static void assert_file(const char *path, const char *want) {
    char buf[512];
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("missing %s", path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static int count_entries(const char *dir) {
    int n = 0;
    struct dirent *d;
    DIR *h = opendir(dir);
    if (!h) return -1;
    while ((d = readdir(h)))
        if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) n++;
    closedir(h);
    return n;
}

static void many_items(int sync) {
    env *e = env_open(sync);
    char name[64], msg[128], letter[128], path[256];
    for (int i = 0; i < ITEMS; i++) {
        snprintf(name, sizeof(name), "1798000000.N%04d.sendpath", i);
        snprintf(msg, sizeof(msg), "Subject: %d\r\n\r\nbody %d\r\n", i, i);
        snprintf(letter, sizeof(letter), "letter %d\n", i);
        write_item(e, name, msg, i % 3 == 0 ? letter : NULL, 0);
    }
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(e->calls, ITEMS);
    assert_int_equal(e->failures, 0);
    for (int i = 0; i < ITEMS; i++) {
        snprintf(msg, sizeof(msg), "Subject: %d\r\n\r\nbody %d\r\n", i, i);
        snprintf(path, sizeof(path), "%s/outbox/new/1798000000.N%04d.sendpath", e->var, i);
        assert_file(path, msg);
        if (i % 3) continue;
        snprintf(letter, sizeof(letter), "letter %d\n", i);
        snprintf(path, sizeof(path), "%s/print/1798000000.N%04d.sendpath.txt", e->var, i);
        assert_file(path, letter);
    }
    snprintf(path, sizeof(path), "%s/outbox/tmp", e->var);
    assert_int_equal(count_entries(path), 0);
    snprintf(path, sizeof(path), "%s/print", e->var);
    assert_int_equal(count_entries(path), (ITEMS + 2) / 3); /* no dot-file left */
    env_close(e);
}

static void test_many_items_syncfs(void **state) {
    (void)state;
    many_items(NOTIFY_OUTBOX_SYNCFS);
}

static void test_many_items_fsync(void **state) {
    (void)state;
    many_items(NOTIFY_OUTBOX_FSYNC);
}

static void test_rewrite_replaces(void **state) {
    (void)state;
    env *e = env_open(NOTIFY_OUTBOX_SYNCFS);
    char path[256];
    write_item(e, "1.N1.sendpath", "first", NULL, 0);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    write_item(e, "1.N1.sendpath", "second", NULL, 1);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(e->calls, 2);
    assert_int_equal(e->failures, 0);
    snprintf(path, sizeof(path), "%s/outbox/new", e->var);
    assert_int_equal(count_entries(path), 1);
    snprintf(path, sizeof(path), "%s/outbox/new/1.N1.sendpath", e->var);
    assert_file(path, "second");
    env_close(e);
}

/* A reader moved the message to cur/: a rewrite in recovery writes no new
 * copy, but still writes the letter. */
static void test_recovery_leaves_taken_message(void **state) {
    (void)state;
    env *e = env_open(NOTIFY_OUTBOX_SYNCFS);
    char path[256];
    snprintf(path, sizeof(path), "%s/outbox/cur/2.N2.sendpath:2,S", e->var);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    write_item(e, "2.N2.sendpath", "again", "a letter", 1);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(e->calls, 1);
    assert_int_equal(e->failures, 0);
    snprintf(path, sizeof(path), "%s/outbox/new", e->var);
    assert_int_equal(count_entries(path), 0);
    snprintf(path, sizeof(path), "%s/print/2.N2.sendpath.txt", e->var);
    assert_file(path, "a letter");
    env_close(e);
}

/* new/ gone: every item of the group fails, naming it, and none is
 * reported written. */
static void group_fails(int sync) {
    env *e = env_open(sync);
    char path[256];
    snprintf(path, sizeof(path), "%s/outbox/new", e->var);
    assert_int_equal(rmdir(path), 0);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "3.N%d.sendpath", i);
        write_item(e, name, "text", NULL, 0);
    }
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(e->calls, 5);
    assert_int_equal(e->failures, 5);
    assert_non_null(strstr(e->last_err, "outbox/new"));
    env_close(e);
}

static void test_group_fails_syncfs(void **state) {
    (void)state;
    group_fails(NOTIFY_OUTBOX_SYNCFS);
}

static void test_group_fails_fsync(void **state) {
    (void)state;
    group_fails(NOTIFY_OUTBOX_FSYNC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_items_syncfs),
        cmocka_unit_test(test_many_items_fsync),
        cmocka_unit_test(test_rewrite_replaces),
        cmocka_unit_test(test_recovery_leaves_taken_message),
        cmocka_unit_test(test_group_fails_syncfs),
        cmocka_unit_test(test_group_fails_fsync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
