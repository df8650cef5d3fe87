/* sink_web_to_lead.c - Salesforce Web-to-Lead form sink (ls_web_to_lead.h). */
#include "ls_crm.h"
#include "ls_ledger.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_sink.h"
#include "ls_web_to_lead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "sink:web_to_lead"

/* The dead letter of a lead whose earlier post has no known outcome. */
#define W2L_UNKNOWN                                                                                \
    "outcome unknown: the post may have reached Salesforce before a crash; not posted again "      \
    "(Web-to-Lead cannot deduplicate): check Salesforce and `leadsync retry` only if the lead "    \
    "is missing"

/* ------------------------------------------------------------------------ */
/* Pure parts                                                                */

/* A mapped value as form text: strings as they are, numbers as text, true
 * "1", false "0"; NULL for anything else (left out). malloc'd. */
static char *value_text(const json_t *v)
{
    if (json_is_string(v))
        return ls_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return ls_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return ls_xasprintf("%g", json_real_value(v));
    if (json_is_boolean(v))
        return ls_xstrdup(json_is_true(v) ? "1" : "0");
    return NULL;
}

int ls_w2l_form(const struct ls_mapping *m, const json_t *lead, const char *oid, char **out)
{
    json_t *rec = NULL, *v;
    const char *k;
    char *buf, *e;
    int rc;

    *out = NULL;
    rc = ls_mapping_apply(m, lead, &rec);
    if (rc)
        return rc;
    e = ls_crm_escape(oid);
    buf = ls_xasprintf("oid=%s", e);
    free(e);
    json_object_foreach(rec, k, v)
    {
        char *val = value_text(v), *ek, *ev, *longer;

        if (!val)
            continue;
        ek = ls_crm_escape(k);
        ev = ls_crm_escape(val);
        longer = ls_xasprintf("%s&%s=%s", buf, ek, ev);
        free(buf);
        buf = longer;
        free(ek);
        free(ev);
        free(val);
    }
    json_decref(rec);
    *out = buf;
    return LS_OK;
}

void ls_w2l_classify(int status, int sent, int tls_config, const char *transport,
                     struct ls_sink_result *r)
{
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    r->status = status;
    if (status >= 200 && status < 400) {
        r->outcome = LS_SINK_OK;
        return;
    }
    if (status == 0 && tls_config) {
        r->outcome = LS_SINK_FATAL;
        snprintf(r->error, sizeof(r->error), "Web-to-Lead endpoint not usable: %.250s",
                 transport ? transport : "TLS or URL error");
        return;
    }
    if (status == 0 && !sent) {
        r->outcome = LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "not sent: %.280s", transport ? transport : "");
        return;
    }
    r->outcome = LS_SINK_REJECT;
    if (status == 0)
        snprintf(r->error, sizeof(r->error),
                 "no answer after the form was sent (%.150s): the lead may or may not have been "
                 "created; not retried (Web-to-Lead cannot deduplicate)",
                 transport ? transport : "");
    else
        snprintf(r->error, sizeof(r->error),
                 "HTTP %d after the form was sent: the lead may or may not have been created; "
                 "not retried (Web-to-Lead cannot deduplicate)",
                 status);
}

