/* import.c - `sendpath import FILE`: an existing caseload, loaded so the
 * clocks come out as if sendpath had been there all along.
 *
 * FILE holds JSON lines, one case each:
 *   {"kind": "request", <request fields>, "steps": [{"command": ..., ...}]}
 *   {"kind": "plan", child, contact, school, plan_date, last_review_date, ...}
 *   {"kind": "sen_support", <SEN Support fields>}
 * Each goes through intake's API like any command, with business dates as
 * they happened, so every rule and check applies. A line's idempotency key is
 * derived from its text: running the same file again changes nothing, and a
 * file stopped half way can simply be run again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>
#include <openssl/evp.h>
#include "http_client.h"
#include "import.h"

typedef struct import_counts {
    long cases, steps, refused;
} import_counts;

static const struct {
    const char *kind, *path;
} kinds[] = {{"request", "/v1/requests"}, {"plan", "/v1/plans"},
             {"sen_support", "/v1/sen-support"}};

static void line_key(const char *line, char *out, size_t size) {
    unsigned char md[32];
    unsigned int n = 0;
    size_t o = (size_t)snprintf(out, size, "import:");
    EVP_Digest(line, strlen(line), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 16 && o + 2 < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%02x", md[i]);
}

/* POSTs body; counts the outcome; returns the case id (new string) or NULL. */
static char *post(const char *base, const char *path, cJSON *body, long lineno,
                  import_counts *n, int is_step) {
    char url[512], *text = cJSON_PrintUnformatted(body), *case_id = NULL;
    cli_response res;
    int rc;
    snprintf(url, sizeof(url), "%s%s", base, path);
    /* Over intake's request rate (http.rate_limit) the answer is 429: wait
     * and send the same line again; its idempotency key makes that safe. */
    for (int tries = 0;; tries++) {
        rc = cli_http("POST", url, text, strlen(text), "application/json", 10000, &res);
        if (rc || res.status != 429 || tries == 60) break;
        free(res.body);
        usleep(500 * 1000);
    }
    if (rc) {
        fprintf(stderr, "line %ld: %s\n", lineno, res.error);
        n->refused++;
    } else if (res.status == 201) {
        cJSON *o = cJSON_Parse(res.body);
        case_id = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "case_id")) ?: "");
        cJSON_Delete(o);
        is_step ? n->steps++ : n->cases++;
    } else {
        fprintf(stderr, "line %ld: %ld %s\n", lineno, res.status, res.body);
        n->refused++;
    }
    free(res.body);
    cJSON_free(text);
    return case_id;
}

static int import_line(const char *base, char *line, long lineno, import_counts *n) {
    char key[80], path[160], skey[96];
    cJSON *o = cJSON_Parse(line), *steps, *st;
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), *where = NULL;
    for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kinds[i].kind, kind)) where = kinds[i].path;
    if (!cJSON_IsObject(o) || !where) {
        fprintf(stderr, "line %ld: not a JSON object with kind request, plan or sen_support\n",
                lineno);
        n->refused++;
        cJSON_Delete(o);
        return -1;
    }
    line_key(line, key, sizeof(key));
    steps = cJSON_DetachItemFromObject(o, "steps");
    cJSON_DeleteItemFromObject(o, "kind");
    if (!cJSON_GetObjectItem(o, "idempotency_key")) cJSON_AddStringToObject(o, "idempotency_key", key);
    char *case_id = post(base, where, o, lineno, n, 0);
    int i = 0;
    cJSON_ArrayForEach(st, steps) {
        if (!case_id || !*case_id) break;
        snprintf(skey, sizeof(skey), "%s/%d", key, i++);
        if (!cJSON_GetObjectItem(st, "idempotency_key"))
            cJSON_AddStringToObject(st, "idempotency_key", skey);
        snprintf(path, sizeof(path), "/v1/cases/%s/commands", case_id);
        free(post(base, path, st, lineno, n, 1));
    }
    free(case_id);
    cJSON_Delete(steps);
    cJSON_Delete(o);
    return 0;
}

int cli_import(const char *intake_url, const char *file) {
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    import_counts n = {0};
    if (!f) {
        fprintf(stderr, "sendpath import: cannot open %s\n", file);
        return 1;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (*line == '\0' || *line == '#') continue;
        import_line(intake_url, line, lineno, &n);
    }
    free(line);
    if (f != stdin) fclose(f);
    printf("imported %ld cases and %ld later steps from %ld lines; %ld refused\n", n.cases,
           n.steps, lineno, n.refused);
    return n.refused ? 1 : 0;
}
