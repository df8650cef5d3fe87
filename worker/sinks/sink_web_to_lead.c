/* sink_web_to_lead.c - Salesforce Web-to-Lead form sink (ls_web_to_lead.h). */
#include "ls_crm.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_sink.h"
#include "ls_web_to_lead.h"

#include <curl/curl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP     "sink:web_to_lead"
#define META_KEY "sink.web_to_lead.posts"

/* The dead letter of a lead whose earlier post has no known outcome. */
#define W2L_UNKNOWN                                                                                \
    "outcome unknown: the post may have reached Salesforce before a crash; not posted again "      \
    "(Web-to-Lead cannot deduplicate): check Salesforce and `leadsync retry` only if the lead "    \
    "is missing"

/* ------------------------------------------------------------------------ */
/* Pure parts                                                                */

int ls_w2l_form(const struct ls_mapping *m, const json_t *lead, const char *oid, char **out)
{
    json_t *rec = NULL, *v;
    const char *k;
    char *buf = NULL, *e = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = ls_mapping_apply(m, lead, &rec);
    if (rc)
        return rc;
    e = ls_crm_escape(oid);
    buf = ls_xasprintf("oid=%s", e);
    len = strlen(buf);
    free(e);
    json_object_foreach(rec, k, v)
    {
        char *val = NULL, *ek, *ev, *piece;
        size_t pl;

        if (json_is_string(v))
            val = ls_xstrdup(json_string_value(v));
        else if (json_is_integer(v))
            val = ls_xasprintf("%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            val = ls_xasprintf("%g", json_real_value(v));
        else if (json_is_true(v))
            val = ls_xstrdup("1");
        else if (json_is_false(v))
            val = ls_xstrdup("0");
        if (!val)
            continue;
        ek = ls_crm_escape(k);
        ev = ls_crm_escape(val);
        piece = ls_xasprintf("&%s=%s", ek, ev);
        pl = strlen(piece);
        buf = ls_xrealloc(buf, len + pl + 1);
        memcpy(buf + len, piece, pl + 1);
        len += pl;
        free(piece);
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

long ls_w2l_count_for(const char *stored, const char *today)
{
    const char *p;
    long v = 0;
    int digits = 0;

    if (!stored || strlen(stored) < 12 || strncmp(stored, today, 10) != 0 || stored[10] != ' ')
        return 0;
    for (p = stored + 11; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
        v = v * 10 + (*p - '0');
    return digits && !*p ? v : 0;
}

/* ------------------------------------------------------------------------ */
/* The sink                                                                  */

struct w2l {
    struct ls_mapping *map;
    CURL *easy;
    char *url;
    char *oid;
    char *ca_file;
    char *state; /* ledger path: the daily count lives in its meta table */
    sqlite3 *db;
    long limit;
    long timeout_s;
    struct ls_crm_stop stop; /* the post in flight when a signal asks to stop */
    char ua[64];
    char errbuf[CURL_ERROR_SIZE];
};

static void w2l_free(struct w2l *s)
{
    if (!s)
        return;
    ls_mapping_free(s->map);
    if (s->easy) {
        curl_easy_cleanup(s->easy);
        curl_global_cleanup();
    }
    if (s->db)
        sqlite3_close(s->db);
    free(s->url);
    free(s->oid);
    free(s->ca_file);
    free(s->state);
    free(s);
}

static int w2l_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct w2l *s = ls_xcalloc(1, sizeof(*s));
    int rc = LS_OK;

    *ctx = NULL;
    if (arg && *arg) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: web_to_lead takes no argument; configure it "
                                  "with LEADSYNC_WEB_TO_LEAD_*");
        goto done;
    }
    if (!cfg->web_to_lead_oid || !*cfg->web_to_lead_oid ||
        strspn(cfg->web_to_lead_oid,
               "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
            strlen(cfg->web_to_lead_oid)) {
        rc = ls_error(LS_ECONFIG, "sink web_to_lead: LEADSYNC_WEB_TO_LEAD_OID must be the "
                                  "Salesforce organization id (00D...)");
        goto done;
    }
    if (!cfg->web_to_lead_url || strncmp(cfg->web_to_lead_url, "https://", 8) != 0) {
        rc = ls_error(LS_ECONFIG, "sink web_to_lead: LEADSYNC_WEB_TO_LEAD_URL must be an https:// "
                                  "URL");
        goto done;
    }
    if (cfg->web_to_lead_ca_file && *cfg->web_to_lead_ca_file) {
        FILE *f = fopen(cfg->web_to_lead_ca_file, "r");

        if (!f) {
            rc = ls_error(LS_ECONFIG, "web_to_lead: cannot read the CA file %s",
                          cfg->web_to_lead_ca_file);
            goto done;
        }
        fclose(f);
        s->ca_file = ls_xstrdup(cfg->web_to_lead_ca_file);
    }
    s->url = ls_xstrdup(cfg->web_to_lead_url);
    s->oid = ls_xstrdup(cfg->web_to_lead_oid);
    s->state = ls_xstrdup(cfg->state ? cfg->state : "./leadsync.db");
    s->limit = cfg->web_to_lead_daily_limit > 0 ? cfg->web_to_lead_daily_limit : 500;
    s->timeout_s = cfg->http_timeout_seconds > 0 ? cfg->http_timeout_seconds : 30;
    s->stop.comp = COMP;
    s->stop.grace_s = cfg->stop_grace_seconds;
    snprintf(s->ua, sizeof(s->ua), "leadsync/%s", LS_VERSION);
    rc = ls_mapping_load("web_to_lead", cfg->web_to_lead_mapping, &s->map);
    if (rc)
        goto done;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = ls_error(LS_ERROR, "web_to_lead: curl_global_init failed");
        goto done;
    }
    s->easy = curl_easy_init();
    if (!s->easy) {
        curl_global_cleanup();
        rc = ls_error(LS_ERROR, "web_to_lead: curl_easy_init failed");
        goto done;
    }
    LS_WARN(COMP,
            "Web-to-Lead cannot deduplicate or update: each lead id is posted once, "
            "never retried after the form was sent, do-not-contact leads are not sent, "
            "and at most %ld posts go out per UTC day",
            s->limit);
    *ctx = s;
    s = NULL;
done:
    w2l_free(s);
    return rc;
}

static void w2l_destroy(void *ctx)
{
    w2l_free(ctx);
}

/* The ledger (its meta table and web_to_lead_posts), through a connection
 * of our own, opened when first needed: the ledger exists and is migrated by
 * then. synchronous=FULL: a post's mark is on disk before the form goes out. */
static int db_ready(struct w2l *s)
{
    if (s->db)
        return LS_OK;
    if (sqlite3_open_v2(s->state, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        int rc = ls_error(LS_EDB, "web_to_lead: cannot open the ledger: %s",
                          s->db ? sqlite3_errmsg(s->db) : "out of memory");

        sqlite3_close(s->db);
        s->db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = ls_error(LS_EDB, "web_to_lead: ledger: %s", sqlite3_errmsg(s->db));

        sqlite3_close(s->db);
        s->db = NULL;
        return rc;
    }
    return LS_OK;
}

static int db_exec(struct w2l *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return ls_error(LS_EDB, "web_to_lead: %s: %s", what, sqlite3_errmsg(s->db));
    return LS_OK;
}

static int count_get(struct w2l *s, const char *today, long *count)
{
    sqlite3_stmt *st = NULL;
    int rc = db_ready(s), step;

    *count = 0;
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = ls_error(LS_EDB, "web_to_lead: reading the daily count: %s", sqlite3_errmsg(s->db));
        goto done;
    }
    sqlite3_bind_text(st, 1, META_KEY, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *count = ls_w2l_count_for((const char *)sqlite3_column_text(st, 0), today);
    else if (step != SQLITE_DONE)
        rc = ls_error(LS_EDB, "web_to_lead: reading the daily count: %s", sqlite3_errmsg(s->db));
done:
    sqlite3_finalize(st);
    return rc;
}

/* Stores the day's count (in the caller's transaction, if any). */
static int count_put(struct w2l *s, const char *today, long count)
{
    sqlite3_stmt *st = NULL;
    char val[40];
    int rc = db_ready(s);

    if (rc)
        return rc;
    snprintf(val, sizeof(val), "%s %ld", today, count);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = ls_error(LS_EDB, "web_to_lead: saving the daily count: %s", sqlite3_errmsg(s->db));
        goto done;
    }
    sqlite3_bind_text(st, 1, META_KEY, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, val, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ls_error(LS_EDB, "web_to_lead: saving the daily count: %s", sqlite3_errmsg(s->db));
done:
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Post marks (table web_to_lead_posts, schema/sqlite/002_web_to_lead.sql)   */

enum mark {
    MARK_NONE = 0, /* never posted, or provably not sent */
    MARK_POSTING,  /* committed before a post: the outcome is unknown */
    MARK_CREATED,  /* answered 2xx/3xx */
    MARK_UNKNOWN,  /* sent, no usable answer */
    MARK_REQUEUED, /* a human re-queued the dead letter: post it */
};

static const char *const mark_names[] = {"", "posting", "created", "unknown", "requeued"};

static int mark_get(struct w2l *s, const char *lead_id, enum mark *m, int *status)
{
    sqlite3_stmt *st = NULL;
    int rc = db_ready(s), step;

    *m = MARK_NONE;
    *status = 0;
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT state, coalesce(status, 0) FROM web_to_lead_posts "
                           "WHERE lead_id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = ls_error(LS_EDB, "web_to_lead: reading post marks: %s", sqlite3_errmsg(s->db));
        goto done;
    }
    sqlite3_bind_text(st, 1, lead_id, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);

        *m = MARK_POSTING; /* anything unreadable counts as unknown */
        for (int i = MARK_POSTING; i <= MARK_REQUEUED; i++)
            if (v && strcmp(v, mark_names[i]) == 0)
                *m = (enum mark)i;
        *status = sqlite3_column_int(st, 1);
    } else if (step != SQLITE_DONE) {
        rc = ls_error(LS_EDB, "web_to_lead: reading post marks: %s", sqlite3_errmsg(s->db));
    }
done:
    sqlite3_finalize(st);
    return rc;
}

/* Runs one write on web_to_lead_posts: ?1 lead_id, ?2 delivery_id or state,
 * ?3 status (0 = NULL), ?4 now. */
static int mark_write(struct w2l *s, const char *sql, const char *lead_id, const char *text,
                      int status, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = db_ready(s);

    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = ls_error(LS_EDB, "web_to_lead: writing a post mark: %s", sqlite3_errmsg(s->db));
        goto done;
    }
    sqlite3_bind_text(st, 1, lead_id, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 3) {
        if (status)
            sqlite3_bind_int(st, 3, status);
        else
            sqlite3_bind_null(st, 3);
    }
    if (sqlite3_bind_parameter_count(st) >= 4)
        sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ls_error(LS_EDB, "web_to_lead: writing a post mark: %s", sqlite3_errmsg(s->db));
done:
    sqlite3_finalize(st);
    return rc;
}