void ls_w2l_day(int64_t now_ms, char out[11])
{
    /* Civil date from days since 1970-01-01 (proleptic Gregorian). */
    char tmp[32];
    int64_t z = now_ms / 86400000 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t mo = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (mo <= 2);

    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", (int)(y % 10000), (int)(mo % 100), (int)(d % 100));
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

/* ------------------------------------------------------------------------ */
/* The sink                                                                  */

struct w2l {
    struct ls_mapping *map;
    struct ls_crm_http *http;
    char *url;
    char *oid;
    long limit;
    /* The engine's ledger (ls_sink_ops.use_ledger) and this sink's id there:
     * post marks and the day's count. NULL in `send-test-lead`. */
    struct ls_ledger *ledger;
    char *id;
};

static void w2l_free(struct w2l *s)
{
    if (!s)
        return;
    ls_mapping_free(s->map);
    ls_crm_http_free(s->http);
    free(s->url);
    free(s->oid);
    free(s->id);
    free(s);
}

/* The settings create() refuses; 0 when usable. */
static int check_config(const char *arg, const struct ls_config *cfg)
{
    const char *oid = cfg->web_to_lead_oid;

    if (arg && *arg)
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: web_to_lead takes no argument; configure it "
                                    "with LEADSYNC_WEB_TO_LEAD_*");
    if (!oid || !*oid ||
        strspn(oid, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
            strlen(oid))
        return ls_error(LS_ECONFIG, "sink web_to_lead: LEADSYNC_WEB_TO_LEAD_OID must be the "
                                    "Salesforce organization id (00D...)");
    if (!cfg->web_to_lead_url || strncmp(cfg->web_to_lead_url, "https://", 8) != 0)
        return ls_error(LS_ECONFIG, "sink web_to_lead: LEADSYNC_WEB_TO_LEAD_URL must be an "
                                    "https:// URL");
    return LS_OK;
}

static int w2l_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct w2l *s = ls_xcalloc(1, sizeof(*s));
    int rc;

    *ctx = NULL;
    rc = check_config(arg, cfg);
    if (!rc)
        rc = ls_crm_http_create("web_to_lead", cfg->web_to_lead_ca_file, cfg->http_timeout_seconds,
                                &s->http);
    if (!rc)
        rc = ls_mapping_load("web_to_lead", cfg->web_to_lead_mapping, &s->map);
    if (rc) {
        w2l_free(s);
        return rc;
    }
    /* The answer page is not read (Web-to-Lead answers 200 whatever
     * happened): nothing of it is kept. */
    ls_crm_http_body_cap(s->http, 0);
    ls_crm_http_stop_grace(s->http, cfg->stop_grace_seconds);
    s->url = ls_xstrdup(cfg->web_to_lead_url);
    s->oid = ls_xstrdup(cfg->web_to_lead_oid);
    s->limit = cfg->web_to_lead_daily_limit > 0 ? cfg->web_to_lead_daily_limit : 500;
    LS_WARN(COMP,
            "Web-to-Lead cannot deduplicate or update: each lead id is posted once, "
            "never retried after the form was sent, do-not-contact leads are not sent, "
            "and at most %ld posts go out per UTC day",
            s->limit);
    *ctx = s;
    return LS_OK;
}

static void w2l_destroy(void *ctx)
{
    w2l_free(ctx);
}

static void w2l_use_ledger(void *ctx, struct ls_ledger *l, const char *sink_id)
{
    struct w2l *s = ctx;

    free(s->id);
    s->ledger = l;
    s->id = sink_id ? ls_xstrdup(sink_id) : NULL;
}

/* ------------------------------------------------------------------------ */
/* One post                                                                  */

/* The UTC day the batch counts its posts against, and its count so far. */
struct day {
    char today[11];
    int64_t count;
};

/* The lead's post mark; none without a ledger (send-test-lead). */
static int mark_get(struct w2l *s, const char *lead_id, enum ls_post_mark *mk, int *status)
{
    *mk = LS_POST_NONE;
    *status = 0;
    return s->ledger ? ls_ledger_post_get(s->ledger, s->id, lead_id, mk, status) : LS_OK;
}

/* The ledger failed: this item is not sent and the batch stops. */
static int ledger_failed(struct ls_sink_result *r)
{
    ls_sink_not_sent(r, ls_error_last());
    return 1;
}

/* Items never posted whatever the ledger says: do-not-contact leads and
 * updates (Web-to-Lead can only create). 1 when *r is final. */
static int never_posted(const struct ls_sink_item *it, struct ls_sink_result *r)
{
    if (json_is_true(json_object_get(it->lead, "doNotContact"))) {
        LS_INFO(COMP, "lead %s is do-not-contact: not sent (Web-to-Lead can only create)",
                it->lead_id);
        snprintf(r->error, sizeof(r->error), "do-not-contact: not sent");
        return 1;
    }
    if (!it->created) {
        LS_INFO(COMP,
                "lead %s was posted before: this update is not sent (Web-to-Lead can only "
                "create)",
                it->lead_id);
        snprintf(r->error, sizeof(r->error), "update: not sent");
        return 1;
    }
    return 0;
}

/* A lead with a post mark from an earlier run: created is delivered, posting
 * or unknown (a crash came between the post and the outbox commit) a dead
 * letter. 1 when *r is final. */
