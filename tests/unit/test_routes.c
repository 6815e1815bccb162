/* test_routes.c - notify's routing table against the shipped templates
 * (services/notify/route.c, contact.c, fact.c, label.c; templates/).
 *
 * Table-driven like the module: every row is bound to its template (a
 * template asking for a placeholder its row does not supply stops the
 * service), every template has a row, and every row renders from an event
 * and a case built for it with no "((" left and every date written long
 * ("Monday 4 January 2027"), never as YYYY-MM-DD. Then the conditions (who
 * gets what), the joined facts, the recipients and the formats one by one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contact.h"
#include "dates.h"
#include "fact.h"
#include "label.h"
#include "route.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static sp_templates shipped;

static int load_shipped(void **state) {
    char err[256] = "";
    (void)state;
    if (sp_templates_load_dir(&shipped, SP_SOURCE_DIR "/templates", err, sizeof(err)))
        fail_msg("templates/: %s", err);
    return 0;
}

static int free_shipped(void **state) {
    (void)state;
    sp_templates_free(&shipped);
    return 0;
}

/* ---- building events and cases --------------------------------------------- */

static void event_make(sp_event *ev, const char *type, cJSON *data) {
    char err[256] = "";
    char *text = sp_event_build_text("c_01M83ZVG008Q4VZ7M2N5P6R9S3/test/1", "/test", type,
                                     1798000000000LL, "c_01M83ZVG008Q4VZ7M2N5P6R9S3", data);
    assert_non_null(text);
    memset(ev, 0, sizeof(*ev));
    if (sp_event_parse(text, strlen(text), ev, err, sizeof(err))) fail_msg("%s", err);
    cJSON_free(text);
}

/* Every data field any row reads, with known values. */
static cJSON *data_full(void) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "case_id", "c_01M83ZVG008Q4VZ7M2N5P6R9S3");
    cJSON_AddStringToObject(d, "date", "2026-12-10");
    cJSON_AddStringToObject(d, "started_on", "2026-11-23");
    cJSON_AddStringToObject(d, "due_date", "2027-01-04");
    cJSON_AddStringToObject(d, "meeting_date", "2027-03-01");
    cJSON_AddStringToObject(d, "decision_date", "2026-11-16");
    cJSON_AddStringToObject(d, "about", "decision.not_assess");
    cJSON_AddStringToObject(d, "reasons", "Needs can be met at SEN Support.");
    cJSON_AddStringToObject(d, "clock", "final_plan");
    cJSON_AddStringToObject(d, "qualifier", "educational");
    cJSON_AddStringToObject(d, "adviser", "educational");
    cJSON_AddNumberToObject(d, "working_days_left", 10);
    cJSON_AddNumberToObject(d, "days_overdue", 8);
    cJSON_AddNumberToObject(d, "seq", 0);
    return d;
}

/* data_full, with each IS condition of r made true. */
static void event_for_route(sp_event *ev, const notify_route *r) {
    cJSON *d = data_full();
    for (size_t i = 0; i < NOTIFY_WHEN_MAX; i++) {
        const notify_when *w = &r->when[i];
        char first[64];
        if (!w->field || w->op != NOTIFY_IS) continue;
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(w->values, "|"), w->values);
        cJSON_DeleteItemFromObjectCaseSensitive(d, w->field);
        if (isdigit((unsigned char)first[0]))
            cJSON_AddNumberToObject(d, w->field, atoi(first));
        else
            cJSON_AddStringToObject(d, w->field, first);
    }
    event_make(ev, r->event_type, d);
}

