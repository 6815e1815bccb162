/* rebuild_workers.c - the rebuild in N processes. See rebuild_workers.h.
 *
 * A worker prints one line on stdout (its report), which fits a pipe's
 * buffer, so the parent reads the pipes only once every worker is gone. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "rebuild.h"
#include "rebuild_workers.h"

typedef struct worker {
    pid_t pid; /* 0 once reaped */
    int out;   /* read end of its stdout */
    int status;
} worker;

static worker workers[OPS_REBUILD_WORKERS_MAX];
static int nworkers;
static volatile sig_atomic_t interrupted;
/* Blocked while the workers are forked, so a child never runs the parent's
 * handler before it has its own. */
static sigset_t forwarded;

int ops_rebuild_workers_arg(int *argc, char **argv, char *errstr, size_t size) {
    int n = 1, rebuild = 0, j = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--rebuild")) rebuild = 1;
        if (strncmp(argv[i], "--workers=", 10) != 0) {
            argv[j++] = argv[i];
            continue;
        }
        char *end;
        long v = strtol(argv[i] + 10, &end, 10);
        if (end == argv[i] + 10 || *end || v < 1 || v > OPS_REBUILD_WORKERS_MAX) {
            snprintf(errstr, size, "--workers: must be a whole number from 1 to %d, not '%s'",
                     OPS_REBUILD_WORKERS_MAX, argv[i] + 10);
            return -1;
        }
        n = (int)v;
    }
    if (j < *argc && !rebuild) {
        snprintf(errstr, size, "--workers: only with --rebuild");
        return -1;
    }
    *argc = j;
    argv[j] = NULL;
    return n;
}

/* SIGTERM and SIGINT go on to the workers; the parent then reports the
 * rebuild as incomplete (a stopped worker exits 0 with its share unread). */
static void forward_signal(int sig) {
    interrupted = 1;
    for (int k = 0; k < nworkers; k++)
        if (workers[k].pid > 0) kill(workers[k].pid, sig);
}

static void stop_others(void) {
    for (int k = 0; k < nworkers; k++)
        if (workers[k].pid > 0) kill(workers[k].pid, SIGTERM);
}

/* In the child: stdout to the pipe, the barrier's other end closed. */
static void worker_main(const sp_service_def *def, int argc, char **argv, int k, int n,
                        int out[2], int barrier[2]) {
    close(out[0]);
    for (int i = 0; i < k; i++) close(workers[i].out);
    if (dup2(out[1], STDOUT_FILENO) < 0) _exit(1);
    close(out[1]);
    close(k == 0 ? barrier[0] : barrier[1]);
    ops_rebuild_set_worker(k, n, k == 0 ? barrier[1] : barrier[0]);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &forwarded, NULL);
    exit(sp_service_main(def, argc, argv)); /* exit: the sanitizers' checks run */
}

static int workers_start(const sp_service_def *def, int argc, char **argv, int n) {
    int barrier[2];
    if (pipe(barrier)) {
        sp_error("rebuild: pipe: %s", strerror(errno));
        return -1;
    }
    fcntl(barrier[0], F_SETFL, O_NONBLOCK); /* read from the rebuild's timer */
    fflush(NULL); /* nothing buffered is printed twice */
    sigprocmask(SIG_BLOCK, &forwarded, NULL);
    for (int k = 0; k < n; k++) {
        int out[2];
        if (pipe(out)) {
            sp_error("rebuild: pipe: %s", strerror(errno));
            break;
        }
        pid_t pid = fork();
        if (pid == 0) worker_main(def, argc, argv, k, n, out, barrier);
        close(out[1]);
        if (pid < 0) {
            sp_error("rebuild: starting worker %d: %s", k + 1, strerror(errno));
            close(out[0]);
            break;
        }
        workers[nworkers++] = (worker){pid, out[0], 0};
    }
    sigprocmask(SIG_UNBLOCK, &forwarded, NULL);
    close(barrier[0]);
    close(barrier[1]);
    return nworkers == n ? 0 : -1;
}

/* Waits for every worker; the first to fail stops the others. 0 when all
 * exited 0. */
