/* sink_hubspot.c - HubSpot CRM v3 contacts sink (ls_hubspot.h). */
#include "ls_crm.h"
#include "ls_hubspot.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_oauth.h"
#include "ls_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMP "sink:hubspot"

/* ------------------------------------------------------------------------ */
/* Pure parts                                                                */

int ls_hs_input(const struct ls_mapping *m, const json_t *lead, const char *id_property,
                json_t **out, char **key)
{
    json_t *props = NULL, *v;
    char *id = NULL;
    const char *lid = json_string_value(json_object_get(lead, "leadId"));
    int custom = strcmp(id_property, "email") != 0;
    int rc;

    *out = NULL;
    *key = NULL;
    rc = ls_mapping_apply(m, lead, &props);
    if (rc)
        return rc;
    v = json_object_get(props, "email");
    if (json_is_string(v))
        id = ls_crm_lower_trim(json_string_value(v));
    if (custom && lid && *lid)
        json_object_set_new(props, id_property, json_string(lid));
    if (custom && (!id || !*id) && lid && *lid) {
        free(id);
        id = ls_xstrdup(lid); /* no e-mail: keyed on the custom property */
    } else {
        id_property = "email";
    }
    if (!id || !*id) {
        free(id);
        json_decref(props);
        return ls_error(LS_EINVAL, "no %s to key the contact on (idProperty %s)",
                        custom ? "e-mail or lead id" : "e-mail", id_property);
    }
    *out = json_pack("{s:s, s:s, s:o}", "idProperty", id_property, "id", id, "properties", props);
    *key = id;
    return *out ? LS_OK : ls_error(LS_ENOMEM, "out of memory");
}

/* 1 when the ";"-separated list has item (surrounding blanks ignored). */
static int list_has(const char *list, const char *item)
{
    size_t n = strlen(item);

    while (list && *list) {
        const char *end = strchr(list, ';');
        size_t len = end ? (size_t)(end - list) : strlen(list);

        while (len && (*list == ' ' || *list == '\t')) {
            list++;
            len--;
        }
        while (len && (list[len - 1] == ' ' || list[len - 1] == '\t'))
            len--;
        if (len == n && strncmp(list, item, n) == 0)
            return 1;
        list = end ? end + 1 : NULL;
    }
    return 0;
}

char *ls_hs_offers_union(const char *existing, const char *offer)
{
    if (!existing || !*existing)
        return ls_xstrdup(offer);
    if (!*offer || list_has(existing, offer))
        return ls_xstrdup(existing);
    return ls_xasprintf("%s;%s", existing, offer);
}

void ls_hs_merge(json_t *input, const json_t *found, const char *offers_prop, const char *offer,
                 const char *id_prop)
{
    json_t *props = json_object_get(input, "properties");
    const char *had;

    if (offers_prop && offer && *offer) {
        char *all =
            ls_hs_offers_union(json_string_value(json_object_get(found, offers_prop)), offer);

        json_object_set_new(props, offers_prop, json_string(all));
        free(all);
    }
    had = json_string_value(json_object_get(found, id_prop));
    if (strcmp(id_prop, "email") != 0 && had && *had &&
        strcmp(json_string_value(json_object_get(input, "idProperty")), id_prop) != 0)
        json_object_del(props, id_prop);
}

int ls_hs_read_found(const char *body, size_t len, const char *id_property, const char *const *ids,
                     size_t n, json_t **found)
{
    json_t *doc = json_loadb(body ? body : "", len, 0, NULL), *res, *r;
    size_t i, j;

    for (i = 0; i < n; i++)
        found[i] = NULL;
    res = json_object_get(doc, "results");
    if (!json_is_array(res)) {
        json_decref(doc);
        return ls_error(LS_EPARSE, "HubSpot batch/read answer without results");
    }
    json_array_foreach(res, j, r)
    {
        json_t *props = json_object_get(r, "properties");
        const char *v = json_string_value(json_object_get(props, id_property));

        for (i = 0; v && i < n; i++) {
            if (!found[i] && strcasecmp(ids[i], v) == 0)
                found[i] = json_incref(props);
        }
    }
    json_decref(doc);
    return LS_OK;
}