/* A case with every field known, joined ones included. */
static void contact_full(notify_contact *c) {
    static const char *const values[][2] = {
        {"contact_name", "Ngozi Okafor"}, {"contact_email", "ngozi.okafor@example.org"},
        {"channel", "email"}, {"language", "en"}, {"child_name", "Amara"},
        {"child_family_name", "Okafor"}, {"child_date_of_birth", "2017-05-14"},
        {"school_name", "Hillside Primary School"},
        {"senco_email", "senco@hillside.example.sch.uk"},
        {"adviser_email", "senco@hillside.example.sch.uk"},
        {"advisers_asked", "parent,educational,medical,child_views"},
        {"advice_due_date", "2027-01-21"}, {"appeal_last_date", "2027-02-10"},
        {"mediation_last_date", "2027-02-11"}, {"no_plan_date", "2027-03-15"},
        {"annual_review_date", "2028-01-24"},
        {"consulted_senco_email", "senco@hillside.example.sch.uk"},
        {"caseworker_email", "send-team@la.example"},
    };
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < LEN(values); i++)
        assert_int_equal(notify_contact_set(c, values[i][0], values[i][1]), 0);
}

/* Renders row r for ev and c; fails the test on any error. */
static void render_row(size_t row, const sp_event *ev, const notify_contact *c,
                       const sp_template *t, char **subject, char **body) {
    static notify_values v;
    char err[256] = "";
    const notify_route *r = &notify_routes[row];
    if (notify_route_check_event(r, ev, err, sizeof(err)) ||
        notify_route_values(r, ev, c, &v, err, sizeof(err)) ||
        sp_template_render(t, v.vars, v.n, subject, body, err, sizeof(err)))
        fail_msg("route %zu (%s): %s", row, r->template_name, err);
}

/* 1 if s holds a YYYY-MM-DD date. */
static int has_iso_date(const char *s) {
    for (; *s; s++) {
        int ok = 1;
        for (int i = 0; i < 10 && ok; i++)
            ok = s[i] && (i == 4 || i == 7 ? s[i] == '-' : isdigit((unsigned char)s[i]));
        if (ok) return 1;
    }
    return 0;
}

/* ---- the table and the templates --------------------------------------------- */

static void test_every_route_binds(void **state) {
    const sp_template *bound[64];
    char err[512] = "";
    (void)state;
    assert_true(notify_routes_count <= LEN(bound));
    if (notify_routes_bind(&shipped, bound, err, sizeof(err))) fail_msg("%s", err);
    for (size_t i = 0; i < notify_routes_count; i++) {
        assert_non_null(bound[i]);
        assert_string_equal(bound[i]->name, notify_routes[i].template_name);
    }
    assert_int_equal(notify_facts_check(err, sizeof(err)), 0);
}

static void test_every_template_has_a_route(void **state) {
    (void)state;
    for (size_t t = 0; t < shipped.count; t++) {
        size_t i = 0;
        /* the daily digest is sent by digest.c, not by a route */
        if (!strcmp(shipped.items[t]->name, "caseworker_digest")) continue;
        while (i < notify_routes_count &&
               strcmp(notify_routes[i].template_name, shipped.items[t]->name))
            i++;
        if (i == notify_routes_count)
            fail_msg("templates/%s.txt has no route", shipped.items[t]->name);
    }
}

/* Every row, from an event made for it: it matches, renders with no "((",
 * writes every date long, and finds its recipient. */
