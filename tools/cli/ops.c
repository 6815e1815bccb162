/* ops.c - the ops read API as terminal tables.
 *
 * `sendpath overdue` follows GET /v1/deadlines page by page (by cursor) and
 * prints every row, most overdue first, as the dashboard lists them;
 * `sendpath stats` prints GET /v1/stats/timeliness, or its CSV unchanged
 * with --csv. Filters go to the API as they are: the API checks them, and
 * its 400 (naming the parameter) is shown as it came. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include <curl/curl.h>
#include "http_client.h"
#include "ops.h"

/* Appends "&name=value" (value URL-encoded) to url. */
static void query_add(char *url, size_t size, const char *name, const char *value) {
    char *enc = curl_easy_escape(NULL, value, 0);
    size_t n = strlen(url);
    snprintf(url + n, size - n, "%s%s=%s", strchr(url, '?') ? "&" : "?", name,
             enc ? enc : "");
    curl_free(enc);
}

/* GET url; on success *out is the parsed body (JSON) or NULL (text) and res
 * holds the text. Prints why and returns 1 otherwise. */
static int ops_get(const char *url, cli_response *res) {
    if (cli_http("GET", url, NULL, 0, NULL, 10000, res)) {
        fprintf(stderr, "sendpath: %s\n", res->error);
        return 1;
    }
    if (res->status != 200) {
        fprintf(stderr, "sendpath: ops answered %ld\n%s\n", res->status, res->body);
        return 1;
    }
    return 0;
}

static const char *jstr(const cJSON *o, const char *name) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
    return s && *s ? s : "-";
}

static int jint(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static void overdue_row(const cJSON *r) {
    char left[32];
    if (!strcmp(jstr(r, "state"), "overdue"))
        snprintf(left, sizeof(left), "%d days overdue", jint(r, "days_overdue"));
    else
        snprintf(left, sizeof(left), "%d wd left", jint(r, "working_days_left"));
    printf("%-28s %-8s %-20s %-10s %16s %-12s %-6s%s\n", jstr(r, "case_id"), jstr(r, "child"),
           jstr(r, "clock"), jstr(r, "due_date"), left, jstr(r, "team"), jstr(r, "school_urn"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "excepted")) ? " (exception)" : "");
}

static const char *const overdue_flags[] = {"--clock", "--team", "--school", "--state", NULL};

int cli_overdue(const char *ops_url, int argc, char **argv) {
    char base[2048], url[2600];
    const char *state = "overdue";
    cli_response res;
    long total = 0;
    snprintf(base, sizeof(base), "%s/v1/deadlines?limit=200", ops_url);
    for (int i = 0; i < argc; i++) {
        int known = 0;
        for (int f = 0; overdue_flags[f]; f++)
            if (!strcmp(argv[i], overdue_flags[f]) && i + 1 < argc) {
                if (f == 3) state = argv[i + 1];
                else query_add(base, sizeof(base), argv[i] + 2, argv[i + 1]);
                known = 1;
            }
        if (!known) {
            fprintf(stderr, "usage: sendpath overdue [--clock C] [--team T] [--school URN] "
                            "[--state overdue|approaching|open|all]\n");
            return 2;
        }
        i++;
    }
    if (strcmp(state, "all")) query_add(base, sizeof(base), "state", state);
    snprintf(url, sizeof(url), "%s", base);
    printf("%-28s %-8s %-20s %-10s %16s %-12s %-6s\n", "CASE", "CHILD", "CLOCK", "DUE",
           "OVERDUE/LEFT", "TEAM", "SCHOOL");
    for (;;) {
        if (ops_get(url, &res)) return free(res.body), 1;
        cJSON *page = cJSON_Parse(res.body), *r;
        free(res.body);
        if (!page) return fprintf(stderr, "sendpath: ops sent something not JSON\n"), 1;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(page, "rows")) overdue_row(r);
        total = (long)jint(page, "total");
        const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(page, "next_cursor"));
        if (next) {
            snprintf(url, sizeof(url), "%s", base);
            query_add(url, sizeof(url), "cursor", next);
        }
        cJSON_Delete(page);
        if (!next) break;
    }
    printf("%ld deadline%s\n", total, total == 1 ? "" : "s");
    return 0;
}

static void stats_cell(const cJSON *m, const char *name, int pct) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);
    if (!cJSON_IsNumber(v)) printf(" %9s", "-");
    else if (pct) printf(" %8.1f%%", v->valuedouble);
    else printf(" %9g", v->valuedouble);
}

static void stats_line(const char *label, const cJSON *m) {
    printf("%-8s", label);
    stats_cell(m, "requests_decided", 0);
    stats_cell(m, "pct_decided_within_6_weeks", 1);
    stats_cell(m, "plans_issued", 0);
    stats_cell(m, "pct_within_20_weeks_excluding_exceptions", 1);
    stats_cell(m, "pct_within_20_weeks_including_exceptions", 1);
    stats_cell(m, "mean_weeks_to_issue", 0);
    stats_cell(m, "plans_over_52_weeks", 0);
    stats_cell(m, "annual_reviews_overdue", 0);
    putchar('\n');
}

int cli_stats(const char *ops_url, int argc, char **argv) {
    const char *from = NULL, *to = NULL;
    int csv = 0;
    char url[1024];
    cli_response res;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--from") && i + 1 < argc) from = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) to = argv[++i];
        else if (!strcmp(argv[i], "--csv")) csv = 1;
        else from = to = NULL, i = argc;
    }
    if (!from || !to) {
        fprintf(stderr, "usage: sendpath stats --from YYYY-MM-DD --to YYYY-MM-DD [--csv]\n");
        return 2;
    }
    snprintf(url, sizeof(url), "%s/v1/stats/timeliness", ops_url);
    query_add(url, sizeof(url), "from", from);
    query_add(url, sizeof(url), "to", to);
    if (csv) query_add(url, sizeof(url), "format", "csv");
    if (ops_get(url, &res)) return free(res.body), 1;
    if (csv) {
        fputs(res.body, stdout);
        free(res.body);
        return 0;
    }
    cJSON *st = cJSON_Parse(res.body), *m;
    free(res.body);
    if (!st) return fprintf(stderr, "sendpath: ops sent something not JSON\n"), 1;
    printf("SEN2 timeliness %s to %s (as of %s)\n", jstr(st, "from"), jstr(st, "to"),
           jstr(st, "as_of"));
    printf("%-8s %9s %9s %9s %9s %9s %9s %9s %9s\n", "PERIOD", "DECIDED", "<=6W", "ISSUED",
           "<=20W EX", "<=20W ALL", "MEAN WKS", ">52W", "AR LATE");
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(st, "months"))
        stats_line(jstr(m, "month"), m);
    stats_line("total", cJSON_GetObjectItemCaseSensitive(st, "total"));
    cJSON_Delete(st);
    return 0;
}