static void set_all(struct ls_sink_result *res, size_t n, enum ls_outcome o, int status, int auth,
                    int throttled, const char *msg)
{
    size_t i;

    for (i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        res[i].outcome = o;
        res[i].status = status;
        res[i].retry_after_ms = -1;
        res[i].throttled = throttled;
        res[i].auth = auth;
        snprintf(res[i].error, sizeof(res[i].error), "%s", msg);
    }
}

static const char *str_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

static int64_t next_utc_midnight_ms(int64_t now_ms)
{
    const int64_t day = 86400000;

    return (now_ms / day + 1) * day - now_ms;
}

/* Which input ids an error names: context.ids (or context.id). */
static void mark_error(const json_t *err, const char *const *ids, size_t n, int update_only,
                       int status, struct ls_sink_result *res)
{
    const json_t *ctx = json_object_get(err, "context");
    const json_t *named = json_object_get(ctx, "ids");
    const char *cat = str_of(err, "category");
    size_t i, j;

    if (!json_is_array(named))
        named = json_object_get(ctx, "id");
    for (j = 0; j < json_array_size(named); j++) {
        const char *id = json_string_value(json_array_get(named, j));

        for (i = 0; id && i < n; i++) {
            if (strcasecmp(ids[i], id) != 0)
                continue;
            memset(&res[i], 0, sizeof(res[i]));
            res[i].retry_after_ms = -1;
            res[i].status = status;
            if (update_only && strcmp(cat, "OBJECT_NOT_FOUND") == 0) {
                res[i].outcome = LS_SINK_OK;
                snprintf(res[i].error, sizeof(res[i].error), "not in HubSpot: nothing to update");
            } else {
                res[i].outcome = LS_SINK_REJECT;
                snprintf(res[i].error, sizeof(res[i].error), "HubSpot %.40s: %.250s",
                         *cat ? cat : "error", str_of(err, "message"));
            }
        }
    }
}

/* The pause a throttling answer asks for (429 with the daily or the
 * ten-second limit, 423, 477); -1 for any other status. */
static long throttle_pause_ms(int status, long retry_after_ms, const json_t *doc, int64_t now_ms)
{
    if (status == 429) {
        int daily = json_is_object(doc) && strcmp(str_of(doc, "policyName"), "DAILY") == 0;
        long p = daily ? (long)next_utc_midnight_ms(now_ms) : 10000;

        if (retry_after_ms >= 0 && (!daily || retry_after_ms > p))
            p = retry_after_ms;
        return p;
    }
    if (status == 423)
        return retry_after_ms > 2000 ? retry_after_ms : 2000;
    if (status == 477)
        return retry_after_ms >= 0 ? retry_after_ms : 60000;
    return -1;
}

enum ls_hs_signal ls_hs_classify(int status, long retry_after_ms, const char *body, size_t len,
                                 const char *const *ids, size_t n, int update_only, int64_t now_ms,
                                 struct ls_sink_result *res, long *pause_ms)
{
    json_t *doc = NULL;
    enum ls_hs_signal sig = LS_HS_NONE;
    char ex[200], msg[300];
    long pause;
    size_t i;

