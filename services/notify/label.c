/* label.c - plain-English words for codes. See label.h.
 *
 * The adviser rows follow the evidence service's built-in advisers
 * (services/evidence/advisers.c, SEND Regulations 2014 reg 6(1) and reg 7);
 * the clock rows follow the timers' clock table (services/timers/rules.c,
 * docs/clocks.md). A code missing here is not an error: it is written as
 * words, so a configured adviser or local milestone still reads sensibly. */
#include <stdio.h>
#include <string.h>
#include "label.h"

typedef struct adviser_label {
    const char *code;
    const char *who;    /* for a parent: who is asked */
    const char *advice; /* what they give */
    const char *staff;  /* for a caseworker: who is asked */
    int asks_parent;    /* the request goes to the parent */
} adviser_label;

static const adviser_label adviser_labels[] = {
    {"parent", "you", "your own advice and information", "the parent or young person", 1},
    {"educational", "the school or nursery", "educational advice", "the school or nursery",
     0},
    {"medical", "a health professional", "medical advice", "a health professional", 0},
    {"psychological", "an educational psychologist", "psychological advice",
     "an educational psychologist", 0},
    {"social_care", "the social care team", "social care advice", "the social care team", 0},
    {"child_views", "you", "your child's views, wishes and feelings",
     "the child, through the parent", 1},
};

typedef struct clock_label {
    const char *code;
    const char *what;   /* the step, for a caseworker */
    const char *source; /* where the time limit comes from */
} clock_label;

static const clock_label clock_labels[] = {
    {"decision_to_assess", "Decide whether to assess", "reg 5(1)"},
    {"advice", "Advice", "reg 8(1)"},
    {"no_plan_notice", "Decide whether to issue a plan", "reg 10(1)"},
    {"final_plan", "Issue the final EHC plan", "reg 13(2)"},
    {"draft_response", "Parent's 15 days to comment on the draft plan", "reg 13(1)"},
    {"school_consultation", "School's reply on being named", "CoP 9.83"},
    {"annual_review", "Annual review of the plan", "CFA 2014 s.44"},
    {"review_report", "Report after the review meeting", "reg 20(8)"},
    {"review_decision", "Decision after the review", "reg 20(10)"},
    {"amended_plan", "Issue the amended plan", "reg 22(3)"},
    {"phase_transfer", "Review and amend before the phase transfer", "reg 18"},
    {"sen_support_review", "SEN Support review", "CoP 6.65"},
    {"appeal_window", "Parent's time to appeal", "HESC Rules 2008 r.20"},
    {"mediation_window", "Parent's time to contact mediation", "reg 33"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const adviser_label *adviser_find(const char *code) {
    for (size_t i = 0; i < COUNT(adviser_labels); i++)
        if (strcmp(adviser_labels[i].code, code) == 0) return &adviser_labels[i];
    return NULL;
}

/* A code as words: "speech_language" -> "speech language". */
static char *code_words(const char *code, char *buf, size_t size) {
    size_t i = 0;
    if (!size) return buf;
    for (; code[i] && i + 1 < size; i++) buf[i] = code[i] == '_' ? ' ' : code[i];
    buf[i] = '\0';
    return buf;
}

char *notify_label_advice(const char *adviser, char *buf, size_t size) {
    const adviser_label *a = adviser_find(adviser);
    char words[96];
    if (a)
        snprintf(buf, size, "%s", a->advice);
    else
        snprintf(buf, size, "%s advice", code_words(adviser, words, sizeof(words)));
    return buf;
}

char *notify_label_adviser(const char *adviser, char *buf, size_t size) {
    const adviser_label *a = adviser_find(adviser);
    if (a) {
        snprintf(buf, size, "%s", a->who);
        return buf;
    }
    return code_words(adviser, buf, size);
}

int notify_label_asks_parent(const char *adviser) {
    const adviser_label *a = adviser_find(adviser);
    return a && a->asks_parent;
}

char *notify_label_adviser_list(const char *advisers, char *buf, size_t size) {
    char code[64], who[96], advice[128];
    size_t used = 0;
    const char *p = advisers;
    if (!size) return buf;
    buf[0] = '\0';
    while (*p) {
        size_t n = strcspn(p, ",");
        snprintf(code, sizeof(code), "%.*s", (int)n, p);
        p += n + (p[n] == ',');
        if (!*code || notify_label_asks_parent(code)) continue;
        int w = snprintf(buf + used, size - used, "%s- %s: %s", used ? "\n" : "",
                         notify_label_adviser(code, who, sizeof(who)),
                         notify_label_advice(code, advice, sizeof(advice)));
        if (w < 0 || (size_t)w >= size - used) break; /* cut short: keep what fits */
        used += (size_t)w;
    }
    if (!used) snprintf(buf, size, "- nobody else");
    return buf;
}

char *notify_label_clock(const char *clock, const char *qualifier, char *buf,
                         size_t size) {
    char words[96], q[128] = "";
    const clock_label *c = NULL;
    for (size_t i = 0; i < COUNT(clock_labels); i++)
        if (strcmp(clock_labels[i].code, clock) == 0) c = &clock_labels[i];
    const adviser_label *a = qualifier ? adviser_find(qualifier) : NULL;
    if (qualifier && strcmp(clock, "advice") == 0)
        snprintf(q, sizeof(q), " from %s", a ? a->staff : code_words(qualifier, words,
                                                                       sizeof(words)));
    else if (qualifier && strcmp(clock, "school_consultation") == 0)
        snprintf(q, sizeof(q), ", school URN %s", qualifier);
    else if (qualifier)
        snprintf(q, sizeof(q), ", %s", qualifier);
    if (c)
        snprintf(buf, size, "%s%s (%s)", c->what, q, c->source);
    else /* a local milestone the authority configured */
        snprintf(buf, size, "Local milestone: %s%s", code_words(clock, words,
                                                                 sizeof(words)), q);
    return buf;
}

/* The decisions a mediation certificate can be about (intake's
 * mediation_certificate command, "about"). */
static const struct {
    const char *type, *words;
} decision_labels[] = {
    {"decision.not_assess", "our decision not to carry out an EHC needs assessment"},
    {"decision.not_issue_plan", "our decision not to write an EHC plan"},
    {"final_plan.issued", "the final EHC plan"},
    {"amended_plan.issued", "the amended EHC plan"},
    {"review.decision", "our decision after the annual review"},
    {"case.closed", "our decision to stop the EHC plan"},
};

char *notify_label_decision(const char *type, char *buf, size_t size) {
    for (size_t i = 0; i < COUNT(decision_labels); i++)
        if (strcmp(decision_labels[i].type, type) == 0) {
            snprintf(buf, size, "%s", decision_labels[i].words);
            return buf;
        }
    snprintf(buf, size, "our decision (%s)", type);
    for (char *p = buf; *p; p++)
        if (*p == '_' || *p == '.') *p = ' ';
    return buf;
}
