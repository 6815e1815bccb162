/* layout.c - slots in layout 1 and layout 2. See layout.h. */
#include <stdio.h>
#include <string.h>
#include "layout.h"

/* Built-in clocks (rules.c) and their codes. Append only: a stored slot
 * keeps its code for as long as the clock is armed. */
static const struct {
    const char *clock, *code;
} codes[] = {
    {"decision_to_assess", "A"}, {"advice", "B"},         {"no_plan_notice", "C"},
    {"final_plan", "D"},         {"draft_response", "E"}, {"school_consultation", "F"},
    {"annual_review", "G"},      {"review_report", "H"},  {"review_decision", "I"},
    {"amended_plan", "J"},       {"phase_transfer", "K"}, {"sen_support_review", "L"},
    {"appeal_window", "M"},      {"mediation_window", "N"},
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))
#define CASE_PREFIX "c_"

static int write_layout = 2;

void timers_layout_set(int layout) { write_layout = layout; }
int timers_layout_get(void) { return write_layout; }

const char *timers_layout_code(const char *clock) {
    for (size_t i = 0; i < NCODES; i++)
        if (!strcmp(codes[i].clock, clock)) return codes[i].code;
    return NULL;
}

/* The clock named by code (len bytes), or NULL. */
static const char *code_clock(const char *code, size_t len) {
    for (size_t i = 0; i < NCODES; i++)
        if (strlen(codes[i].code) == len && !memcmp(codes[i].code, code, len))
            return codes[i].clock;
    return NULL;
}

const char *timers_layout_case(const char *case_id) {
    return strncmp(case_id, CASE_PREFIX, 2) ? case_id : case_id + 2;
}

static int put(char *out, size_t size, int n) {
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int timers_layout_store(const char *slot, char *out, size_t size) {
    const char *a = strchr(slot, ':');
    if (write_layout < 2 || !a || strncmp(slot, CASE_PREFIX, 2)) return put(out, size, snprintf(out, size, "%s", slot));
    const char *b = strchr(a + 1, ':');
    size_t clen = b ? (size_t)(b - a - 1) : strlen(a + 1);
    char clock[64];
    if (clen >= sizeof(clock)) return put(out, size, snprintf(out, size, "%s", slot));
    memcpy(clock, a + 1, clen);
    clock[clen] = '\0';
    const char *code = timers_layout_code(clock);
    if (!code) return put(out, size, snprintf(out, size, "%s", slot));
    return put(out, size, snprintf(out, size, "%.*s:%s%s", (int)(a - slot - 2), slot + 2, code,
                                   b ? b : ""));
}

int timers_layout_slot(const char *stored, char *out, size_t size) {
    const char *a = strchr(stored, ':');
    if (!a || !strncmp(stored, CASE_PREFIX, 2))
        return put(out, size, snprintf(out, size, "%s", stored));
    const char *b = strchr(a + 1, ':');
    const char *clock = code_clock(a + 1, b ? (size_t)(b - a - 1) : strlen(a + 1));
    if (!clock) return put(out, size, snprintf(out, size, "%s", stored));
    return put(out, size, snprintf(out, size, CASE_PREFIX "%.*s:%s%s", (int)(a - stored), stored,
                                   clock, b ? b : ""));
}