static void test_every_route_renders(void **state) {
    const sp_template *bound[64];
    char err[512] = "";
    notify_contact c;
    (void)state;
    assert_int_equal(notify_routes_bind(&shipped, bound, err, sizeof(err)), 0);
    contact_full(&c);
    for (size_t i = 0; i < notify_routes_count; i++) {
        const notify_route *r = &notify_routes[i];
        sp_event ev;
        char *subject = NULL, *body = NULL;
        notify_recipient to;
        event_for_route(&ev, r);
        if (!notify_route_matches(r, &ev)) fail_msg("route %zu does not match", i);
        render_row(i, &ev, &c, bound[i], &subject, &body);
        if (strstr(subject, "((") || strstr(body, "(("))
            fail_msg("route %zu (%s) leaves a placeholder", i, r->template_name);
        if (has_iso_date(subject) || has_iso_date(body))
            fail_msg("route %zu (%s) writes a date as YYYY-MM-DD:\n%s\n%s", i,
                     r->template_name, subject, body);
        for (size_t k = 0; k < NOTIFY_ROUTE_VARS_MAX && r->vars[k].name; k++) {
            char want[48];
            sp_date d;
            const notify_var *v = &r->vars[k];
            const char *raw = v->from == NOTIFY_FROM_EVENT ? sp_event_str(&ev, v->field)
                                                           : notify_contact_get(&c, v->field);
            if (v->as != NOTIFY_AS_DATE_LONG) continue;
            assert_int_equal(sp_date_parse(raw, &d), 0);
            d = sp_date_add_days(sp_date_add_months(d, v->add_months), v->add_days);
            sp_date_long(d, want, sizeof(want));
            if (!strstr(subject, want) && !strstr(body, want))
                fail_msg("route %zu (%s): ((%s)) not written as '%s'", i, r->template_name,
                         v->name, want);
        }
        assert_int_equal(notify_route_recipient(r, &c, &to), 0);
        assert_string_equal(to.role, r->role);
        assert_non_null(to.email);
        free(subject);
        free(body);
        sp_event_free(&ev);
    }
    notify_contact_free(&c);
}