    *pause_ms = -1;
    if (n == 0)
        return LS_HS_NONE;
    if (status == 0) {
        set_all(res, n, LS_SINK_RETRY, 0, 0, 0, "no answer from HubSpot");
        return LS_HS_NONE;
    }
    doc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(doc) && json_string_value(json_object_get(doc, "message")))
        snprintf(ex, sizeof(ex), "%.190s", str_of(doc, "message"));
    else
        ls_crm_excerpt(ex, sizeof(ex), body ? body : "", body ? len : 0);
    snprintf(msg, sizeof(msg), "HTTP %d: %s", status, ex);
    if (status == 200 || status == 201 || status == 204) {
        set_all(res, n, LS_SINK_OK, status, 0, 0, "");
    } else if (status == 207) {
        const json_t *errs = json_object_get(doc, "errors"), *e;

        set_all(res, n, LS_SINK_OK, status, 0, 0, "");
        json_array_foreach(errs, i, e) mark_error(e, ids, n, update_only, status, res);
    } else if (status == 401) {
        set_all(res, n, LS_SINK_FATAL, status, 1, 0,
                "HubSpot refused the private-app token (401): it was revoked or rotated; set a "
                "valid LEADSYNC_HUBSPOT_TOKEN");
    } else if (status == 403) {
        char m[300];

        snprintf(
            m, sizeof(m),
            "HubSpot denied access (403, the token lacks crm.objects.contacts scopes?): %.150s",
            ex);
        set_all(res, n, LS_SINK_FATAL, status, 1, 0, m);
    } else if ((pause = throttle_pause_ms(status, retry_after_ms, doc, now_ms)) >= 0) {
        set_all(res, n, LS_SINK_RETRY, status, 0, 1, msg);
        *pause_ms = pause;
        sig = LS_HS_PAUSE;
    } else if (status == 408 || status >= 500) {
        set_all(res, n, LS_SINK_RETRY, status, 0, 0, msg);
    } else if (status == 404 &&
               !(json_is_object(doc) && strcmp(str_of(doc, "category"), "OBJECT_NOT_FOUND") == 0)) {
        char m[300];

        snprintf(m, sizeof(m), "HubSpot: not found (404; check LEADSYNC_HUBSPOT_BASE_URL): %.150s",
                 ex);
        set_all(res, n, LS_SINK_FATAL, status, 0, 0, m);
    } else if ((status == 400 || status == 409) && n > 1) {
        set_all(res, n, LS_SINK_RETRY, status, 0, 0, msg);
        sig = LS_HS_SINGLE;
    } else if (update_only && json_is_object(doc) &&
               strcmp(str_of(doc, "category"), "OBJECT_NOT_FOUND") == 0) {
        set_all(res, n, LS_SINK_OK, status, 0, 0, "not in HubSpot: nothing to update");
    } else {
        set_all(res, n, LS_SINK_REJECT, status, 0, 0, msg);
    }
    json_decref(doc);
    return sig;
}

/* ------------------------------------------------------------------------ */
/* The sink                                                                  */

struct hs {
    struct ls_crm_http *http;
    struct ls_mapping *map;
    char *upsert_url;
    char *update_url;
    char *check_url;
    char *optout_url; /* <base>/communication-preferences/v4/statuses/ */
    char *read_url;
    char *token; /* the private-app token, as configured */
    struct ls_oauth oauth;
    char *id_property;
    char *offers_property; /* NULL: offers are not recorded */
    long batch;
};

static void hs_free(struct hs *s)
{
    if (!s)
        return;
    ls_crm_http_free(s->http);
    ls_mapping_free(s->map);
    free(s->upsert_url);
    free(s->update_url);
    free(s->check_url);
    free(s->optout_url);
    ls_secret_free(s->token);
    ls_oauth_dispose(&s->oauth);
    free(s->id_property);
    free(s->offers_property);
    free(s->read_url);
    free(s);
}

/* The ls_oauth fetch of a private-app token: the configured one. */
static int fixed_token(void *ctx, void *arg, struct ls_oauth_token *out)
{
    (void)arg;
    out->value = ls_xstrdup(((struct hs *)ctx)->token);
    out->expires_ms = 0;
    return LS_OK;
}

static int never_refused(const struct ls_crm_resp *resp)
{
    (void)resp;
    return 0;
}

