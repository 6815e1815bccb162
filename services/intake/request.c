/* request.c - validating and normalising a request for assessment.
 * See request.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include "ids.h"
#include "request.h"
#include "validate.h"

static const char *const requester_types[] = {"parent", "young_person", "school",
                                              "professional", NULL};
static const char *const channels[] = {"email", "post", NULL};
static const char *const areas[] = {"communication_and_interaction",
                                    "cognition_and_learning",
                                    "social_emotional_mental_health",
                                    "sensory_physical", NULL};

/* Copies field path of src (if present) into dst under name. */
static void copy_string(cJSON *dst, const char *name, const char *value) {
    if (value) cJSON_AddStringToObject(dst, name, value);
}

static void check_upn(sp_valid *v, const char *upn) {
    /* A UPN is a check letter and 12 digits (DfE common basic data set). */
    int ok = upn && strlen(upn) == 13 && isupper((unsigned char)upn[0]);
    for (int i = 1; ok && i < 13; i++) ok = isdigit((unsigned char)upn[i]) != 0;
    if (upn && !ok) sp_valid_error(v, "child.upn", "must be a letter and 12 digits");
}

static cJSON *parse_child(sp_valid *v, const cJSON *body, sp_date today) {
    cJSON *c = cJSON_CreateObject();
    if (!sp_valid_object(v, body, "child", 1)) return c;
    copy_string(c, "given_name", sp_valid_string(v, body, "child.given_name", 1, 100));
    copy_string(c, "family_name", sp_valid_string(v, body, "child.family_name", 1, 100));
    sp_date dob = sp_valid_date(v, body, "child.date_of_birth", 1,
                                sp_date_add_months(today, -12 * 26), today);
    if (dob != SP_DATE_INVALID) {
        char buf[16];
        cJSON_AddStringToObject(c, "date_of_birth", sp_date_iso(dob, buf, sizeof(buf)));
    }
    const char *upn = sp_valid_string(v, body, "child.upn", 0, 13);
    check_upn(v, upn);
    copy_string(c, "upn", upn);
    return c;
}

static cJSON *parse_contact(sp_valid *v, const cJSON *body) {
    cJSON *c = cJSON_CreateObject();
    if (!sp_valid_object(v, body, "contact", 1)) return c;
    const char *ch = sp_valid_enum(v, body, "contact.preferred_channel", 0, channels);
    if (!ch) ch = "email";
    copy_string(c, "name", sp_valid_string(v, body, "contact.name", 1, 200));
    copy_string(c, "email", sp_valid_email(v, body, "contact.email", !strcmp(ch, "email")));
    copy_string(c, "postal_address",
                sp_valid_string(v, body, "contact.postal_address", !strcmp(ch, "post"), 500));
    cJSON_AddStringToObject(c, "preferred_channel", ch);
    const char *lang = sp_valid_string(v, body, "contact.language", 0, 35);
    cJSON_AddStringToObject(c, "language", lang ? lang : "en");
    return c;
}

static cJSON *parse_school(sp_valid *v, const cJSON *body, int required) {
    const char *urn;
    if (!sp_valid_object(v, body, "school", required) || !sp_json_path(body, "school"))
        return NULL;
    cJSON *s = cJSON_CreateObject();
    urn = sp_valid_string(v, body, "school.urn", 1, 8);
    if (urn && (strlen(urn) != 6 || strspn(urn, "0123456789") != 6)) {
        sp_valid_error(v, "school.urn", "must be a 6-digit URN");
        urn = NULL;
    }
    copy_string(s, "urn", urn);
    copy_string(s, "name", sp_valid_string(v, body, "school.name", 1, 200));
    copy_string(s, "senco_email", sp_valid_email(v, body, "school.senco_email", 0));
    return s;
}

static const char *area_lookup(const char *s) {
    for (size_t i = 0; areas[i]; i++)
        if (strcmp(s, areas[i]) == 0) return areas[i];
    return NULL;
}