static void test_bind_refuses_a_placeholder_not_supplied(void **state) {
    const sp_template *bound[64];
    sp_template *items[64];
    sp_templates set = {items, shipped.count};
    char err[512] = "";
    const char text[] = "Subject: About ((child_name))\n\nYour ((bank_details)) please.";
    sp_template *bad = sp_template_parse("decision_not_to_assess", text, strlen(text), err,
                                         sizeof(err));
    (void)state;
    assert_non_null(bad);
    assert_true(shipped.count <= LEN(items));
    for (size_t i = 0; i < shipped.count; i++)
        items[i] = strcmp(shipped.items[i]->name, "decision_not_to_assess") ? shipped.items[i]
                                                                           : bad;
    assert_int_equal(notify_routes_bind(&set, bound, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "decision_not_to_assess"));
    assert_non_null(strstr(err, "((bank_details))"));
    /* A template missing altogether is refused too. */
    set.count = 0;
    assert_int_equal(notify_routes_bind(&set, bound, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no template file request_received.txt"));
    sp_template_free(bad);
}

/* ---- who gets what ----------------------------------------------------------- */

/* The templates the rows matching (type, data JSON) send, comma-separated. */
static void sent_for(const char *type, const char *data_json, char *out, size_t size) {
    sp_event ev;
    cJSON *d = cJSON_Parse(data_json);
    assert_non_null(d);
    cJSON_AddStringToObject(d, "case_id", "c_01M83ZVG008Q4VZ7M2N5P6R9S3");
    event_make(&ev, type, d);
    out[0] = '\0';
    for (size_t i = 0; i < notify_routes_count; i++)
        if (notify_route_matches(&notify_routes[i], &ev))
            snprintf(out + strlen(out), size - strlen(out), "%s%s:%s", *out ? "," : "",
                     notify_routes[i].role, notify_routes[i].template_name);
    sp_event_free(&ev);
}

static void test_who_gets_what(void **state) {
    static const struct {
        const char *type, *data, *want;
    } rows[] = {
        {"deadline.started", "{\"clock\":\"decision_to_assess\"}", "parent:request_received"},
        {"deadline.started", "{\"clock\":\"final_plan\"}", "parent:decision_to_assess"},
        {"deadline.started", "{\"clock\":\"no_plan_notice\"}", ""},
        {"deadline.started", "{\"clock\":\"appeal_window\"}", ""},
        {"decision.not_assess", "{}", "parent:decision_not_to_assess"},
        {"decision.not_issue_plan", "{}", "parent:decision_not_to_issue"},
        {"decision.assess", "{}", ""},
        {"advice.requested", "{\"adviser\":\"medical\"}", "parent:advice_requested"},
        {"deadline.started", "{\"clock\":\"advice\",\"qualifier\":\"medical\"}",
         "adviser:advice_request"},
        /* the parent's own advice is asked in the parent's letter */
        {"deadline.started", "{\"clock\":\"advice\",\"qualifier\":\"parent\"}", ""},
        {"deadline.started", "{\"clock\":\"advice\",\"qualifier\":\"child_views\"}", ""},
        {"deadline.approaching", "{\"clock\":\"advice\",\"qualifier\":\"educational\"}",
         "adviser:advice_reminder,caseworker:caseworker_deadline_approaching"},
        {"deadline.approaching", "{\"clock\":\"advice\",\"qualifier\":\"parent\"}",
         "caseworker:caseworker_deadline_approaching"},
        {"deadline.overdue", "{\"clock\":\"advice\",\"qualifier\":\"psychological\"}",
         "adviser:advice_overdue,caseworker:caseworker_deadline_overdue"},
        {"deadline.due", "{\"clock\":\"advice\",\"qualifier\":\"medical\"}",
         "caseworker:caseworker_deadline_due"},
        {"deadline.due", "{\"clock\":\"appeal_window\"}", ""},
        {"deadline.due", "{\"clock\":\"mediation_window\"}", ""},
        {"deadline.due", "{\"clock\":\"final_plan\"}", "caseworker:caseworker_deadline_due"},
        {"deadline.started", "{\"clock\":\"draft_response\"}", "parent:draft_plan_served"},
        {"deadline.started", "{\"clock\":\"school_consultation\",\"qualifier\":\"123456\"}",
         "consulted_school:school_consultation"},
        {"final_plan.issued", "{}", "parent:final_plan_issued"},
        {"review.scheduled", "{}", "parent:review_invitation"},
        {"review.decision", "{\"outcome\":\"maintain\"}", "parent:review_decision_maintain"},
        {"review.decision", "{\"outcome\":\"amend\"}", "parent:review_decision_amend"},
        {"review.decision", "{\"outcome\":\"cease\"}", "parent:review_decision_cease"},
        {"deadline.approaching", "{\"clock\":\"sen_support_review\",\"seq\":0}",
         "parent:sen_support_review_reminder,caseworker:caseworker_deadline_approaching"},
        {"deadline.approaching", "{\"clock\":\"sen_support_review\",\"seq\":1}",
         "caseworker:caseworker_deadline_approaching"},
        {"deadline.approaching", "{\"clock\":\"review_report\",\"seq\":0}",
         "school:review_report_due,caseworker:caseworker_deadline_approaching"},
        {"deadline.started", "{\"clock\":\"amended_plan\"}", "parent:amendment_notice"},
        {"amendment_notice.sent", "{}", ""},
        {"amended_plan.issued", "{}", "parent:amended_plan_issued"},
        {"deadline.started", "{\"clock\":\"phase_transfer\"}", "parent:phase_transfer"},
        {"request.withdrawn", "{}", "parent:request_withdrawn"},
        {"case.closed", "{\"reason\":\"ceased\"}", "parent:case_closed_ceased"},
        {"case.closed", "{\"reason\":\"moved_away\"}", "parent:case_closed"},
        {"case.closed", "{\"reason\":\"other\"}", "parent:case_closed"},
        {"mediation_certificate.issued", "{\"about\":\"final_plan.issued\"}",
         "parent:mediation_certificate"},
        {"deadline.met", "{\"clock\":\"advice\"}", ""},
        {"request.received", "{}", ""},
    };
    int failed = 0;
    (void)state;
    for (size_t i = 0; i < LEN(rows); i++) {
        char got[512];
        sent_for(rows[i].type, rows[i].data, got, sizeof(got));
        if (strcmp(got, rows[i].want)) {
            print_error("row %zu: %s %s sends '%s', want '%s'\n", i, rows[i].type,
                        rows[i].data, got, rows[i].want);
            failed = 1;
        }
    }
    assert_false(failed);
}

/* The last day to appeal, written into letters no clock gives it for:
 * 2 months from the letter's date, clamped to the month's end. */
static void test_appeal_dates(void **state) {
    static const struct {
        const char *type, *data, *template_name, *want;
    } rows[] = {
        {"final_plan.issued", "{\"date\":\"2026-11-04\"}", "final_plan_issued",
         "by Monday 4 January 2027"},
        {"review.decision", "{\"date\":\"2026-12-31\",\"outcome\":\"cease\"}",
         "review_decision_cease", "Sunday 28 February 2027"},
        {"review.decision", "{\"date\":\"2027-11-30\",\"outcome\":\"maintain\"}",
         "review_decision_maintain", "Sunday 30 January 2028"},
        {"amended_plan.issued", "{\"date\":\"2027-12-31\"}", "amended_plan_issued",
         "Tuesday 29 February 2028"},
        {"case.closed", "{\"date\":\"2026-11-23\",\"reason\":\"ceased\"}",
         "case_closed_ceased", "The last day to appeal is Saturday 23 January 2027."},
        /* a mediation certificate: the later of the decision's 2 months and
         * the certificate's 1 month; the certificate's here */
        {"mediation_certificate.issued",
         "{\"date\":\"2027-03-19\",\"decision_date\":\"2027-01-30\","
         "\"about\":\"final_plan.issued\"}",
         "mediation_certificate", "The last day to appeal is now Monday 19 April 2027."},
        /* ... and the decision's, clamped to February's end */
        {"mediation_certificate.issued",
         "{\"date\":\"2027-01-10\",\"decision_date\":\"2026-12-31\","
         "\"about\":\"review.decision\"}",
         "mediation_certificate", "The last day to appeal is now Sunday 28 February 2027."},
        {"mediation_certificate.issued",
         "{\"date\":\"2027-01-10\",\"decision_date\":\"2026-12-31\","
         "\"about\":\"decision.not_assess\"}",
         "mediation_certificate",
         "about our decision not to carry out an EHC needs assessment, dated Thursday 31 "
         "December 2026"},
        /* the amendment notice: 15 days beginning with the notice's day */
        {"deadline.started",
         "{\"clock\":\"amended_plan\",\"started_on\":\"2026-11-23\","
         "\"due_date\":\"2027-01-18\"}",
         "amendment_notice", "by Monday 7 December 2026"},
    };
    const sp_template *bound[64];
    char err[512] = "";
    notify_contact c;
    (void)state;
    assert_int_equal(notify_routes_bind(&shipped, bound, err, sizeof(err)), 0);
    contact_full(&c);
    for (size_t i = 0; i < LEN(rows); i++) {
        sp_event ev;
        cJSON *d = cJSON_Parse(rows[i].data);
        size_t row = 0;
        char *subject = NULL, *body = NULL;
        assert_non_null(d);
        cJSON_AddStringToObject(d, "case_id", "c_01M83ZVG008Q4VZ7M2N5P6R9S3");
        event_make(&ev, rows[i].type, d);
        while (row < notify_routes_count &&
               !(notify_route_matches(&notify_routes[row], &ev) &&
                 !strcmp(notify_routes[row].template_name, rows[i].template_name)))
            row++;
        assert_true(row < notify_routes_count);
        render_row(row, &ev, &c, bound[row], &subject, &body);
        if (!strstr(body, rows[i].want))
            fail_msg("%s: no '%s' in:\n%s", rows[i].template_name, rows[i].want, body);
        free(subject);
        free(body);
        sp_event_free(&ev);
    }
    notify_contact_free(&c);
}

/* ---- the facts --------------------------------------------------------------- */

static void test_facts_told_by_events(void **state) {
    notify_fact_write w[NOTIFY_FACT_WRITES_MAX];
    sp_event ev;
    (void)state;
    event_make(&ev, "advice.requested",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"date\":"
                           "\"2027-01-04\",\"adviser\":\"educational\",\"recipient_role\":"
                           "\"senco\",\"recipient_email\":\"senco@school.example\"}"));
    assert_int_equal(notify_facts_from_event(&ev, w, LEN(w)), 2);
    assert_string_equal(w[0].field, "adviser_email:educational");
    assert_string_equal(w[0].value, "senco@school.example");
    assert_int_equal(w[0].op, NOTIFY_FACT_SET);
    assert_string_equal(w[1].field, "advisers_asked:2027-01-04");
    assert_string_equal(w[1].value, "educational");
    assert_int_equal(w[1].op, NOTIFY_FACT_ADD);
    sp_event_free(&ev);
    /* No address (the parent wants post): known, and empty. */
    event_make(&ev, "advice.requested",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"date\":"
                           "\"2027-01-04\",\"adviser\":\"parent\",\"recipient_role\":"
                           "\"parent\"}"));
    assert_int_equal(notify_facts_from_event(&ev, w, LEN(w)), 2);
    assert_string_equal(w[0].value, "");
    sp_event_free(&ev);
    event_make(&ev, "deadline.started",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"clock\":"
                           "\"appeal_window\",\"started_on\":\"2026-12-10\",\"due_date\":"
                           "\"2027-02-10\"}"));
    assert_int_equal(notify_facts_from_event(&ev, w, LEN(w)), 1);
    assert_string_equal(w[0].field, "appeal_last_date:2026-12-10");
    assert_string_equal(w[0].value, "2027-02-10");
    sp_event_free(&ev);
    /* A request without a school tells no SENCO; with one, by URN. */
    event_make(&ev, "request.received",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\"}"));
    assert_int_equal(notify_facts_from_event(&ev, w, LEN(w)), 0);
    sp_event_free(&ev);
    event_make(&ev, "sen_support.registered",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"school\":"
                           "{\"urn\":\"300400\",\"name\":\"Meadow\",\"senco_email\":"
                           "\"senco@meadow.example\"}}"));
    assert_int_equal(notify_facts_from_event(&ev, w, LEN(w)), 1);
    assert_string_equal(w[0].field, "school_senco:300400");
    assert_string_equal(w[0].value, "senco@meadow.example");
    sp_event_free(&ev);
}