static int hs_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct hs *s = ls_xcalloc(1, sizeof(*s));
    char *base = NULL;
    size_t n;
    int rc = LS_OK;

    *ctx = NULL;
    if (arg && *arg) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: hubspot takes no argument; configure it with "
                                  "LEADSYNC_HUBSPOT_*");
        goto done;
    }
    if (!cfg->hubspot_token || !*cfg->hubspot_token) {
        rc = ls_error(LS_ECONFIG, "sink hubspot: LEADSYNC_HUBSPOT_TOKEN is not set (a private-app "
                                  "access token)");
        goto done;
    }
    if (strpbrk(cfg->hubspot_token, "\r\n")) {
        rc = ls_error(LS_ECONFIG, "sink hubspot: LEADSYNC_HUBSPOT_TOKEN holds a line break");
        goto done;
    }
    if (!cfg->hubspot_id_property || !*cfg->hubspot_id_property ||
        strpbrk(cfg->hubspot_id_property, "\"\\/?#; ")) {
        rc = ls_error(LS_ECONFIG, "sink hubspot: LEADSYNC_HUBSPOT_ID_PROPERTY must be a property "
                                  "name");
        goto done;
    }
    if (cfg->hubspot_offers_property && strpbrk(cfg->hubspot_offers_property, "\"\\/?#; ")) {
        rc = ls_error(LS_ECONFIG, "sink hubspot: LEADSYNC_HUBSPOT_OFFERS_PROPERTY must be a "
                                  "property name");
        goto done;
    }
    base = ls_xstrdup(cfg->hubspot_base_url && *cfg->hubspot_base_url ? cfg->hubspot_base_url
                                                                      : "https://api.hubapi.com");
    n = strlen(base);
    while (n && base[n - 1] == '/')
        base[--n] = '\0';
    s->upsert_url = ls_xasprintf("%s/crm/v3/objects/contacts/batch/upsert", base);
    s->update_url = ls_xasprintf("%s/crm/v3/objects/contacts/batch/update", base);
    s->check_url = ls_xasprintf("%s/crm/v3/objects/contacts?limit=1", base);
    s->optout_url = ls_xasprintf("%s/communication-preferences/v4/statuses/", base);
    s->token = ls_xstrdup(cfg->hubspot_token);
    s->read_url = ls_xasprintf("%s/crm/v3/objects/contacts/batch/read", base);
    s->id_property = ls_xstrdup(cfg->hubspot_id_property);
    if (cfg->hubspot_offers_property && *cfg->hubspot_offers_property)
        s->offers_property = ls_xstrdup(cfg->hubspot_offers_property);
    s->batch = cfg->hubspot_batch > 0 ? cfg->hubspot_batch : 100;
    rc = ls_mapping_load("hubspot", cfg->hubspot_mapping, &s->map);
    if (rc)
        goto done;
    rc = ls_crm_http_create("hubspot", cfg->hubspot_ca_file, cfg->http_timeout_seconds, &s->http);
    if (rc)
        goto done;
    ls_crm_http_stop_grace(s->http, cfg->stop_grace_seconds);
    ls_oauth_init(&s->oauth, fixed_token, s, 0);
    *ctx = s;
    s = NULL;
done:
    free(base);
    hs_free(s);
    return rc;
}

static void hs_destroy(void *ctx)
{
    hs_free(ctx);
}

/* One request with the token; 0 with *resp, or an ls_err. A refused
 * private-app token is not asked for again (it cannot be renewed). */
static int hs_request(struct hs *s, const char *method, const char *url, const char *body,
                      struct ls_crm_resp *resp)
{
    static const char *const hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                                       NULL};
    struct ls_crm_req req = {method,    url,  hdrs,         body, body ? strlen(body) : 0,
                             &s->oauth, NULL, never_refused};

    return ls_crm_call(s->http, &req, resp);
}

/* 1 when resp is an HTTP answer; else fills res[0..k) (not sent on a stop,
 * retried when HubSpot is unreachable, fatal on TLS or URL trouble). */
static int answered(const struct ls_crm_resp *resp, struct ls_sink_result *res, size_t k)
{
    char m[300];
    size_t i;

    if (resp->stopped) {
        for (i = 0; i < k; i++)
            ls_crm_stopped_result(&res[i]);
        return 0;
    }
    if (resp->status != 0)
        return 1;
    snprintf(m, sizeof(m), "HubSpot unreachable: %.250s", resp->transport);
    set_all(res, k, resp->tls_config ? LS_SINK_FATAL : LS_SINK_RETRY, 0, 0, 0, m);
    return 0;
}