static int workers_wait(void) {
    int failed = 0;
    for (int left = nworkers; left > 0;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            sp_error("rebuild: waiting for the workers: %s", strerror(errno));
            return -1;
        }
        for (int k = 0; k < nworkers; k++) {
            if (workers[k].pid != pid) continue;
            workers[k].pid = 0, workers[k].status = status;
            left--;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) break;
            sp_error("rebuild: worker %d of %d %s %d", k + 1, nworkers,
                     WIFEXITED(status) ? "exited" : "was killed by signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            if (!failed) stop_others();
            failed = 1;
        }
    }
    return failed ? -1 : 0;
}

/* Worker k's report: the last line it printed, parsed; NULL if none. */
static cJSON *worker_report(int k) {
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 &&
           ((n = read(workers[k].out, buf + len, sizeof(buf) - 1 - len)) > 0 ||
            (n < 0 && errno == EINTR)))
        if (n > 0) len += (size_t)n;
    buf[len] = '\0';
    while (len > 0 && buf[len - 1] == '\n') buf[--len] = '\0';
    char *line = strrchr(buf, '\n');
    return cJSON_Parse(line ? line + 1 : buf);
}

static const char *const summed[] = {"partitions", "waves", "messages", "applied", "repeats",
                                     "past_marks", "keys", "max_rss_kb", NULL};
static const char *const longest[] = {"apply_ms", "write_ms", NULL};

static double report_num(const cJSON *r, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

#define NSUMMED (sizeof(summed) / sizeof(*summed) - 1)
#define NLONGEST (sizeof(longest) / sizeof(*longest) - 1)

/* One line from the workers' reports (rebuild_workers.h). */
static int workers_report(uint64_t ms) {
    double sum[NSUMMED] = {0}, max[NLONGEST] = {0}, events = 0;
    for (int k = 0; k < nworkers; k++) {
        cJSON *r = worker_report(k);
        if (!r) {
            sp_error("rebuild: worker %d of %d printed no report", k + 1, nworkers);
            return -1;
        }
        for (size_t i = 0; i < NSUMMED; i++) sum[i] += report_num(r, summed[i]);
        for (size_t i = 0; i < NLONGEST; i++)
            if (report_num(r, longest[i]) > max[i]) max[i] = report_num(r, longest[i]);
        events += report_num(r, "applied") + report_num(r, "repeats");
        cJSON_Delete(r);
    }
    printf("{\"rebuild\":\"done\",\"workers\":%d", nworkers);
    for (size_t i = 0; i < NSUMMED; i++) printf(",\"%s\":%.0f", summed[i], sum[i]);
    printf(",\"ms\":%llu", (unsigned long long)ms);
    for (size_t i = 0; i < NLONGEST; i++) printf(",\"%s\":%.0f", longest[i], max[i]);
    /* apply_ms: the longest worker's (longest[0]) */
    printf(",\"events_per_s\":%.0f}\n", max[0] > 0 ? events * 1000.0 / max[0] : 0);
    fflush(stdout);
    return 0;
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ops_rebuild_workers_run(const sp_service_def *def, int argc, char **argv, int n) {
    uint64_t t0 = mono_ms();
    struct sigaction sa = {0};
    sp_log_init(def->name, SP_LOG_INFO);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&forwarded);
    sigaddset(&forwarded, SIGTERM);
    sigaddset(&forwarded, SIGINT);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char errstr[512];
    /* Each worker would refuse a bad setting alike, and the parent then
     * report an incomplete rebuild that nothing had started. */
    if (sp_service_config_check(def, argc, argv, errstr, sizeof(errstr))) {
        fprintf(stderr, "sendpath-%s: %s\n", def->name, errstr);
        return 2;
    }
    sp_info("rebuild: %d workers, each a range of the partitions", n);
    int rc = workers_start(def, argc, argv, n);
    if (rc) stop_others();
    if (workers_wait() || rc || interrupted) {
        sp_error("rebuild: failed%s; the read model is incomplete: run --rebuild again",
                 interrupted ? " (stopped)" : "");
        return 1;
    }
    if (workers_report(mono_ms() - t0)) return 1;
    sp_info("rebuild: done: %d workers in %llu ms", n, (unsigned long long)(mono_ms() - t0));
    return 0;
}
