/* govuk.c - the notify channel: GOV.UK Notify's REST API.
 *
 *   POST {notify.notify.base_url}/v2/notifications/email
 *   Authorization: Bearer <JWT, HS256: {"iss": service id, "iat": now}>
 *   {"email_address", "template_id", "personalisation", "reference",
 *    "email_reply_to_id"?}
 *
 * The API key (notify.notify.api_key) is "{name}-{service id}-{secret}":
 * the last 36 characters are the secret that signs the token, the 36 before
 * the '-' in front of it the service id. A token is made per request with
 * the real time (tokens live 30 seconds at Notify), never the manual clock.
 *
 * Templates live at Notify; notify.notify.template.<name> maps each of our
 * template names to its Notify id, and every template a route uses must have
 * one before the service starts. personalisation is the route's placeholder
 * values, exactly what renders our own copy of the template. reference is
 * the delivery id (32 hex digits of the key): it holds no personal data and
 * is the same on every attempt, so an operator can find a re-sent message at
 * Notify (see deliver.h).
 *
 * Outcomes come from the status, by table: 201 sent (provider id: Notify's
 * notification id); 400 and 403 refused, with Notify's errors[] as the
 * reason; 429 and 5xx retry; a transport failure or timeout retry; anything
 * else retry (the retry limit ends it).
 *
 * At most notify.rate_per_minute sends a minute (bucket.c): a send that finds
 * no token waits in a FIFO for the bucket's timer, so the loop never waits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bucket.h"
#include "channel.h"
#include "clock.h"
#include "jwt.h"
#include "log.h"
#include "notify.h"
#include "route.h"
#include "transfer.h"

#define GOVUK_UUID_LEN 36
#define GOVUK_REASON_MAX 300

typedef struct govuk_send govuk_send;
struct govuk_send {
    char *body; /* the request's JSON */
    char reference[NOTIFY_JOB_ID_HEX + 1];
    notify_send_cb cb;
    void *opaque;
    govuk_send *next;
};

typedef struct govuk_channel {
    notify_channel *ch;
    char service_id[GOVUK_UUID_LEN + 1], secret[GOVUK_UUID_LEN + 1];
    char *url;
    notify_bucket bucket;
    uv_timer_t timer; /* the next token */
    govuk_send *head, *tail; /* waiting for a token, oldest first */
} govuk_channel;

static const struct {
    long lo, hi;
    notify_send_outcome res;
} govuk_statuses[] = {
    {200, 299, NOTIFY_SEND_SENT},    {400, 400, NOTIFY_SEND_REFUSED},
    {403, 403, NOTIFY_SEND_REFUSED}, {429, 429, NOTIFY_SEND_RETRY},
    {500, 599, NOTIFY_SEND_RETRY},
};

/* ---- settings -------------------------------------------------------------- */

static int uuid_shaped(const char *s, size_t len) {
    static const char dashes[] = {8, 13, 18, 23};
    if (len != GOVUK_UUID_LEN) return 0;
    for (size_t i = 0, d = 0; i < len; i++) {
        int is_dash = d < sizeof(dashes) && i == (size_t)dashes[d];
        if (is_dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i])) return 0;
        d += is_dash;
    }
    return 1;
}

/* "{name}-{service id}-{secret}". Errors never quote the key. */
static int api_key_parse(govuk_channel *g, const char *key, char *errstr, size_t size) {
    size_t n = key ? strlen(key) : 0;
    if (n < 2 * GOVUK_UUID_LEN + 1 || key[n - GOVUK_UUID_LEN - 1] != '-' ||
        !uuid_shaped(key + n - GOVUK_UUID_LEN, GOVUK_UUID_LEN) ||
        !uuid_shaped(key + n - 2 * GOVUK_UUID_LEN - 1, GOVUK_UUID_LEN)) {
        snprintf(errstr, size, "notify.notify.api_key must be a GOV.UK Notify API key: "
                               "{name}-{service id}-{secret}");
        return -1;
    }
    memcpy(g->secret, key + n - GOVUK_UUID_LEN, GOVUK_UUID_LEN);
    memcpy(g->service_id, key + n - 2 * GOVUK_UUID_LEN - 1, GOVUK_UUID_LEN);
    return 0;
}

/* Every template a route that is on uses has a Notify id, and every id is a
 * UUID. */
static int templates_check(const notify_state *st, char *errstr, size_t size) {
    const sp_conf_kvs *ids = &st->conf->govuk_templates;
    for (size_t i = 0; i < notify_routes_count; i++) {
        const char *name = notify_routes[i].template_name;
        if ((!st->route_on || st->route_on[i]) && !sp_conf_kvs_get(ids, name)) {
            snprintf(errstr, size, "no notify.notify.template.%s: the GOV.UK Notify "
                                   "template id for route %zu", name, i);
            return -1;
        }
    }
    for (size_t i = 0; i < ids->count; i++)
        if (!uuid_shaped(ids->items[i].value, strlen(ids->items[i].value))) {
            snprintf(errstr, size,
                     "notify.notify.template.%s is not a template id (a UUID)",
                     ids->items[i].key);
            return -1;
        }
    return 0;
}

