/* Unit tests for common/ids.c's random bits: ids drawn from the pool are
 * distinct across many refills and between threads, and a forked child
 * does not hand out the ids its parent will. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ids.h"

#define N 20000 /* 800 refills of the pool */
#define RAND_AT 12 /* the random part: after "c_" and 10 characters of time */

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

typedef struct {
    char ids[N / 2][SP_CASE_ID_LEN + 1];
} half;

static void *draw_half(void *arg) {
    half *h = arg;
    for (int i = 0; i < N / 2; i++)
        if (sp_case_id_new(1795430400000LL, h->ids[i], sizeof(h->ids[i]))) return NULL;
    return h;
}

/* The same millisecond for all, so only the random part tells them apart. */
static void test_ids_distinct_across_refills_and_threads(void **state) {
    static half a, b;
    static char all[N][SP_CASE_ID_LEN + 1];
    pthread_t ta, tb;
    void *ra, *rb;
    assert_int_equal(pthread_create(&ta, NULL, draw_half, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, draw_half, &b), 0);
    pthread_join(ta, &ra);
    pthread_join(tb, &rb);
    assert_non_null(ra);
    assert_non_null(rb);
    memcpy(all, a.ids, sizeof(a.ids));
    memcpy(all[N / 2], b.ids, sizeof(b.ids));
    qsort(all, N, sizeof(all[0]), cmp);
    for (int i = 0; i < N; i++) assert_true(sp_case_id_valid(all[i]));
    for (int i = 1; i < N; i++)
        if (!strcmp(all[i - 1], all[i])) fail_msg("id drawn twice: %s", all[i]);
}

/* The parent has a pool with bytes left when it forks: the child's next
 * id must not be the parent's next. */
static void test_forked_child_draws_its_own_ids(void **state) {
    char parent[SP_CASE_ID_LEN + 1], child[SP_CASE_ID_LEN + 1] = {0};
    int fd[2];
    pid_t pid;
    assert_int_equal(sp_case_id_new(1795430400000LL, parent, sizeof(parent)), 0);
    assert_int_equal(pipe(fd), 0);
    if ((pid = fork()) == 0) {
        char id[SP_CASE_ID_LEN + 1];
        int ok = sp_case_id_new(1795430400000LL, id, sizeof(id)) == 0 &&
                 write(fd[1], id, SP_CASE_ID_LEN) == SP_CASE_ID_LEN;
        _exit(ok ? 0 : 1);
    }
    assert_true(pid > 0);
    close(fd[1]);
    assert_int_equal(read(fd[0], child, SP_CASE_ID_LEN), SP_CASE_ID_LEN);
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(sp_case_id_new(1795430400000LL, parent, sizeof(parent)), 0);
    if (!strcmp(parent + RAND_AT, child + RAND_AT))
        fail_msg("the child drew the parent's next id: %s", child);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_distinct_across_refills_and_threads),
        cmocka_unit_test(test_forked_child_draws_its_own_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