/* The facts a row reads, keyed by the event at hand; a required one makes
 * the event wait, the consulted school's SENCO does not. */
static void test_needs_follow_the_event(void **state) {
    notify_fact_needs needs = {0};
    char err[256] = "";
    sp_event ev;
    size_t adviser_row = 0, school_row = 0, refusal_row = 0;
    (void)state;
    for (size_t i = 0; i < notify_routes_count; i++) {
        if (!strcmp(notify_routes[i].template_name, "advice_request")) adviser_row = i;
        if (!strcmp(notify_routes[i].template_name, "school_consultation")) school_row = i;
        if (!strcmp(notify_routes[i].template_name, "decision_not_to_assess"))
            refusal_row = i;
    }
    event_make(&ev, "deadline.started",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"clock\":"
                           "\"advice\",\"qualifier\":\"medical\",\"started_on\":"
                           "\"2027-01-04\",\"due_date\":\"2027-02-15\"}"));
    assert_int_equal(notify_route_needs(&notify_routes[adviser_row], &ev, &needs, err,
                                        sizeof(err)), 0);
    assert_int_equal(needs.n, 1);
    assert_string_equal(needs.field[0], "adviser_email:medical");
    assert_int_equal(needs.wait[0], 1);
    sp_event_free(&ev);

    memset(&needs, 0, sizeof(needs));
    event_make(&ev, "deadline.started",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"clock\":"
                           "\"school_consultation\",\"qualifier\":\"999999\"}"));
    assert_int_equal(notify_route_needs(&notify_routes[school_row], &ev, &needs, err,
                                        sizeof(err)), 0);
    assert_int_equal(needs.n, 1);
    assert_string_equal(needs.field[0], "school_senco:999999");
    assert_int_equal(needs.wait[0], 0);
    sp_event_free(&ev);

    memset(&needs, 0, sizeof(needs));
    event_make(&ev, "decision.not_assess",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"date\":"
                           "\"2026-12-10\",\"reasons\":\"r\"}"));
    assert_int_equal(notify_route_needs(&notify_routes[refusal_row], &ev, &needs, err,
                                        sizeof(err)), 0);
    assert_int_equal(needs.n, 2);
    assert_string_equal(needs.field[0], "mediation_last_date:2026-12-10");
    assert_string_equal(needs.field[1], "appeal_last_date:2026-12-10");
    sp_event_free(&ev);

    /* Without the key, the event is refused, not left waiting. */
    memset(&needs, 0, sizeof(needs));
    event_make(&ev, "decision.not_assess",
               cJSON_Parse("{\"case_id\":\"c_01M83ZVG008Q4VZ7M2N5P6R9S3\",\"reasons\":"
                           "\"r\"}"));
    assert_int_equal(notify_route_check_event(&notify_routes[refusal_row], &ev, err,
                                              sizeof(err)), -1);
    assert_non_null(strstr(err, "data.date"));
    sp_event_free(&ev);
}