static cJSON *parse_areas(sp_valid *v, const cJSON *body) {
    cJSON *f = sp_json_path(body, "areas_of_need"), *out = cJSON_CreateArray(), *it;
    char path[48];
    int i = 0;
    if (!f) return out;
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) > 4) {
        sp_valid_error(v, "areas_of_need", "must be a list of up to 4 areas of need");
        return out;
    }
    cJSON_ArrayForEach(it, f) {
        const char *a = cJSON_IsString(it) ? area_lookup(it->valuestring) : NULL;
        snprintf(path, sizeof(path), "areas_of_need[%d]", i++);
        if (!a)
            sp_valid_error(v, path, "must be one of: communication_and_interaction, "
                           "cognition_and_learning, social_emotional_mental_health, "
                           "sensory_physical");
        else
            cJSON_AddItemToArray(out, cJSON_CreateString(a));
    }
    return out;
}

/* The child, the contact and the school a case is about, into r. */
static void parse_people(sp_valid *v, const cJSON *body, sp_date today,
                         int school_required, cJSON *r) {
    cJSON_AddItemToObject(r, "child", parse_child(v, body, today));
    cJSON_AddItemToObject(r, "contact", parse_contact(v, body));
    cJSON *school = parse_school(v, body, school_required);
    if (school) cJSON_AddItemToObject(r, "school", school);
}