/* One batch call of k inputs. Returns the signal; fills res and *pause_ms. */
static enum ls_hs_signal batch_call(struct hs *s, json_t *const *inputs, const char *const *ids,
                                    size_t k, int update_only, struct ls_sink_result *res,
                                    long *pause_ms)
{
    json_t *arr = json_array(), *doc;
    char *body = NULL;
    struct ls_crm_resp resp;
    enum ls_hs_signal sig = LS_HS_NONE;
    size_t i;

    memset(&resp, 0, sizeof(resp));
    *pause_ms = -1;
    for (i = 0; i < k; i++)
        json_array_append(arr, inputs[i]);
    doc = json_pack("{s:o}", "inputs", arr);
    body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!body) {
        set_all(res, k, LS_SINK_REJECT, 0, 0, 0, "the contacts do not serialize as JSON");
        goto done;
    }
    if (hs_request(s, "POST", update_only ? s->update_url : s->upsert_url, body, &resp) != LS_OK) {
        set_all(res, k, LS_SINK_RETRY, 0, 0, 0, ls_error_last());
        goto done;
    }
    if (answered(&resp, res, k))
        sig = ls_hs_classify(resp.status, resp.retry_after_ms, resp.body, resp.len, ids, k,
                             update_only, ls_now_ms(), res, pause_ms);
done:
    json_decref(doc);
    free(body);
    ls_crm_resp_dispose(&resp);
    return sig;
}

/* The batch/read request body for k inputs keyed on idp. malloc'd. */
static char *read_body(const struct hs *s, const char *idp, const char *const *ids, size_t k)
{
    json_t *in = json_array(), *props = json_array(), *doc;
    char *body;
    size_t i;

    for (i = 0; i < k; i++)
        json_array_append_new(in, json_pack("{s:s}", "id", ids[i]));
    json_array_append_new(props, json_string(idp));
    if (s->offers_property)
        json_array_append_new(props, json_string(s->offers_property));
    if (strcmp(s->id_property, idp) != 0)
        json_array_append_new(props, json_string(s->id_property));
    doc = json_pack("{s:s, s:o, s:o}", "idProperty", idp, "inputs", in, "properties", props);
    body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return body;
}

/*
 * The read of the read-modify-write: the contacts of k upsert inputs (keyed
 * on one idProperty) read back and merged into the inputs (ls_hs_merge).
 * Returns 1 when the upsert may go; else 0 with res[0..k) and *sig filled.
 */
static int read_merge(struct hs *s, json_t *const *inputs, const char *const *ids,
                      const char *const *offers, size_t k, struct ls_sink_result *res,
                      long *pause_ms, enum ls_hs_signal *sig)
{
    const char *idp = json_string_value(json_object_get(inputs[0], "idProperty"));
    json_t **found = ls_xcalloc(k, sizeof(*found));
    char *body = read_body(s, idp, ids, k);
    struct ls_crm_resp resp;
    size_t i;
    int ok = 0;

    memset(&resp, 0, sizeof(resp));
    *sig = LS_HS_NONE;
    if (!body || hs_request(s, "POST", s->read_url, body, &resp) != LS_OK) {
        set_all(res, k, LS_SINK_RETRY, 0, 0, 0, body ? ls_error_last() : "out of memory");
    } else if (answered(&resp, res, k) && (resp.status == 200 || resp.status == 207)) {
        ok = ls_hs_read_found(resp.body, resp.len, idp, ids, k, found) == LS_OK;
        if (!ok)
            set_all(res, k, LS_SINK_RETRY, resp.status, 0, 0, ls_error_last());
    } else if (resp.status) {
        /* 404 OBJECT_NOT_FOUND (none of them exists yet) classifies as OK */
        *sig = ls_hs_classify(resp.status, resp.retry_after_ms, resp.body, resp.len, ids, k, 1,
                              ls_now_ms(), res, pause_ms);
        ok = *sig == LS_HS_NONE && res[0].outcome == LS_SINK_OK;
        if (*sig == LS_HS_SINGLE || res[0].outcome == LS_SINK_REJECT)
            set_all(res, k, LS_SINK_FATAL, resp.status, 0, 0,
                    "HubSpot refused to read contacts back (batch/read) for the offers list; "
                    "check LEADSYNC_HUBSPOT_ID_PROPERTY and LEADSYNC_HUBSPOT_OFFERS_PROPERTY");
        if (*sig == LS_HS_SINGLE)
            *sig = LS_HS_NONE;
    }
    for (i = 0; ok && i < k; i++)
        ls_hs_merge(inputs[i], found[i], s->offers_property, offers[i], s->id_property);
    for (i = 0; i < k; i++)
        json_decref(found[i]);
    free(found);
    free(body);
    ls_crm_resp_dispose(&resp);
    return ok;
}