/* ---- recipients -------------------------------------------------------------- */

static void test_recipients(void **state) {
    notify_contact c;
    notify_recipient to;
    size_t school_row = 0, caseworker_row = 0;
    (void)state;
    for (size_t i = 0; i < notify_routes_count; i++) {
        if (!strcmp(notify_routes[i].role, "consulted_school")) school_row = i;
        if (!strcmp(notify_routes[i].role, "caseworker")) caseworker_row = i;
    }
    contact_full(&c);
    assert_int_equal(notify_route_recipient(&notify_routes[caseworker_row], &c, &to), 0);
    assert_string_equal(to.email, "send-team@la.example");
    assert_string_equal(notify_route_email_field(&notify_routes[caseworker_row]),
                        "caseworker_email");
    /* No SENCO known for the consulted school, no caseworkers' mailbox: no
     * one to write to (deliver counts it as unreachable). */
    assert_int_equal(notify_contact_set(&c, "consulted_senco_email", NULL), 0);
    assert_int_equal(notify_route_recipient(&notify_routes[school_row], &c, &to), -1);
    assert_int_equal(notify_contact_set(&c, "caseworker_email", ""), 0);
    assert_int_equal(notify_route_recipient(&notify_routes[caseworker_row], &c, &to), -1);
    notify_contact_free(&c);
}