static int govuk_settings(govuk_channel *g, const notify_state *st, char *errstr,
                          size_t size) {
    const notify_conf *conf = st->conf;
    const char *base = conf->govuk_base_url;
    size_t n = base ? strlen(base) : 0;
    if (api_key_parse(g, conf->govuk_api_key, errstr, size) ||
        templates_check(st, errstr, size))
        return -1;
    if (conf->govuk_reply_to_id && *conf->govuk_reply_to_id &&
        !uuid_shaped(conf->govuk_reply_to_id, strlen(conf->govuk_reply_to_id))) {
        snprintf(errstr, size, "notify.notify.email_reply_to_id must be a UUID");
        return -1;
    }
    if (!base || (strncmp(base, "https://", 8) && strncmp(base, "http://", 7))) {
        snprintf(errstr, size, "notify.notify.base_url must be an http(s) URL");
        return -1;
    }
    while (n && base[n - 1] == '/') n--;
    if (asprintf(&g->url, "%.*s/v2/notifications/email", (int)n, base) < 0) {
        g->url = NULL;
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    return 0;
}

static int govuk_init(notify_channel *ch, char *errstr, size_t size) {
    govuk_channel *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    ch->priv = g;
    g->ch = ch;
    if (govuk_settings(g, ch->st, errstr, size) ||
        notify_transfer_global_init(errstr, size))
        return -1; /* the service exits; the OS takes the rest */
    notify_bucket_init(&g->bucket, ch->st->conf->rate_per_minute, uv_now(ch->st->s->loop));
    uv_timer_init(ch->st->s->loop, &g->timer);
    g->timer.data = g;
    sp_info("notify: GOV.UK Notify channel to %s, service %s, at most %lld a minute",
            g->url, g->service_id, ch->st->conf->rate_per_minute);
    return 0;
}

static void govuk_closed(uv_handle_t *h) {
    govuk_channel *g = h->data;
    free(g->url);
    free(g);
}

/* At fini, nothing is in flight: a send still waiting (a shutdown that gave
 * up) is dropped without its callback, as its caller is gone too. */
static void govuk_free(notify_channel *ch) {
    govuk_channel *g = ch->priv;
    while (g->head) {
        govuk_send *gs = g->head;
        g->head = gs->next;
        free(gs->body);
        free(gs);
    }
    uv_close((uv_handle_t *)&g->timer, govuk_closed);
    notify_transfer_global_cleanup();
}

/* ---- one request ----------------------------------------------------------- */

/* "403 AuthError: Invalid token: ..." from the body's errors[], printable and
 * bounded. */
static void reason_from_body(const notify_transfer *t, char *out, size_t size) {
    cJSON *o = t->response ? cJSON_Parse(t->response) : NULL, *e;
    size_t n = (size_t)snprintf(out, size, "HTTP %ld", t->status);
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "errors")) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (n < size)
            n += (size_t)snprintf(out + n, size - n, "; %s: %s",
                                  cJSON_IsString(err) ? err->valuestring : "error",
                                  cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(o);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
}

static notify_send_outcome govuk_outcome(const notify_transfer *t) {
    if (t->code != CURLE_OK) return NOTIFY_SEND_RETRY;
    for (size_t i = 0; i < sizeof(govuk_statuses) / sizeof(govuk_statuses[0]); i++)
        if (t->status >= govuk_statuses[i].lo && t->status <= govuk_statuses[i].hi)
            return govuk_statuses[i].res;
    return NOTIFY_SEND_RETRY;
}

static void govuk_done(const notify_transfer *t, void *opaque) {
    govuk_send *gs = opaque;
    notify_send_outcome res = govuk_outcome(t);
    char reason[GOVUK_REASON_MAX];
    if (res == NOTIFY_SEND_SENT) {
        cJSON *o = t->response ? cJSON_Parse(t->response) : NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        gs->cb(res, cJSON_IsString(id) ? id->valuestring : gs->reference, NULL,
               gs->opaque);
        cJSON_Delete(o);
    } else {
        if (t->code != CURLE_OK)
            snprintf(reason, sizeof(reason), "transport: %s", t->error);
        else
            reason_from_body(t, reason, sizeof(reason));
        gs->cb(res, NULL, reason, gs->opaque);
    }
    free(gs->body);
    free(gs);
}

/* "Bearer <token>" as a header line. Returns a new list, or NULL. */
static struct curl_slist *govuk_headers(const govuk_channel *g) {
    char claims[128], line[512], err[64];
    struct curl_slist *h = NULL, *next;
    snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"iat\":%lld}", g->service_id,
             (long long)(sp_clock_now_ms(NULL) / 1000));
    char *tok = sp_jwt_hs256(claims, g->secret, GOVUK_UUID_LEN, err, sizeof(err));
    if (!tok) return NULL;
    snprintf(line, sizeof(line), "Authorization: Bearer %s", tok);
    free(tok);
    static const char *const fixed[] = {"Content-Type: application/json",
                                        "Accept: application/json",
                                        "User-Agent: sendpath-notify"};
    if (!(h = curl_slist_append(NULL, line))) return NULL;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (!(next = curl_slist_append(h, fixed[i]))) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = next;
    }
    return h;
}

