/* main.c - sendpath-evidence: advice requested from professionals, and their
 * returns.
 *
 * Consumes case events: request.received tells it whom to write to, and
 * decision.assess makes it ask every selected adviser (reg 6), announcing
 * each request as advice.requested so timers starts the 6-week clock of reg
 * 8(1) and notify sends the request (apply.c). Returns come in over HTTP
 * (api.c) or as advice.returned from intake (apply.c), are recorded the same
 * way (returns.c), and go out as advice.received, then evidence.complete when
 * the last is in. Here: the config table, the adviser registry built from it at
 * start-up (a bad row stops the service, naming the key), and the wiring. */
#include <stdio.h>
#include <stdlib.h>
#include "erase.h"
#include "evidence.h"
#include "log.h"

#define E(f) offsetof(evidence_conf, f)
static const sp_conf_def evidence_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8102", 0, 65535,
     NULL, "HTTP port of the evidence API"},
    {"advisers", SP_CONF_STRING, E(advisers), evidence_advisers_default, 0, 0, NULL,
     "Advisers asked when the authority decides to assess, comma-separated: parent, "
     "educational, medical, psychological, social_care, child_views, and any "
     "named in advisers.extra"},
    {"advisers.extra", SP_CONF_STRING, E(advisers_extra), "", 0, 0, NULL,
     "Other advisers (reg 6(1)(f)) and where to ask them: name=email[,name=email]"},
    {"team.educational", SP_CONF_STRING, E(team_educational), "send-education@la.example",
     0, 0, NULL, "Educational advice for a child with no school (or no SENCO address)"},
    {"team.medical", SP_CONF_STRING, E(team_medical), "health-send@nhs.example", 0, 0, NULL,
     "Medical advice: the health team's address (designated clinical officer)"},
    {"team.psychological", SP_CONF_STRING, E(team_psychological),
     "educational-psychology@la.example", 0, 0, NULL,
     "Psychological advice: the educational psychology service's address"},
    {"team.social_care", SP_CONF_STRING, E(team_social_care), "social-care@la.example", 0, 0,
     NULL, "Social care advice: the social care team's address"},
    {"idempotency.ttl_s", SP_CONF_INT, E(idem_ttl_s), "7776000", 60, 315360000, NULL,
     "How long a return's idempotency key is remembered (s)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* Which config row holds which adviser's team address. */
static const struct {
    const char *adviser;
    size_t offset;
} evidence_team_rows[] = {
    {"educational", E(team_educational)},
    {"medical", E(team_medical)},
    {"psychological", E(team_psychological)},
    {"social_care", E(team_social_care)},
};
#undef E

static int evidence_registry(evidence_advisers *a, const evidence_conf *conf, char *errstr,
                             size_t size) {
    evidence_advisers_init(a);
    for (size_t i = 0; i < sizeof(evidence_team_rows) / sizeof(evidence_team_rows[0]); i++) {
        const char *email = *(char *const *)((const char *)conf + evidence_team_rows[i].offset);
        if (evidence_advisers_set_team(a, evidence_team_rows[i].adviser, email, errstr, size))
            return -1;
    }
    if (evidence_advisers_add_extra(a, conf->advisers_extra, errstr, size) ||
        evidence_advisers_select(a, conf->advisers, errstr, size))
        return -1;
    for (int i = 0; i < a->count; i++)
        if (!evidence_advisers_is_selected(a, i))
            sp_warn("evidence: adviser %s is not in evidence.advisers: not asked", a->all[i].name);
    return 0;
}

static int evidence_init(sp_service *s, char *errstr, size_t size) {
    evidence_state *es = calloc(1, sizeof(*es));
    if (!es) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    s->priv = es;
    if (evidence_registry(&es->advisers, s->conf, errstr, size)) return -1;
    evidence_api_register(s);
    sp_info("evidence: %d advisers asked on a decision to assess", es->advisers.nselected);
    return 0;
}

static void evidence_fini(sp_service *s) {
    free(s->priv);
    s->priv = NULL;
}

static const int evidence_topics[] = {SP_TOPIC_CASE_EVENTS, -1};

static const sp_service_def evidence_def = {
    .name = "evidence",
    .conf_size = sizeof(evidence_conf),
    .conf_table = evidence_conf_table,
    .consume = evidence_topics,
    /* Every key is one case's, on its partition's server (sp_service_redis_of). */
    .redis_by_partition = 1,
    .init = evidence_init,
    .on_batch = evidence_apply_batch,
    .fini = evidence_fini,
    .erase = evidence_erase,
};

int main(int argc, char **argv) { return sp_service_main(&evidence_def, argc, argv); }