/* ---- formats ----------------------------------------------------------------- */

static void test_reasons_are_wrapped_and_defused(void **state) {
    static notify_values v;
    const sp_template *bound[64];
    char err[512] = "", reasons[1200], *subject, *body;
    notify_contact c;
    sp_event ev;
    size_t row = 0;
    (void)state;
    while (strcmp(notify_routes[row].template_name, "decision_not_to_assess")) row++;
    assert_int_equal(notify_routes_bind(&shipped, bound, err, sizeof(err)), 0);
    /* One long line (a word of 100 letters in it), and "((" typed by hand. */
    snprintf(reasons, sizeof(reasons), "See ((appendix)) and (((this))). ");
    for (int i = 0; i < 150; i++) strcat(reasons, "needs ");
    size_t n = strlen(reasons);
    memset(reasons + n, 'x', 100);
    reasons[n + 100] = '\0';
    cJSON *d = data_full();
    cJSON_ReplaceItemInObject(d, "reasons", cJSON_CreateString(reasons));
    event_make(&ev, "decision.not_assess", d);
    contact_full(&c);
    assert_int_equal(notify_route_values(&notify_routes[row], &ev, &c, &v, err, sizeof(err)),
                     0);
    assert_int_equal(sp_template_render(bound[row], v.vars, v.n, &subject, &body, err,
                                        sizeof(err)), 0);
    assert_null(strstr(body, "(("));
    assert_non_null(strstr(body, "See ( (appendix)) and ( ( (this)))."));
    const char *start = strstr(body, "See (");
    for (const char *p = start; p && *p && strncmp(p, "If you do not agree", 19);) {
        size_t len = strcspn(p, "\n");
        if (len > 72) fail_msg("reasons line of %zu bytes", len);
        p += len + (p[len] == '\n');
    }
    /* The mediation and appeal dates, long. */
    assert_non_null(strstr(body, "Contact a mediation adviser by Thursday 11 February 2027."));
    assert_non_null(strstr(body, "Appeal to the tribunal by Wednesday 10 February 2027."));
    assert_non_null(strstr(body, "On Thursday 10 December 2026 we decided"));
    free(subject);
    free(body);
    notify_contact_free(&c);
    sp_event_free(&ev);
}