static int is_dnc_item(const struct ls_sink_item *it)
{
    return json_is_true(json_object_get(it->lead, "doNotContact"));
}

/*
 * Opts an e-mail address out of all e-mail the documented way: HubSpot's
 * subscription preferences API (v4), POST .../statuses/{email}/
 * unsubscribe-all?channel=EMAIL. hs_email_optout is read-only and cannot be
 * written. The address needs no contact (none is created); one HubSpot does
 * not know is opted out all the same. Fills *r.
 */
static void opt_out(struct hs *s, const char *email, struct ls_sink_result *r)
{
    char *esc = ls_crm_escape(email);
    char *url = ls_xasprintf("%s%s/unsubscribe-all?channel=EMAIL", s->optout_url, esc);
    struct ls_crm_resp resp;
    long pause_ms = -1;

    memset(&resp, 0, sizeof(resp));
    if (hs_request(s, "POST", url, "{}", &resp) != LS_OK) {
        set_all(r, 1, LS_SINK_NOT_SENT, 0, 0, 0, ls_error_last());
    } else if (resp.stopped) {
        ls_crm_stopped_result(r);
    } else if (resp.status == 0) {
        char m[300];

        snprintf(m, sizeof(m), "HubSpot unreachable: %.250s", resp.transport);
        set_all(r, 1, resp.tls_config ? LS_SINK_FATAL : LS_SINK_RETRY, 0, 0, 0, m);
    } else if (ls_hs_classify(resp.status, resp.retry_after_ms, resp.body, resp.len, &email, 1, 1,
                              ls_now_ms(), r, &pause_ms) == LS_HS_PAUSE) {
        r->retry_after_ms = pause_ms;
    }
    ls_crm_resp_dispose(&resp);
    free(url);
    free(esc);
}

/* The DNC leads of the batch, opted out of e-mail one by one before their
 * contact is marked (batch/update: existing contacts only). A lead whose
 * opt-out did not go through is settled in results; *halt after a
 * throttled or fatal answer. Returns how many were settled. */
static size_t opt_out_all(struct hs *s, const struct ls_sink_item *items, size_t n, int *todo,
                          struct ls_sink_result *results, int *halt)
{
    size_t i, settled = 0;

    for (i = 0; i < n && !*halt; i++) {
        const char *mail;
        char *email;
        struct ls_sink_result r;

        if (!todo[i] || !is_dnc_item(&items[i]))
            continue;
        mail = json_string_value(ls_mapping_lookup(items[i].lead, "customer.email"));
        email = mail ? ls_crm_lower_trim(mail) : NULL;
        if (email && *email) {
            opt_out(s, email, &r);
            if (r.outcome != LS_SINK_OK) {
                results[i] = r;
                todo[i] = 0;
                settled++;
                *halt = ls_sink_halts(&r);
            }
        }
        free(email);
    }
    return settled;
}

/*
 * One call for k inputs; when HubSpot refuses the call as a whole (a bad
 * input: with idProperty email it does not answer per input), the inputs
 * are split in halves and each half sent again, down to the bad ones: about
 * 2*log2(k) calls for one bad input instead of k.
 */
static enum ls_hs_signal bisect_call(struct hs *s, json_t *const *inputs, const char *const *ids,
                                     size_t k, int update_only, struct ls_sink_result *res,
                                     long *pause_ms)
{
    enum ls_hs_signal sig = batch_call(s, inputs, ids, k, update_only, res, pause_ms);
    size_t half = k / 2, i;

    if (sig != LS_HS_SINGLE || k < 2)
        return sig;
    LS_DEBUG(COMP, "batch of %zu refused as a whole: splitting it", k);
    sig = bisect_call(s, inputs, ids, half, update_only, res, pause_ms);
    for (i = 0; i < half; i++) {
        if (ls_sink_halts(&res[i])) {
            for (i = half; i < k; i++)
                ls_sink_not_sent(&res[i], LS_SINK_HALTED);
            return sig;
        }
    }
    return bisect_call(s, inputs + half, ids + half, k - half, update_only, res + half, pause_ms);
}

