/* main.c - `sendpath`, the command line for people and scripts.
 *
 * A table of subcommands, each a small function over the services' HTTP APIs.
 * Where each service listens comes from the environment (SENDPATH_<SVC>_URL)
 * with the local stack's ports as defaults, so the same commands work against
 * `make up` and a deployed stack. Exit codes: 0 done, 1 the service said no
 * or could not be reached, 2 usage. SENDPATH_TOKEN is the bearer token sent
 * with every call (docs/security.md); SENDPATH_CA_FILE a CA bundle to trust
 * for https:// service URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "http_client.h"
#include "import.h"
#include "ops.h"
#include "token.h"

typedef struct cli_service {
    const char *name;
    const char *env;
    const char *default_url;
} cli_service;

static const cli_service services[] = {
    {"intake", "SENDPATH_INTAKE_URL", "http://127.0.0.1:8101"},
    {"evidence", "SENDPATH_EVIDENCE_URL", "http://127.0.0.1:8102"},
    {"timers", "SENDPATH_TIMERS_URL", "http://127.0.0.1:8103"},
    {"notify", "SENDPATH_NOTIFY_URL", "http://127.0.0.1:8104"},
    {"ops", "SENDPATH_OPS_URL", "http://127.0.0.1:8105"},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

static const char *service_url(const char *name) {
    for (size_t i = 0; i < N_SERVICES; i++) {
        if (strcmp(services[i].name, name) != 0) continue;
        const char *e = getenv(services[i].env);
        return e && *e ? e : services[i].default_url;
    }
    return NULL;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char *buf = NULL;
    size_t cap = 0, n;
    *len = 0;
    if (!f) return NULL;
    do {
        if (*len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        n = fread(buf + *len, 1, cap - *len - 1, f);
        *len += n;
    } while (n > 0);
    if (f != stdin) fclose(f);
    if (buf) buf[*len] = '\0';
    return buf;
}

/* Prints an answer body and maps the status to an exit code. */
static int print_answer(const cli_response *res) {
    fputs(res->body, stdout);
    if (res->len && res->body[res->len - 1] != '\n') putchar('\n');
    return res->status >= 200 && res->status < 300 ? 0 : 1;
}

static int cmd_request(int argc, char **argv) {
    const char *file = NULL;
    char url[512];
    cli_response res;
    size_t len;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--file") && i + 1 < argc) file = argv[++i];
    if (!file) {
        fprintf(stderr, "usage: sendpath request --file FILE.json  (- for stdin)\n");
        return 2;
    }
    char *body = read_file(file, &len);
    if (!body) {
        fprintf(stderr, "sendpath: cannot read %s\n", file);
        return 1;
    }
    snprintf(url, sizeof(url), "%s/v1/requests", service_url("intake"));
    int rc = cli_http("POST", url, body, len, "application/json", 10000, &res);
    free(body);
    if (rc) {
        fprintf(stderr, "sendpath: %s\n", res.error);
        free(res.body);
        return 1;
    }
    rc = print_answer(&res);
    free(res.body);
    return rc;
}

static int cmd_status(int argc, char **argv) {
    int down = 0;
    char url[512];
    printf("%-10s %-28s %s\n", "SERVICE", "URL", "STATE");
    for (size_t i = 0; i < N_SERVICES; i++) {
        cli_response res;
        const char *base = service_url(services[i].name);
        snprintf(url, sizeof(url), "%s/readyz", base);
        int rc = cli_http("GET", url, NULL, 0, NULL, 2000, &res);
        const char *state = rc ? "unreachable" : res.status == 200 ? "ready" : "not ready";
        down += res.status != 200;
        printf("%-10s %-28s %s\n", services[i].name, base, state);
        free(res.body);
    }
    return down ? 1 : 0;
}

static int cmd_case(int argc, char **argv) {
    char url[512];
    cli_response res;
    if (argc < 1) {
        fprintf(stderr, "usage: sendpath case CASE_ID\n");
        return 2;
    }
    snprintf(url, sizeof(url), "%s/v1/cases/%s", service_url("ops"), argv[0]);
    int rc = cli_http("GET", url, NULL, 0, NULL, 5000, &res);
    if (rc) fprintf(stderr, "sendpath: %s\n", res.error);
    else rc = print_answer(&res);
    free(res.body);
    return rc;
}

static int cmd_import(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: sendpath import FILE.jsonl  (- for stdin)\n");
        return 2;
    }
    return cli_import(service_url("intake"), argv[0]);
}

static int cmd_overdue(int argc, char **argv) {
    return cli_overdue(service_url("ops"), argc, argv);
}

static int cmd_stats(int argc, char **argv) {
    return cli_stats(service_url("ops"), argc, argv);
}

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} cli_command;

static const cli_command commands[] = {
    {"request", cmd_request, "request --file F.json   submit a request for an EHC needs assessment"},
    {"status", cmd_status, "status                  show whether each service is ready"},
    {"case", cmd_case, "case CASE_ID            show a case with its timeline and clocks"},
    {"overdue", cmd_overdue, "overdue [--clock C] [--team T] [--school URN] [--state S]\n"
     "                          list deadlines, most overdue first (state: overdue,\n"
     "                          approaching, open or all)"},
    {"stats", cmd_stats, "stats --from D --to D [--csv]  SEN2 timeliness, by month"},
    {"import", cmd_import, "import FILE.jsonl       load an existing caseload (see docs/integration.md)"},
    {"token", cli_token, "token new --name N --scope S[,S]  a new API token and its line for auth.tokens_file"},
};

static void usage(void) {
    fprintf(stderr, "usage: sendpath COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(stderr, "  %s\n", commands[i].help);
    fprintf(stderr, "\nService URLs: SENDPATH_INTAKE_URL, SENDPATH_OPS_URL, ... "
                    "(default http://127.0.0.1:8101..8105)\n"
                    "Bearer token: SENDPATH_TOKEN; CA bundle for https: SENDPATH_CA_FILE\n");
}

int main(int argc, char **argv) {
    int rc = -1;
    if (argc < 2) {
        usage();
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cli_http_set_token(getenv("SENDPATH_TOKEN"));
    cli_http_set_ca_file(getenv("SENDPATH_CA_FILE"));
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) rc = commands[i].run(argc - 2, argv + 2);
    curl_global_cleanup();
    if (rc == -1) {
        fprintf(stderr, "sendpath: unknown command '%s'\n", argv[1]);
        usage();
        return 2;
    }
    return rc;
}