/* Starts gs's request now. Returns 0, or -1 with errstr (gs not freed). */
static int govuk_request(govuk_channel *g, govuk_send *gs, char *errstr, size_t size) {
    notify_transfer *t = notify_transfer_new((long)g->ch->st->conf->send_timeout_ms,
                                             errstr, size);
    if (!t) return -1;
    if (!(t->list[0] = govuk_headers(g))) {
        snprintf(errstr, size, "cannot make the request's token");
        notify_transfer_free(t);
        return -1;
    }
    t->upload = gs->body; /* the transfer frees it */
    gs->body = NULL;
    curl_easy_setopt(t->easy, CURLOPT_URL, g->url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->list[0]);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->upload);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(t->upload));
    if (notify_transfer_run(t, g->ch->st->s->loop, govuk_done, gs, errstr, size)) {
        gs->body = t->upload;
        t->upload = NULL;
        notify_transfer_free(t);
        return -1;
    }
    return 0;
}

/* ---- the rate limit -------------------------------------------------------- */

static void queue_drain(uv_timer_t *timer) {
    govuk_channel *g = timer->data;
    uint64_t wait = 0;
    char errstr[256];
    while (g->head && (wait = notify_bucket_take(&g->bucket, uv_now(timer->loop))) == 0) {
        govuk_send *gs = g->head;
        if (!(g->head = gs->next)) g->tail = NULL;
        if (govuk_request(g, gs, errstr, sizeof(errstr))) { /* already promised a cb */
            gs->cb(NOTIFY_SEND_RETRY, NULL, errstr, gs->opaque);
            free(gs->body);
            free(gs);
        }
    }
    if (g->head) uv_timer_start(&g->timer, queue_drain, wait, 0);
}

/* ---- the channel ----------------------------------------------------------- */

static int govuk_check(notify_channel *ch, const notify_job *job, char *errstr,
                       size_t size) {
    const notify_conf *conf = ch->st->conf;
    if (!job->to_email || !sp_conf_kvs_get(&conf->govuk_templates, job->template_name)) {
        snprintf(errstr, size, "notify: no address, or no template id for %s",
                 job->template_name);
        return -1;
    }
    return 0;
}

/* The request's JSON. Returns a new string (free()), or NULL. */
static char *govuk_body(const notify_conf *conf, const notify_job *job) {
    cJSON *o = cJSON_CreateObject();
    char ref[NOTIFY_JOB_ID_HEX + 1], *text, *copy;
    snprintf(ref, sizeof(ref), "%.*s", NOTIFY_JOB_ID_HEX, job->key);
    cJSON_AddStringToObject(o, "email_address", job->to_email);
    cJSON_AddStringToObject(o, "template_id",
                            sp_conf_kvs_get(&conf->govuk_templates, job->template_name));
    cJSON_AddItemToObject(o, "personalisation",
                          job->personalisation ? cJSON_Duplicate(job->personalisation, 1)
                                               : cJSON_CreateObject());
    cJSON_AddStringToObject(o, "reference", ref);
    if (conf->govuk_reply_to_id && *conf->govuk_reply_to_id)
        cJSON_AddStringToObject(o, "email_reply_to_id", conf->govuk_reply_to_id);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    copy = text ? strdup(text) : NULL;
    cJSON_free(text);
    return copy;
}

static int govuk_send_job(notify_channel *ch, const notify_job *job, notify_send_cb cb,
                          void *opaque, char *errstr, size_t size) {
    govuk_channel *g = ch->priv;
    govuk_send *gs = calloc(1, sizeof(*gs));
    if (govuk_check(ch, job, errstr, size)) {
        free(gs);
        return -1;
    }
    if (!gs || !(gs->body = govuk_body(ch->st->conf, job))) {
        free(gs);
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    snprintf(gs->reference, sizeof(gs->reference), "%.*s", NOTIFY_JOB_ID_HEX, job->key);
    gs->cb = cb;
    gs->opaque = opaque;
    uint64_t wait = g->head ? 0 : notify_bucket_take(&g->bucket, uv_now(ch->st->s->loop));
    if (!g->head && wait == 0) { /* a token, and nobody ahead: go now */
        if (govuk_request(g, gs, errstr, size) == 0) return 0;
        free(gs->body);
        free(gs);
        return -1;
    }
    if (g->tail) /* others wait: keep the order */
        g->tail->next = gs;
    else
        g->head = gs;
    g->tail = gs;
    if (!uv_is_active((uv_handle_t *)&g->timer))
        uv_timer_start(&g->timer, queue_drain, wait, 0);
    return 0;
}

const notify_channel_def notify_channel_govuk = {
    .name = "notify",
    .local = 0,
    .init = govuk_init,
    .check = govuk_check,
    .send = govuk_send_job,
    .free = govuk_free,
};