/* Before a post, in one durable transaction: the lead marked "posting" and
 * the day's count raised. */
static int mark_posting(struct w2l *s, const struct ls_sink_item *it, const char *today, long count,
                        int64_t now)
{
    int rc = db_ready(s);

    if (rc)
        return rc;
    rc = db_exec(s, "BEGIN IMMEDIATE", "marking a post");
    if (rc)
        return rc;
    rc = mark_write(s,
                    "INSERT INTO web_to_lead_posts(lead_id, delivery_id, state, status, "
                    "posted_at, updated_at) VALUES(?1, ?2, 'posting', ?3, ?4, ?4) "
                    "ON CONFLICT(lead_id) DO UPDATE SET delivery_id = excluded.delivery_id, "
                    "state = 'posting', status = NULL, posted_at = excluded.posted_at, "
                    "updated_at = excluded.updated_at",
                    it->lead_id, it->delivery_id, 0, now);
    if (!rc)
        rc = count_put(s, today, count);
    if (!rc)
        rc = db_exec(s, "COMMIT", "marking a post");
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* After a provable non-send: the mark goes and the day's slot comes back. */
static int mark_drop(struct w2l *s, const char *lead_id, const char *today, long count)
{
    int rc = db_exec(s, "BEGIN IMMEDIATE", "dropping a post mark");

    if (rc)
        return rc;
    rc = mark_write(s, "DELETE FROM web_to_lead_posts WHERE lead_id = ?1", lead_id, NULL, 0, 0);
    if (!rc)
        rc = count_put(s, today, count);
    if (!rc)
        rc = db_exec(s, "COMMIT", "dropping a post mark");
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* The answer page is not read (Web-to-Lead answers 200 whatever happened),
 * and nothing a CRM answers may reach the process's stdout, where curl
 * writes a body that has no write callback. */
static size_t discard_body(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* One form post; *status 0 when no answer, *sent 1 once body bytes left. */
static int post_form(struct w2l *s, const char *form, int *status, int *sent, int *tls_config,
                     char *transport, size_t tcap)
{
    struct curl_slist *hdrs = NULL;
    CURL *e = s->easy;
    CURLcode cc, c = CURLE_OK;
    curl_off_t up = 0;
    long code = 0;

    *status = 0;
    *sent = 0;
    *tls_config = 0;
    transport[0] = '\0';
    hdrs = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    if (!hdrs)
        return ls_error(LS_ENOMEM, "web_to_lead: out of memory");
    curl_easy_reset(e);
    s->errbuf[0] = '\0';
    c |= curl_easy_setopt(e, CURLOPT_URL, s->url);
    c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
#else
    c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
    c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file)
        c |= curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    c |= curl_easy_setopt(e, CURLOPT_TIMEOUT, s->timeout_s);
    c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, s->timeout_s < 10 ? s->timeout_s : 10L);
    c |= curl_easy_setopt(e, CURLOPT_USERAGENT, s->ua);
    c |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    c |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    c |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    c |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
    c |= ls_crm_stop_watch(e, &s->stop);
    if (c != CURLE_OK) {
        curl_slist_free_all(hdrs);
        return ls_error(LS_ERROR, "web_to_lead: curl_easy_setopt failed");
    }
    cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_slist_free_all(hdrs);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    *sent = up > 0 || code > 0;
    if (cc != CURLE_OK || code <= 0) {
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            snprintf(transport, tcap, "stopped by a signal before the answer came");
        else
            snprintf(transport, tcap, "%s%s%.200s", curl_easy_strerror(cc),
                     s->errbuf[0] ? ": " : "", s->errbuf);
        *tls_config = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
                      cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT;
        /* A refused or unresolved connection, or a TLS handshake that
         * failed, never carried the form: HTTP starts after the handshake. */
        if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
            cc == CURLE_SSL_CONNECT_ERROR || *tls_config)
            *sent = 0;
        return LS_OK;
    }
    *status = (int)code;
    return LS_OK;
}