static int posted_before(const struct ls_sink_item *it, enum ls_post_mark mk, int mstatus,
                         struct ls_sink_result *r)
{
    r->status = mstatus;
    if (mk == LS_POST_CREATED) {
        LS_INFO(COMP, "lead %s was posted before a restart: not posted again", it->lead_id);
        snprintf(r->error, sizeof(r->error), "posted before a restart: not posted again");
        return 1;
    }
    if (mk == LS_POST_POSTING || mk == LS_POST_UNKNOWN) {
        r->outcome = LS_SINK_REJECT;
        snprintf(r->error, sizeof(r->error), "%s", W2L_UNKNOWN);
        LS_WARN(COMP, "lead %s: %s", it->lead_id, r->error);
        return 1;
    }
    if (mk == LS_POST_REQUEUED)
        LS_WARN(COMP, "lead %s: posting again as re-queued by `leadsync retry`", it->lead_id);
    r->status = 0;
    return 0;
}

/* The day's limit is reached: not sent, the sink pauses until 00:00 UTC
 * (our own limit: no request made). */
static int limit_reached(const struct w2l *s, struct ls_sink_result *r)
{
    int64_t now = ls_now_ms();

    r->outcome = LS_SINK_RETRY;
    r->status = 429;
    r->throttled = 1;
    r->retry_after_ms = (long)((now / 86400000 + 1) * 86400000 - now);
    snprintf(r->error, sizeof(r->error),
             "the daily Web-to-Lead limit (%ld) is reached: paused until 00:00 UTC", s->limit);
    LS_WARN(COMP, "daily limit of %ld posts reached: sink paused until 00:00 UTC", s->limit);
    return 1;
}

/* The form goes out; *resp says whether it left and what came back, *r
 * what that means. */
static void post_form(struct w2l *s, const char *form, struct ls_crm_resp *resp,
                      struct ls_sink_result *r)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct ls_crm_req req = {0};

    req.method = "POST";
    req.url = s->url;
    req.headers = headers;
    req.body = form;
    req.len = strlen(form);
    if (ls_crm_call(s->http, &req, resp) != LS_OK) { /* the request was never built */
        ls_crm_resp_dispose(resp);
        memset(resp, 0, sizeof(*resp));
        snprintf(resp->transport, sizeof(resp->transport), "%s", ls_error_last());
    }
    ls_w2l_classify(resp->status, resp->sent, resp->tls_config, resp->transport, r);
    if (resp->status == 0 && !resp->sent && (resp->stopped || ls_stop_requested))
        ls_crm_stopped_result(r); /* cut off before the form left */
}

/* The answer on the mark: a form that never left loses its mark and gives
 * the day's slot back; one that left is created or unknown. */
static void record_answer(struct w2l *s, const struct ls_sink_item *it,
                          const struct ls_crm_resp *resp, const struct ls_sink_result *r,
                          struct day *d)
{
    enum ls_post_mark mk = r->outcome == LS_SINK_OK ? LS_POST_CREATED : LS_POST_UNKNOWN;

    if (!s->ledger)
        return;
    if (resp->status == 0 && !resp->sent) {
        if (ls_ledger_post_drop(s->ledger, s->id, it->lead_id, d->today) == LS_OK)
            d->count--;
        else
            LS_WARN(COMP,
                    "lead %s was not sent but its post mark stays (%s): a later attempt makes "
                    "it a dead letter",
                    it->lead_id, ls_error_last());
    } else if (ls_ledger_post_answer(s->ledger, s->id, it->lead_id, mk, resp->status,
                                     ls_now_ms()) != LS_OK) {
        LS_WARN(COMP, "lead %s: recording the answer: %s", it->lead_id, ls_error_last());
    }
}

/* Marks and counts the lead, durably, before the post: a crash after it
 * must neither post the lead again nor let the day pass the limit. Then
 * posts and records the answer. 1 when the batch must stop. */
static int post_marked(struct w2l *s, const struct ls_sink_item *it, const char *form,
                       struct day *d, struct ls_sink_result *r)
{
    struct ls_crm_resp resp;