cJSON *intake_request_parse(const cJSON *body, sp_date today, cJSON **errors) {
    sp_valid v;
    char buf[16];
    cJSON *r = cJSON_CreateObject(), *req = cJSON_CreateObject();
    sp_valid_init(&v);
    if (!cJSON_IsObject(body)) {
        sp_valid_error(&v, "(body)", "must be a JSON object");
        goto out;
    }
    if (sp_valid_object(&v, body, "requester", 1)) {
        copy_string(req, "type", sp_valid_enum(&v, body, "requester.type", 1, requester_types));
        copy_string(req, "name", sp_valid_string(&v, body, "requester.name", 0, 200));
        copy_string(req, "email", sp_valid_email(&v, body, "requester.email", 0));
    }
    cJSON_AddItemToObject(r, "requester", req);
    req = NULL;
    parse_people(&v, body, today, 0, r);
    cJSON_AddItemToObject(r, "areas_of_need", parse_areas(&v, body));
    sp_date rd = sp_valid_date(&v, body, "received_date", 1, sp_date_make(2014, 9, 1), today);
    if (rd != SP_DATE_INVALID)
        cJSON_AddStringToObject(r, "received_date", sp_date_iso(rd, buf, sizeof(buf)));
    int consent = sp_valid_bool(&v, body, "consent_to_share", 1);
    if (consent >= 0) cJSON_AddBoolToObject(r, "consent_to_share", consent);
    const char *linked = sp_valid_string(&v, body, "linked_case_id", 0, 28);
    if (linked && !sp_case_id_valid(linked))
        sp_valid_error(&v, "linked_case_id", "must be a case id (c_ and 26 characters)");
    else if (linked)
        cJSON_AddStringToObject(r, "linked_case_id", linked);
out:
    cJSON_Delete(req);
    if ((*errors = sp_valid_take(&v)) != NULL) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

cJSON *intake_sen_support_parse(const cJSON *body, sp_date today, cJSON **errors) {
    sp_valid v;
    char buf[16];
    cJSON *r = cJSON_CreateObject();
    sp_valid_init(&v);
    if (!cJSON_IsObject(body)) {
        sp_valid_error(&v, "(body)", "must be a JSON object");
        goto out;
    }
    parse_people(&v, body, today, 1, r);
    const char *outcomes = sp_valid_string(&v, body, "outcomes_summary", 1, 4000);
    if (outcomes) cJSON_AddStringToObject(r, "outcomes_summary", outcomes);
    sp_date d = sp_valid_date(&v, body, "date", 1, sp_date_add_months(today, -120), today);
    if (d != SP_DATE_INVALID) cJSON_AddStringToObject(r, "date", sp_date_iso(d, buf, 16));
    /* A plan registered late may already be due for review: the bound is
     * the registration date, not today. */
    sp_date lo = d != SP_DATE_INVALID ? d : sp_date_add_months(today, -120);
    sp_date next = sp_valid_date(&v, body, "next_review_date", 1, lo,
                                 sp_date_add_months(today, 24));
    if (next != SP_DATE_INVALID)
        cJSON_AddStringToObject(r, "next_review_date", sp_date_iso(next, buf, 16));
out:
    if ((*errors = sp_valid_take(&v)) != NULL) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

static void copy_transfer(sp_valid *v, const cJSON *body, cJSON *r) {
    static const char *const phases[] = {"primary_to_secondary", "secondary_to_post16",
                                         "early_years_to_school", "other", NULL};
    cJSON *y = cJSON_GetObjectItemCaseSensitive(body, "transfer_year");
    if (y && (!cJSON_IsNumber(y) || y->valueint < 2014 || y->valueint > 2100 ||
              y->valuedouble != (double)y->valueint))
        sp_valid_error(v, "transfer_year", "must be a year from 2014 to 2100");
    else if (y)
        cJSON_AddNumberToObject(r, "transfer_year", y->valueint);
    const char *ph = sp_valid_enum(v, body, "transfer_phase", 0, phases);
    if (ph) cJSON_AddStringToObject(r, "transfer_phase", ph);
}

cJSON *intake_plan_parse(const cJSON *body, sp_date today, cJSON **errors) {
    sp_valid v;
    char buf[16];
    cJSON *r = cJSON_CreateObject();
    sp_valid_init(&v);
    if (!cJSON_IsObject(body)) {
        sp_valid_error(&v, "(body)", "must be a JSON object");
        goto out;
    }
    parse_people(&v, body, today, 0, r);
    sp_date made = sp_valid_date(&v, body, "plan_date", 1, sp_date_make(2014, 9, 1), today);
    sp_date last = sp_valid_date(&v, body, "last_review_date", 0,
                                 made != SP_DATE_INVALID ? made : sp_date_make(2014, 9, 1),
                                 today);
    if (made != SP_DATE_INVALID)
        cJSON_AddStringToObject(r, "plan_date", sp_date_iso(made, buf, 16));
    if (last != SP_DATE_INVALID)
        cJSON_AddStringToObject(r, "last_review_date", sp_date_iso(last, buf, 16));
    if (made != SP_DATE_INVALID)
        cJSON_AddStringToObject(r, "date",
                                sp_date_iso(last != SP_DATE_INVALID ? last : made, buf, 16));
    copy_transfer(&v, body, r);
out:
    if ((*errors = sp_valid_take(&v)) != NULL) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

static void sha256_hex(const char *text, size_t len, char *out, size_t size) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < mdlen && 2 * i + 2 < size; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[size > 64 ? 64 : size - 1] = '\0';
}

static void lower_into(char *dst, size_t size, size_t *o, const char *s) {
    for (; s && *s && *o + 1 < size; s++)
        if (!isspace((unsigned char)*s)) dst[(*o)++] = (char)tolower((unsigned char)*s);
    dst[*o] = '\0';
}

void intake_request_child_key(const cJSON *request, char *out, size_t size) {
    char id[512];
    size_t o = 0;
    const cJSON *child = cJSON_GetObjectItemCaseSensitive(request, "child");
    const char *upn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(child, "upn"));
    if (upn) {
        snprintf(id, sizeof(id), "upn:%s", upn);
        o = strlen(id);
    } else {
        lower_into(id, sizeof(id), &o, "name:");
        lower_into(id, sizeof(id), &o, cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(child, "given_name")));
        lower_into(id, sizeof(id), &o, "|");
        lower_into(id, sizeof(id), &o, cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(child, "family_name")));
        lower_into(id, sizeof(id), &o, "|");
        lower_into(id, sizeof(id), &o, cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(child, "date_of_birth")));
    }
    sha256_hex(id, o, out, size);
}

void intake_request_fingerprint(const cJSON *request, char *out, size_t size) {
    char *text = cJSON_PrintUnformatted(request);
    sha256_hex(text ? text : "", text ? strlen(text) : 0, out, size);
    cJSON_free(text);
}