/* One deliver() call's work: every item's input, and the chunk in hand. */
struct work {
    const struct ls_sink_item *items;
    size_t n;
    json_t **inputs;
    char **keys;
    int *todo;
    size_t *idx; /* the chunk: items[idx[j]] */
    json_t **chunk;
    const char **cids;
    const char **offers;
    struct ls_sink_result *cres;
};

static const char *input_id_property(const json_t *input)
{
    return json_string_value(json_object_get(input, "idProperty"));
}

/* The next chunk: one kind per call (upsert or DNC update) and one
 * idProperty, each id once, in order. Returns its size; *dnc its kind. */
static size_t pick_chunk(const struct hs *s, struct work *w, int *dnc)
{
    size_t i, j, k = 0, first = w->n;

    for (i = 0; i < w->n && k < (size_t)s->batch; i++) {
        int dup = 0;

        if (!w->todo[i])
            continue;
        if (first == w->n) {
            first = i;
            *dnc = is_dnc_item(&w->items[i]);
        } else if (is_dnc_item(&w->items[i]) != *dnc ||
                   strcmp(input_id_property(w->inputs[i]), input_id_property(w->inputs[first])) !=
                       0) {
            continue;
        }
        for (j = 0; j < k && !dup; j++)
            dup = strcasecmp(w->cids[j], w->keys[i]) == 0;
        if (dup)
            continue;
        w->idx[k] = i;
        w->cids[k] = w->keys[i];
        w->offers[k] = json_string_value(json_object_get(w->items[i].lead, "offerId"));
        w->chunk[k++] = w->inputs[i];
    }
    return k;
}

/* Sends one chunk (reading the contacts back first when the upsert must
 * merge into them) and settles its items. Returns 1 when the batch halts. */
static int send_chunk(struct hs *s, struct work *w, size_t k, int dnc,
                      struct ls_sink_result *results)
{
    long pause_ms = -1;
    enum ls_hs_signal sig = LS_HS_NONE;
    int halt = 0, merge = !dnc && (s->offers_property || strcmp(s->id_property, "email") != 0);
    size_t j;

    if (!merge || read_merge(s, w->chunk, w->cids, w->offers, k, w->cres, &pause_ms, &sig))
        sig = bisect_call(s, w->chunk, w->cids, k, dnc, w->cres, &pause_ms);
    for (j = 0; j < k; j++) {
        struct ls_sink_result *r = &results[w->idx[j]];

        *r = w->cres[j];
        if (sig == LS_HS_PAUSE)
            r->retry_after_ms = pause_ms;
        w->todo[w->idx[j]] = 0;
        if (r->outcome == LS_SINK_OK && dnc && r->error[0])
            LS_INFO(COMP, "lead %s is do-not-contact and not in HubSpot: nothing created",
                    w->items[w->idx[j]].lead_id);
        halt |= ls_sink_halts(r);
    }
    if (sig == LS_HS_PAUSE)
        LS_WARN(COMP, "HubSpot throttled (HTTP %d): sink paused %ld ms", w->cres[0].status,
                pause_ms);
    return halt;
}

static int hs_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                      struct ls_sink_result *results)
{
    struct hs *s = ctx;
    size_t cap = n ? n : 1, left = 0, i;
    struct work w = {items,
                     n,
                     ls_xcalloc(cap, sizeof(json_t *)),
                     ls_xcalloc(cap, sizeof(char *)),
                     ls_xcalloc(cap, sizeof(int)),
                     ls_xcalloc(cap, sizeof(size_t)),
                     ls_xcalloc(cap, sizeof(json_t *)),
                     ls_xcalloc(cap, sizeof(char *)),
                     ls_xcalloc(cap, sizeof(char *)),
                     ls_xcalloc(cap, sizeof(struct ls_sink_result))};
    int halt = 0;

    for (i = 0; i < n; i++) {
        ls_sink_not_sent(&results[i], LS_SINK_HALTED);
        if (ls_hs_input(s->map, items[i].lead, s->id_property, &w.inputs[i], &w.keys[i]) != LS_OK) {
            set_all(&results[i], 1, LS_SINK_REJECT, 0, 0, 0, ls_error_last());
            continue;
        }
        w.todo[i] = 1;
        left++;
    }
    left -= opt_out_all(s, items, n, w.todo, results, &halt);
    while (left && !halt) {
        int dnc = 0;
        size_t k = pick_chunk(s, &w, &dnc);

        halt = send_chunk(s, &w, k, dnc, results);
        left -= k;
    }
    for (i = 0; i < n; i++) {
        json_decref(w.inputs[i]);
        free(w.keys[i]);
    }
    free(w.inputs);
    free(w.keys);
    free(w.todo);
    free(w.idx);
    free(w.chunk);
    free(w.cids);
    free(w.offers);
    free(w.cres);
    return LS_OK;
}