static void mark_not_sent(struct ls_sink_result *r, const char *why)
{
    memset(r, 0, sizeof(*r));
    r->outcome = LS_SINK_NOT_SENT;
    r->retry_after_ms = -1;
    snprintf(r->error, sizeof(r->error), "not sent: %s", why);
}

static int w2l_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                       struct ls_sink_result *results)
{
    struct w2l *s = ctx;
    char today[11];
    long count = 0;
    size_t i;
    int halt = 0, rc;

    for (i = 0; i < n; i++)
        mark_not_sent(&results[i], "the batch stopped after a throttled or fatal answer");
    ls_w2l_day(ls_now_ms(), today);
    rc = count_get(s, today, &count);
    if (rc)
        return rc;
    for (i = 0; i < n && !halt; i++) {
        const struct ls_sink_item *it = &items[i];
        struct ls_sink_result *r = &results[i];
        char *form = NULL;
        char transport[320];
        int status = 0, sent = 0, tls = 0, mstatus = 0;
        enum mark mk = MARK_NONE;

        if (ls_stop_requested) { /* a signal: post nothing new */
            for (; i < n; i++)
                ls_crm_stopped_result(&results[i]);
            break;
        }
        memset(r, 0, sizeof(*r));
        r->retry_after_ms = -1;
        if (json_is_true(json_object_get(it->lead, "doNotContact"))) {
            LS_INFO(COMP, "lead %s is do-not-contact: not sent (Web-to-Lead can only create)",
                    it->lead_id);
            snprintf(r->error, sizeof(r->error), "do-not-contact: not sent");
            continue;
        }
        if (!it->created) {
            LS_INFO(COMP,
                    "lead %s was posted before: this update is not sent (Web-to-Lead can "
                    "only create)",
                    it->lead_id);
            snprintf(r->error, sizeof(r->error), "update: not sent");
            continue;
        }
        rc = mark_get(s, it->lead_id, &mk, &mstatus);
        if (rc) {
            mark_not_sent(r, ls_error_last());
            r->throttled = 0;
            halt = 1;
            continue;
        }
        if (mk == MARK_CREATED) {
            /* Answered 2xx before a crash kept the outbox from learning it. */
            LS_INFO(COMP, "lead %s was posted before a restart: not posted again", it->lead_id);
            r->status = mstatus;
            snprintf(r->error, sizeof(r->error), "posted before a restart: not posted again");
            continue;
        }
        if (mk == MARK_POSTING || mk == MARK_UNKNOWN) {
            r->outcome = LS_SINK_REJECT;
            r->status = mstatus;
            snprintf(r->error, sizeof(r->error), "%s", W2L_UNKNOWN);
            LS_WARN(COMP, "lead %s: %s", it->lead_id, r->error);
            continue;
        }
        if (count >= s->limit) {
            int64_t now = ls_now_ms();

            r->outcome = LS_SINK_RETRY;
            r->status = 429; /* our own limit: pause the sink, no request made */
            r->throttled = 1;
            r->retry_after_ms = (long)((now / 86400000 + 1) * 86400000 - now);
            snprintf(r->error, sizeof(r->error),
                     "the daily Web-to-Lead limit (%ld) is reached: paused until 00:00 UTC",
                     s->limit);
            LS_WARN(COMP, "daily limit of %ld posts reached: sink paused until 00:00 UTC",
                    s->limit);
            halt = 1;
            continue;
        }
        if (ls_w2l_form(s->map, it->lead, s->oid, &form) != LS_OK) {
            r->outcome = LS_SINK_REJECT;
            snprintf(r->error, sizeof(r->error), "%s", ls_error_last());
            continue;
        }
        if (mk == MARK_REQUEUED)
            LS_WARN(COMP, "lead %s: posting again as re-queued by `leadsync retry`", it->lead_id);
        /* Marked and counted, durably, before the post: a crash after it
         * must neither post the lead again nor let the day pass the limit. */
        rc = mark_posting(s, it, today, count + 1, ls_now_ms());
        if (rc) {
            free(form);
            mark_not_sent(r, ls_error_last());
            r->throttled = 0;
            halt = 1;
            continue;
        }
        count++;
        ls_crashpoint("w2l-marked");
        rc = post_form(s, form, &status, &sent, &tls, transport, sizeof(transport));
        free(form);
        if (rc) {
            status = sent = 0;
            ls_w2l_classify(0, 0, 0, ls_error_last(), r);
        } else {
            ls_w2l_classify(status, sent, tls, transport, r);
        }
        ls_crashpoint("w2l-answered");
        if (status == 0 && !sent && ls_stop_requested)
            ls_crm_stopped_result(r); /* cut off before the form left */
        if (status == 0 && !sent) {
            /* Never left: the mark goes and the day's slot comes back. */
            if (mark_drop(s, it->lead_id, today, count - 1) == LS_OK)
                count--;
            else
                LS_WARN(COMP,
                        "lead %s was not sent but its post mark stays (%s): a later "
                        "attempt makes it a dead letter",
                        it->lead_id, ls_error_last());
        } else if (mark_write(s,
                              "UPDATE web_to_lead_posts SET state = ?2, status = ?3, "
                              "updated_at = ?4 WHERE lead_id = ?1",
                              it->lead_id, r->outcome == LS_SINK_OK ? "created" : "unknown", status,
                              ls_now_ms()) != LS_OK) {
            LS_WARN(COMP, "lead %s: recording the answer: %s", it->lead_id, ls_error_last());
        }
        ls_crashpoint("w2l-recorded");
        if (r->outcome == LS_SINK_REJECT)
            LS_WARN(COMP, "lead %s: %s", it->lead_id, r->error);
        halt = r->outcome == LS_SINK_FATAL;
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
};