static void test_labels(void **state) {
    char buf[512];
    (void)state;
    assert_string_equal(notify_label_adviser_list("parent,educational,medical,child_views,"
                                                  "speech_language", buf, sizeof(buf)),
                        "- the school or nursery: educational advice\n"
                        "- a health professional: medical advice\n"
                        "- speech language: speech language advice");
    assert_string_equal(notify_label_adviser_list("parent,child_views", buf, sizeof(buf)),
                        "- nobody else");
    assert_string_equal(notify_label_advice("psychological", buf, sizeof(buf)),
                        "psychological advice");
    assert_string_equal(notify_label_clock("advice", "psychological", buf, sizeof(buf)),
                        "Advice from an educational psychologist (reg 8(1))");
    assert_string_equal(notify_label_clock("advice", "child_views", buf, sizeof(buf)),
                        "Advice from the child, through the parent (reg 8(1))");
    assert_string_equal(notify_label_clock("advice", "speech_language", buf, sizeof(buf)),
                        "Advice from speech language (reg 8(1))");
    assert_string_equal(notify_label_clock("school_consultation", "123456", buf, sizeof(buf)),
                        "School's reply on being named, school URN 123456 (CoP 9.83)");
    assert_string_equal(notify_label_clock("final_plan", NULL, buf, sizeof(buf)),
                        "Issue the final EHC plan (reg 13(2))");
    assert_string_equal(notify_label_clock("panel_decision", NULL, buf, sizeof(buf)),
                        "Local milestone: panel decision");
    /* Cut short, never overrun. */
    assert_string_equal(notify_label_clock("final_plan", NULL, buf, 6), "Issue");
    assert_string_equal(notify_label_decision("decision.not_issue_plan", buf, sizeof(buf)),
                        "our decision not to write an EHC plan");
    assert_string_equal(notify_label_decision("plan.ended", buf, sizeof(buf)),
                        "our decision (plan ended)");
    assert_true(notify_label_asks_parent("child_views"));
    assert_false(notify_label_asks_parent("medical"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_binds),
        cmocka_unit_test(test_every_template_has_a_route),
        cmocka_unit_test(test_every_route_renders),
        cmocka_unit_test(test_bind_refuses_a_placeholder_not_supplied),
        cmocka_unit_test(test_who_gets_what),
        cmocka_unit_test(test_appeal_dates),
        cmocka_unit_test(test_facts_told_by_events),
        cmocka_unit_test(test_needs_follow_the_event),
        cmocka_unit_test(test_recipients),
        cmocka_unit_test(test_reasons_are_wrapped_and_defused),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, load_shipped, free_shipped);
}