static int hs_check(void *ctx, char *msg, size_t msglen)
{
    struct hs *s = ctx;
    struct ls_crm_resp resp;
    struct ls_sink_result r;
    const char *id = "";
    long pause;
    int rc = LS_OK;

    memset(&resp, 0, sizeof(resp));
    if (hs_request(s, "GET", s->check_url, NULL, &resp) != LS_OK) {
        snprintf(msg, msglen, "%s", ls_error_last());
        rc = LS_EUNAVAIL;
        goto done;
    }
    if (resp.status == 0) {
        snprintf(msg, msglen, "HubSpot unreachable: %.250s", resp.transport);
        rc = resp.tls_config ? LS_ECONFIG : LS_EUNAVAIL;
        goto done;
    }
    ls_hs_classify(resp.status, resp.retry_after_ms, resp.body, resp.len, &id, 1, 0, ls_now_ms(),
                   &r, &pause);
    if (r.outcome != LS_SINK_OK) {
        snprintf(msg, msglen, "%s", r.error);
        rc = r.outcome == LS_SINK_FATAL ? (r.auth ? LS_EAUTH : LS_ECONFIG) : LS_EUNAVAIL;
        goto done;
    }
    snprintf(msg, msglen, "token ok, one contact per e-mail%s%s%s%s",
             strcmp(s->id_property, "email") ? ", lead id in " : "",
             strcmp(s->id_property, "email") ? s->id_property : "",
             s->offers_property ? ", offers in " : "",
             s->offers_property ? s->offers_property : "");
done:
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* The hubspot sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_HUBSPOT_BASE_URL", LS_CONF_STRING, "https://api.hubapi.com", LS_CONF_AT(hubspot_base_url), LS_CONF_URL, 0, 0, NULL,
     "HubSpot API base URL", NULL},
    {"LEADSYNC_HUBSPOT_TOKEN", LS_CONF_STRING, NULL, LS_CONF_AT(hubspot_token), LS_CONF_SECRET, 0, 0, NULL,
     "HubSpot private-app (static) access token with crm.objects.contacts.read/write", NULL},
    {"LEADSYNC_HUBSPOT_ID_PROPERTY", LS_CONF_STRING, "email", LS_CONF_AT(hubspot_id_property), 0, 0, 0, NULL,
     "email, or a custom unique contact property that receives the lead id of the person's first lead (contacts are one per person, keyed on the e-mail; the custom property keys leads without one)", NULL},
    {"LEADSYNC_HUBSPOT_OFFERS_PROPERTY", LS_CONF_STRING, NULL, LS_CONF_AT(hubspot_offers_property), 0, 0, 0, NULL,
     "contact property (multiple checkboxes or text) listing every offer the person asked about, ;-separated; empty: not recorded", NULL},
    {"LEADSYNC_HUBSPOT_MAPPING", LS_CONF_STRING, NULL, LS_CONF_AT(hubspot_mapping), 0, 0, 0, NULL,
     "JSON file extending the built-in HubSpot field mapping", NULL},
    {"LEADSYNC_HUBSPOT_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(hubspot_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for HubSpot TLS instead of the system's", NULL},
    {"LEADSYNC_HUBSPOT_BATCH", LS_CONF_INT, "100", LS_CONF_AT(hubspot_batch), 0, 1, 100, NULL,
     "contacts per HubSpot batch call", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_hubspot_ops = {
    .name = "hubspot",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 1,
    .create = hs_create,
    .deliver = hs_deliver,
    .check = hs_check,
    .destroy = hs_destroy,
};