    if (s->ledger && ls_ledger_post_begin(s->ledger, s->id, it->lead_id, it->delivery_id, d->today,
                                          ls_now_ms()) != LS_OK)
        return ledger_failed(r);
    d->count++;
    ls_crashpoint("w2l-marked");
    post_form(s, form, &resp, r);
    ls_crashpoint("w2l-answered");
    record_answer(s, it, &resp, r, d);
    ls_crm_resp_dispose(&resp);
    ls_crashpoint("w2l-recorded");
    if (r->outcome == LS_SINK_REJECT)
        LS_WARN(COMP, "lead %s: %s", it->lead_id, r->error);
    return r->outcome == LS_SINK_FATAL;
}

/* One item, *r its result. 1 when the batch must stop here: the ledger
 * failed, the day's limit is reached, or the endpoint is not usable. */
static int deliver_one(struct w2l *s, const struct ls_sink_item *it, struct day *d,
                       struct ls_sink_result *r)
{
    enum ls_post_mark mk;
    char *form = NULL;
    int mstatus, halt;

    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    if (never_posted(it, r))
        return 0;
    if (mark_get(s, it->lead_id, &mk, &mstatus) != LS_OK)
        return ledger_failed(r);
    if (posted_before(it, mk, mstatus, r))
        return 0;
    if (d->count >= s->limit)
        return limit_reached(s, r);
    if (ls_w2l_form(s->map, it->lead, s->oid, &form) != LS_OK) {
        r->outcome = LS_SINK_REJECT;
        snprintf(r->error, sizeof(r->error), "%s", ls_error_last());
        return 0;
    }
    halt = post_marked(s, it, form, d, r);
    free(form);
    return halt;
}

static int w2l_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                       struct ls_sink_result *results)
{
    struct w2l *s = ctx;
    struct day d = {{0}, 0};
    size_t i;
    int halt = 0, rc;

    for (i = 0; i < n; i++)
        ls_sink_not_sent(&results[i], LS_SINK_HALTED);
    ls_w2l_day(ls_now_ms(), d.today);
    if (!s->ledger)
        LS_INFO(COMP, "no ledger (send-test-lead): the post is neither marked nor counted");
    rc = s->ledger ? ls_ledger_post_count(s->ledger, s->id, d.today, &d.count) : LS_OK;
    if (rc)
        return rc;
    for (i = 0; i < n && !halt; i++) {
        if (ls_stop_requested) { /* a signal: post nothing new */
            for (; i < n; i++)
                ls_crm_stopped_result(&results[i]);
            break;
        }
        halt = deliver_one(s, &items[i], &d, &results[i]);
    }
    return LS_OK;
}

static int w2l_check(void *ctx, char *msg, size_t msglen)
{
    struct w2l *s = ctx;

    snprintf(msg, msglen,
             "configured (oid set, at most %ld posts a day); Web-to-Lead has no way to check "
             "credentials without creating a lead",
             s->limit);
    return LS_OK;
}

/* The web_to_lead sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_WEB_TO_LEAD_URL", LS_CONF_STRING, "https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8", LS_CONF_AT(web_to_lead_url), LS_CONF_URL, 0, 0, NULL,
     "Salesforce Web-to-Lead form endpoint", NULL},
    {"LEADSYNC_WEB_TO_LEAD_OID", LS_CONF_STRING, NULL, LS_CONF_AT(web_to_lead_oid), 0, 0, 0, NULL,
     "Salesforce organization id (oid) the Web-to-Lead form posts to", NULL},
    {"LEADSYNC_WEB_TO_LEAD_DAILY_LIMIT", LS_CONF_INT, "500", LS_CONF_AT(web_to_lead_daily_limit), 0, 1, 100000, NULL,
     "Web-to-Lead posts per UTC day (Salesforce accepts 500 a day per org)", NULL},
    {"LEADSYNC_WEB_TO_LEAD_MAPPING", LS_CONF_STRING, NULL, LS_CONF_AT(web_to_lead_mapping), 0, 0, 0, NULL,
     "JSON file extending the built-in Web-to-Lead form field mapping", NULL},
    {"LEADSYNC_WEB_TO_LEAD_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(web_to_lead_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for Web-to-Lead TLS instead of the system's", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_web_to_lead_ops = {
    .name = "web_to_lead",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 1,
    .create = w2l_create,
    .deliver = w2l_deliver,
    .check = w2l_check,
    .destroy = w2l_destroy,
    .use_ledger = w2l_use_ledger,
};
