/* ls_sync.c - the sync engine (see ls_sync.h). */
#include "ls_sync.h"

#include "ls_inline.h"
#include "ls_lead.h"
#include "ls_log.h"
#include "ls_metrics.h"
#include "ls_seen.h"
#include "ls_table.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CURSOR_KEY       "cursor"
#define CURSOR_TABLE_KEY "cursor_table"

/* ------------------------------------------------------------------------ */
/* ISO 8601 helpers (pure)                                                   */

/* Parses "YYYY-MM-DDThh:mm:ss[.f{1,7}]Z": seconds and the 7-digit fraction. */
static int iso_parse(const char *s, int64_t *secs, char frac[8])
{
    return azt_iso8601_parse(s, strlen(s), secs, frac) == AZT_OK ? 0 : -1;
}

void ls_iso_format(int64_t t, char out[40])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
}

int ls_iso_add_seconds(const char *iso, long seconds, char out[40])
{
    int64_t secs;
    char frac[8];
    time_t tt;
    struct tm tm;
    char base[20];

    if (iso_parse(iso, &secs, frac) != 0)
        return ls_error(LS_EINVAL, "'%s' is not an ISO 8601 UTC time (YYYY-MM-DDThh:mm:ssZ)", iso);
    tt = (time_t)(secs + seconds);
    gmtime_r(&tt, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%sZ", base, frac);
    return LS_OK;
}

/* 1 for the service's own form, "YYYY-MM-DDThh:mm:ss.fffffffZ", naming a
 * real instant: two of those compare as strings. */
static int iso_canonical(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddZ";
    size_t i;

    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    /* fields in range (no clock arithmetic when the instant is not asked for) */
    return s[i] == '\0' && azt_iso8601_parse(s, i, NULL, NULL) == AZT_OK;
}

/* ls_iso_compare for a caller that already knows whether a and b are both
 * canonical (iso_canonical). */
static int iso_compare_as(const char *a, const char *b, int both_canonical)
{
    int64_t sa = 0, sb = 0;
    char fa[8], fb[8];
    int pa, pb;

    if (both_canonical)
        return strcmp(a, b); /* fixed width: string order is time order */
    /* text that names no instant is older than any instant and orders as a
     * string among its kind: a total order, so a sorted page never depends
     * on the order its rows came in */
    pa = iso_parse(a, &sa, fa) == 0;
    pb = iso_parse(b, &sb, fb) == 0;
    if (!pa || !pb)
        return pa != pb ? pa - pb : strcmp(a, b);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return strcmp(fa, fb);
}

int ls_iso_compare(const char *a, const char *b)
{
    return iso_compare_as(a, b, iso_canonical(a) && iso_canonical(b));
}

/* CreatedTime as an instant: the service's ISO form, or the US form the
 * marketplace table shows ("11/24/2026 2:03:34 AM", 24-hour without AM/PM). */
static int created_parse(const char *s, int64_t *secs, char frac[8])
{
    struct tm tm;
    int mo, d, y, h, mi, se, n = 0, m = 0;
    char ampm[3] = "";

    if (iso_parse(s, secs, frac) == 0)
        return 0;
    if (sscanf(s, "%2d/%2d/%4d %2d:%2d:%2d%n", &mo, &d, &y, &h, &mi, &se, &n) != 6)
        return -1;
    if (s[n] == ' ' && sscanf(s + n, " %2[AMP]%n", ampm, &m) == 1 && s[n + m] == '\0') {
        if ((strcmp(ampm, "AM") != 0 && strcmp(ampm, "PM") != 0) || h < 1 || h > 12)
            return -1;
        h = h % 12 + (ampm[0] == 'P' ? 12 : 0);
    } else if (s[n] != '\0') {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *secs = (int64_t)timegm(&tm);
    memcpy(frac, "0000000", 8);
    return 0;
}

/* CreatedTime: an instant is newer than a value that names none (or none at
 * all), two of which tie. Letting such a value not decide at all would not
 * be an order (a = b and b = c, yet a < c). */
static int created_compare(const char *a, const char *b)
{
    int64_t sa = 0, sb = 0;
    char fa[8], fb[8];
    int pa = a && created_parse(a, &sa, fa) == 0;
    int pb = b && created_parse(b, &sb, fb) == 0;

    if (!pa || !pb)
        return pa - pb;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return strcmp(fa, fb);
}

static int key_compare(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

int ls_row_version_compare(const struct ls_row_version *a, const struct ls_row_version *b)
{
    int c = ls_iso_compare(a->timestamp ? a->timestamp : "", b->timestamp ? b->timestamp : "");

    if (c == 0)
        c = created_compare(a->created_time, b->created_time);
    if (c == 0)
        c = key_compare(a->partition_key, b->partition_key);
    if (c == 0)
        c = key_compare(a->row_key, b->row_key);
    return c < 0 ? -1 : c > 0;
}

void ls_delivery_id(const char *pk, const char *rk, const char *content_hash, char out[40])
{
    size_t lp = strlen(pk), lr = strlen(rk), lh = strlen(content_hash);
    char *buf = ls_xmalloc(lp + lr + lh + 2);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    int i;

    /* pk NUL rk NUL hash: unambiguous however the keys look */
    memcpy(buf, pk, lp + 1);
    memcpy(buf + lp + 1, rk, lr + 1);
    memcpy(buf + lp + lr + 2, content_hash, lh);
    EVP_Digest(buf, lp + lr + lh + 2, md, &mdlen, ls_lead_sha256(), NULL);
    free(buf);
    memcpy(out, "msg_", 4);
    for (i = 0; i < 16; i++) {
        out[4 + 2 * i] = hex[md[i] >> 4];
        out[5 + 2 * i] = hex[md[i] & 15];
    }
    out[36] = '\0';
}

/* ------------------------------------------------------------------------ */
/* The window                                                                */

/* Rows that are never delivered: without keys the ledger cannot tell them
 * apart (they would go out again every run); a NUL would cut an address. */
#define SKIP_PROBLEMS (LS_LEAD_KEYS_MISSING | LS_LEAD_NUL_IN_VALUE)

/* One line for the first row of each kind of problem in a window; the rest
 * are counted for one summary line (a hostile table cannot flood the log). */
static void log_problems(const struct ls_lead *lead, struct ls_sync_stats *st)
{
    char what[256] = "";
    size_t off = 0;
    static const struct {
        unsigned bit;
        const char *text;
    } names[] = {
        {LS_LEAD_CUSTOMERINFO_MISSING, "CustomerInfo missing"},
        {LS_LEAD_CUSTOMERINFO_MALFORMED, "CustomerInfo malformed"},
        {LS_LEAD_LEADSOURCE_MALFORMED, "LeadSource malformed"},
        {LS_LEAD_ACTION_UNKNOWN, "unknown action"},
        {LS_LEAD_KEYS_MISSING, "PartitionKey or RowKey missing"},
        {LS_LEAD_NUL_IN_VALUE, "a NUL character inside a value"},
    };
    size_t i;

    if (!(lead->problems & ~st->warned)) {
        st->unlogged++;
        return;
    }
    st->warned |= lead->problems;

    for (i = 0; i < LS_ARRAY_LEN(names); i++) {
        if (lead->problems & names[i].bit) {
            int n =
                snprintf(what + off, sizeof(what) - off, "%s%s", off ? ", " : "", names[i].text);

            if (n > 0 && (size_t)n < sizeof(what) - off)
                off += (size_t)n;
        }
    }
    LS_WARN("sync", "row pk=%s rk=%s: %s; %s (further rows like it are counted, not logged)",
            lead->partition_key, lead->row_key, what,
            (lead->problems & SKIP_PROBLEMS) ? "skipped, not delivered"
                                             : "going on with what parsed");
}

/* json_dumps(obj, JSON_COMPACT) through a stack buffer: jansson's own
 * grows a heap buffer from 16 bytes by doubling, for every row. */
static char *dump_compact(const json_t *obj)
{
    char small[4096];
    size_t n = json_dumpb(obj, small, sizeof(small), JSON_COMPACT);
    char *out;

    if (n == 0)
        return NULL;
    out = ls_xmalloc(n + 1);
    if (n <= sizeof(small))
        memcpy(out, small, n);
    else if (json_dumpb(obj, out, n, JSON_COMPACT) != n) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    return out;
}

/* The lead object as compact JSON text (the outbox payload), or NULL. Its
 * jansson values live and die in one arena scope (azt.h). */
static char *lead_payload(const struct ls_lead *lead, int stage, int dnc)
{
    struct azt_json_arena arena;
    json_t *obj;
    char *payload;

    azt_json_arena_begin(&arena);
    obj = ls_lead_json(lead, (enum ls_stage)stage, dnc);
    payload = obj ? dump_compact(obj) : NULL;
    json_decref(obj);
    azt_json_arena_end(&arena);
    return payload;
}

/* Records a row: its content hash, then what `leadsync report` counts. */
static int record_row(struct ls_ledger *ledger, const struct ls_lead *lead, int64_t now)
{
    struct ls_row_facts f = {
        .offer_id = lead->offer_id,
        .source = lead->source,
        .action = lead->action,
        .stage = (int)lead->stage,
        .country = lead->customer.country,
        .is_test = lead->is_test,
    };

    return ls_ledger_row_put(ledger, lead->partition_key, lead->row_key, lead->content_hash,
                             lead->timestamp, lead->lead_id, &f, now);
}

/* What a window's pages are processed with. */
struct sync_ctx {
    struct ls_ledger *ledger; /* NULL for a dry run without a ledger */
    const struct ls_sink *sinks;
    size_t nsinks;
    const struct ls_sync_opts *o;
    struct ls_inline *inl; /* the inline path (ls_inline.h), or NULL */
    struct ls_sync_stats *st;
    struct ls_seen *seen; /* a dry run's leads so far (ls_seen.h), else NULL */
};

static struct ls_row_version lead_version(const struct ls_lead *lead)
{
    struct ls_row_version v = {lead->timestamp, lead->created_time, lead->partition_key,
                               lead->row_key};

    return v;
}

/* 1 when the row is older than the newest version of its lead the ledger
 * has recorded (a late row: it never replaces the newer state). */
static int is_late(const struct ls_lead *lead, const struct ls_ledger_version *newest)
{
    struct ls_row_version row = lead_version(lead);
    struct ls_row_version known = {newest->timestamp, newest->created_time, newest->partition_key,
                                   newest->row_key};

    if (!newest->timestamp)
        return 0; /* none recorded (a ledger from before they were) */
    if (ls_row_version_compare(&row, &known) >= 0)
        return 0;
    LS_INFO("sync",
            "row pk=%s rk=%s of lead %s is older than its newest version (pk=%s rk=%s): "
            "recorded, and sent only to sinks that keep every version",
            lead->partition_key, lead->row_key, lead->lead_id,
            newest->partition_key ? newest->partition_key : "",
            newest->row_key ? newest->row_key : "");
    return 1;
}

/* What routes look at in a lead: the stage is the one it reached. */
static void route_lead(const struct ls_lead *lead, int stage, struct ls_route_lead *rl)
{
    rl->v[LS_ROUTE_OFFER] = lead->offer_id;
    rl->v[LS_ROUTE_SOURCE] = lead->source;
    rl->v[LS_ROUTE_ACTION] = lead->action;
    rl->v[LS_ROUTE_STAGE] = ls_stage_name((enum ls_stage)stage);
    rl->v[LS_ROUTE_COUNTRY] = lead->customer.country;
}

/* " sinks=a,b": the sinks whose routes take the lead ("none" when no route
 * does); "" without sinks. */
static void routed_to(const struct sync_ctx *c, const struct ls_route_lead *rl, char *buf,
                      size_t cap)
{
    size_t i, off = 0;
    int k;

    buf[0] = '\0';
    for (i = 0; i < c->nsinks; i++) {
        if (!ls_route_match(c->sinks[i].route, rl))
            continue;
        k = snprintf(buf + off, cap - off, "%s%s", off ? "," : " sinks=", c->sinks[i].id);
        if (k < 0 || (size_t)k >= cap - off)
            break;
        off += (size_t)k;
        c->st->enqueued++;
    }
    if (c->nsinks && !off)
        snprintf(buf, cap, " sinks=none");
}

/* Hands a new row version to the sinks its routes let through: the inline
 * path (never with routes), or one outbox row per sink. Takes payload over. */
static int row_enqueue(struct sync_ctx *c, const struct ls_lead *lead, const char *delivery_id,
                       char *payload, int created, int late, const struct ls_route_lead *rl,
                       int64_t now)
{
    size_t i;
    int mode, rc = LS_OK;

    if (c->inl)
        return ls_inline_add(c->inl, lead->lead_id, delivery_id, payload, created, late, now,
                             c->st);
    for (i = 0; i < c->nsinks && rc == LS_OK; i++) {
        if (!ls_route_match(c->sinks[i].route, rl))
            continue; /* never queued: nothing waits forever */
        mode = !c->sinks[i].ops->coalesce ? LS_ENQUEUE_EVERY
               : late                     ? LS_ENQUEUE_LATE
                                          : LS_ENQUEUE_COALESCE;
        rc = ls_ledger_enqueue(c->ledger, c->sinks[i].id, lead->lead_id, delivery_id, payload, mode,
                               now);
        if (rc == LS_OK)
            c->st->enqueued++;
    }
    free(payload);
    return rc;
}

/* A new or changed row version of a lead the sinks are to hear of: the
 * lead's stage and newest version, its payload, its deliveries. */
static int row_deliver(struct sync_ctx *c, const struct ls_lead *lead, int found, int64_t now)
{
    struct ls_ledger_version newest = {0};
    const struct ls_ledger_version *known = &newest;
    struct ls_ledger_version mine = {lead->timestamp, lead->created_time, lead->partition_key,
                                     lead->row_key};
    struct ls_route_lead rl;
    char delivery_id[40], to[512];
    char *payload = NULL;
    int lead_found = 0, max_stage = 0, dnc = 0, late = 0;
    int stage, new_dnc, rc = LS_OK;

    if (c->ledger) {
        rc = ls_ledger_lead_get(c->ledger, lead->lead_id, &max_stage, &dnc, &newest, &lead_found);
        if (rc)
            goto done;
    }
    /* a dry run reads the lead's earlier rows in this window as a run would */
    if (c->seen) {
        rc = ls_seen_get(c->seen, lead->lead_id, &max_stage, &dnc, &known);
        if (rc < 0)
            goto done;
        lead_found |= rc;
        rc = LS_OK;
    }
    if (c->ledger || c->seen)
        late = is_late(lead, known);
    stage = (int)lead->stage > max_stage ? (int)lead->stage : max_stage;
    new_dnc = dnc || lead->stage == LS_STAGE_DO_NOT_CONTACT;
    ls_delivery_id(lead->partition_key, lead->row_key, lead->content_hash, delivery_id);
    if (found)
        c->st->updated++;
    else
        c->st->fresh++;
    c->st->late += late;
    route_lead(lead, stage, &rl);
    if (c->o->dry_run) {
        /* a late row keeps the newest version known, as the ledger does */
        if (c->seen)
            rc = ls_seen_put(c->seen, lead->lead_id, stage, new_dnc, late ? known : &mine);
        if (rc)
            goto done;
        routed_to(c, &rl, to, sizeof(to));
        printf("%s lead=%s pk=%s rk=%s stage=%s%s%s%s type=%s\n", found ? "update" : "new",
               lead->lead_id, lead->partition_key, lead->row_key,
               ls_stage_name((enum ls_stage)stage), new_dnc ? " do-not-contact" : "",
               late ? " late" : "", to, lead_found ? "lead.updated" : "lead.created");
        goto done;
    }
    rc = ls_ledger_lead_put(c->ledger, lead->lead_id, stage, new_dnc, late ? NULL : &mine, now);
    if (rc)
        goto done;
    payload = lead_payload(lead, stage, new_dnc);
    if (!payload) {
        rc = ls_error(LS_ENOMEM, "cannot serialize row pk=%s rk=%s", lead->partition_key,
                      lead->row_key);
        goto done;
    }
    rc = row_enqueue(c, lead, delivery_id, payload, !lead_found, late, &rl, now);
done:
    ls_ledger_version_free(&newest);
    return rc;
}

/* Handles one row inside the page's transaction. */
static int process_row(struct sync_ctx *c, const struct azt_entity *e, int64_t now)
{
    const struct ls_sync_opts *o = c->o;
    struct ls_lead *lead = NULL;
    char old_hash[65] = "";
    int found = 0;
    int rc;

    c->st->rows++;
    rc = ls_lead_from_entity(e, (enum ls_identity)o->identity, &lead);
    if (rc) {
        rc = ls_error(LS_ENOMEM, "lead model failed on row pk=%s rk=%s",
                      e->partition_key ? e->partition_key : "", e->row_key ? e->row_key : "");
        goto done;
    }
    if (lead->problems & LS_LEAD_KEYS_MISSING) {
        c->st->malformed++;
        c->st->skipped++;
        log_problems(lead, c->st);
        goto done;
    }
    if (c->ledger) {
        rc = ls_ledger_row_get(c->ledger, lead->partition_key, lead->row_key, old_hash, &found);
        if (rc)
            goto done;
    }
    if (found && strcmp(old_hash, lead->content_hash) == 0) {
        c->st->unchanged++;
        goto done;
    }
    if (lead->problems) {
        c->st->malformed++;
        log_problems(lead, c->st);
    }
    if (lead->problems & SKIP_PROBLEMS) {
        c->st->skipped++; /* remembered below, so a re-read finds it unchanged */
    } else if (lead->is_test && !o->deliver_test_leads) {
        LS_INFO("sync",
                "validation lead received pk=%s rk=%s: skipped (LEADSYNC_TEST_LEADS=deliver "
                "delivers them)",
                lead->partition_key, lead->row_key);
        c->st->test_leads++;
    } else {
        rc = row_deliver(c, lead, found, now);
    }
    if (rc == LS_OK && c->ledger && !o->dry_run)
        rc = record_row(c->ledger, lead, now);
done:
    ls_lead_free(lead);
    return rc;
}

/* A page's row in the order its lead's versions are processed. */
struct ordered_row {
    struct ls_row_version v;
    int canonical; /* its Timestamp is in the service's own form (iso_canonical) */
    size_t i;      /* index in the page: equal versions keep the page's order */
};

static int ordered_row_compare(const void *pa, const void *pb)
{
    const struct ordered_row *a = pa, *b = pb;
    int c = 0;

    /* the common case without parsing: two canonical Timestamps that differ */
    if (a->canonical && b->canonical)
        c = strcmp(a->v.timestamp, b->v.timestamp);
    if (c == 0)
        c = ls_row_version_compare(&a->v, &b->v);
    if (c == 0)
        c = a->i < b->i ? -1 : a->i > b->i;
    return c;
}

/* The page's rows in the window that the sync processes, oldest version
 * first (ls_row_version_compare): of two versions of one lead on a page,
 * the newer is processed last and so is the one that stays. *n: how many. */
static struct ordered_row *page_order(const struct azt_page *page, const char *drop_from, size_t *n)
{
    struct ordered_row *rows = ls_xmalloc((page->count ? page->count : 1) * sizeof(*rows));
    const struct azt_prop *created;
    int drop_canonical = drop_from && iso_canonical(drop_from);
    size_t i;

    *n = 0;
    for (i = 0; i < page->count; i++) {
        const struct azt_entity *e = &page->entities[i];
        int canonical = e->timestamp && iso_canonical(e->timestamp);

        /* each Timestamp's form is checked once */
        if (drop_from && e->timestamp &&
            iso_compare_as(e->timestamp, drop_from, canonical && drop_canonical) >= 0)
            continue; /* past the window: the next one reads it */
        created = azt_entity_prop(e, "CreatedTime");
        rows[*n].v.timestamp = e->timestamp;
        rows[*n].v.created_time = created ? created->text : NULL;
        rows[*n].v.partition_key = e->partition_key;
        rows[*n].v.row_key = e->row_key;
        rows[*n].canonical = canonical;
        rows[*n].i = i;
        (*n)++;
    }
    qsort(rows, *n, sizeof(*rows), ordered_row_compare);
    return rows;
}

/* Processes one page in one ledger transaction. drop_from: the window's
 * upper bound; rows at or past it are counted (st->settling), not read. */
static int process_page(struct sync_ctx *c, const struct azt_page *page, const char *drop_from)
{
    struct ordered_row *rows = NULL;
    int64_t now_ms = ls_now_ms();
    int in_txn = 0;
    size_t i, n;
    int rc = LS_OK;

    if (c->ledger && !c->o->dry_run) {
        rc = ls_ledger_begin(c->ledger);
        if (rc)
            return rc;
        in_txn = 1;
    }
    rows = page_order(page, drop_from, &n);
    c->st->settling += (int64_t)(page->count - n);
    for (i = 0; i < n && rc == LS_OK; i++)
        rc = process_row(c, &page->entities[rows[i].i], now_ms);
    /* inline deliveries go out before the commit that records them */
    if (rc == LS_OK && c->inl)
        rc = ls_inline_flush(c->inl, now_ms, c->st);
    free(rows);
    if (rc || !in_txn)
        goto done;
    ls_crashpoint("page-uncommitted");
    rc = ls_ledger_commit(c->ledger);
    in_txn = 0;
    if (rc)
        goto done;
    ls_crashpoint("page-committed");
    /* inline: the page's commit is also its deliveries' commit */
    if (c->inl)
        ls_crashpoint("delivered");
done:
    if (in_txn)
        ls_ledger_rollback(c->ledger);
    return rc;
}

/* Clocks further apart than this are worth a warning. */
#define CLOCK_SKEW_WARN_S 120

/* The server's clock: the probe's one tiny request, whose answer carries a Date header. */
static int server_now(struct azt_client *client, const char *table, int64_t *now)
{
    int rc = ls_table_probe(client, table);

    if (rc)
        return rc;
    *now = (int64_t)azt_client_server_time(client);
    if (*now <= 0)
        return ls_error(LS_EUNAVAIL, "the table service sent no Date header");
    return LS_OK;
}

/* Sets the window [st->lower, st->upper): from the server's clock, the
 * ledger's cursor (returned in *cursor, malloc'd or NULL) or --since. */
static int window_bounds(struct azt_client *client, struct ls_ledger *ledger,
                         const struct ls_sync_opts *o, struct ls_sync_stats *st, char **cursor)
{
    char *cursor_table = NULL;
    int64_t now_s = 0, local_s;
    int rc;

    *cursor = NULL;
    rc = server_now(client, o->table, &now_s);
    if (rc)
        goto done;
    /* A window that ends in the future loses rows: the cursor would pass
     * Timestamps the service has not handed out yet, and rows written later
     * fall behind it. The server's clock decides (worker/README.md, Sync
     * semantics), but when the local clock is earlier the window stops there:
     * an ahead clock on either side only delays rows, never skips them. */
    local_s = ls_now_ms() / 1000;
    if (now_s > local_s + CLOCK_SKEW_WARN_S || local_s > now_s + CLOCK_SKEW_WARN_S)
        LS_WARN("sync",
                "the table service's clock and the local clock differ by %lld s: the window "
                "stops at the earlier of the two",
                (long long)(now_s - local_s));
    if (local_s > 0 && local_s < now_s)
        now_s = local_s;
    ls_iso_format(now_s - o->settle_seconds, st->upper);
    if (ledger) {
        rc = ls_ledger_meta_get(ledger, CURSOR_KEY, cursor);
        if (!rc)
            rc = ls_ledger_meta_get(ledger, CURSOR_TABLE_KEY, &cursor_table);
        if (rc)
            goto done;
        if (*cursor && cursor_table && strcmp(cursor_table, o->table) != 0) {
            LS_WARN("sync",
                    "the ledger's cursor belongs to table %s, not %s: reading %s from "
                    "the beginning",
                    cursor_table, o->table, o->table);
            free(*cursor);
            *cursor = NULL;
        }
    }
    if (o->since) {
        rc = ls_iso_add_seconds(o->since, 0, st->lower);
        if (rc)
            rc = ls_error(LS_EUSAGE, "--since: %s", ls_error_last());
    } else if (*cursor) {
        rc = ls_iso_add_seconds(*cursor, -o->overlap_seconds, st->lower);
        if (rc)
            rc = ls_error(LS_EDB, "the ledger's cursor is damaged: %s", ls_error_last());
    }
done:
    free(cursor_table);
    return rc;
}

/* "12 s", "4 min", "3 h": how long s seconds is, for a person. */
static void span_text(int64_t s, char *out, size_t cap)
{
    if (s < 90)
        snprintf(out, cap, "%lld s", (long long)s);
    else if (s < 90 * 60)
        snprintf(out, cap, "%lld min", (long long)((s + 30) / 60));
    else
        snprintf(out, cap, "%lld h", (long long)((s + 1800) / 3600));
}

void ls_sync_progress_line(const struct ls_sync_stats *st, int64_t elapsed_ms, int64_t delivered,
                           int64_t known, char *out, size_t cap)
{
    int64_t rate = elapsed_ms > 0 ? st->rows * 1000 / elapsed_ms : 0;
    char eta[96], left[32];

    if (known > st->rows && rate > 0) {
        span_text((known - st->rows + rate - 1) / rate, left, sizeof(left));
        snprintf(eta, sizeof(eta), "ETA %s (%lld of at least %lld rows)", left, (long long)st->rows,
                 (long long)known);
    } else {
        snprintf(eta, sizeof(eta), "ETA unknown (%s)",
                 known > 0 ? "more rows than the ledger knew of" : "a first read of these rows");
    }
    snprintf(out, cap,
             "catching up to %.8s UTC: %lld rows read (%lld new, %lld updated, %lld unchanged), "
             "%lld rows/s, %lld delivered; %s",
             st->upper[0] ? st->upper + 11 : "now", (long long)st->rows, (long long)st->fresh,
             (long long)st->updated, (long long)st->unchanged, (long long)rate,
             (long long)delivered, eta);
}

/* A progress line on stderr, at most every LEADSYNC_PROGRESS_SECONDS, so
 * only a window that takes longer than that prints one. The rows the
 * ledger already holds in the window (a re-read, a backfill) are counted at
 * the first line: at least that many are read, which gives the ETA. */
static void log_progress(const struct sync_ctx *c, int64_t started, int64_t *known)
{
    const struct ls_sync_stats *st = c->st;
    int64_t delivered = st->delivered + (c->o->delivered ? *c->o->delivered : 0);
    char line[512];

    if (*known < 0 &&
        (!c->ledger || ls_ledger_rows_between(c->ledger, st->lower, st->upper, known) != LS_OK))
        *known = 0;
    ls_sync_progress_line(st, ls_mono_ms() - started, delivered, *known, line, sizeof(line));
    LS_INFO("sync", "%s", line);
}

/* A window that goes on past its budget (a table service handing out
 * continuations forever, or far more rows than configured for) stops the run
 * with the cursor where it was. */
static int window_budget(const struct ls_sync_opts *o, const struct ls_sync_stats *st,
                         int64_t started_ms)
{
    if (o->max_pages > 0 && st->pages > o->max_pages)
        return ls_error(LS_EPARSE,
                        "the window [%s, %s) is still going after %ld pages "
                        "(LEADSYNC_WINDOW_MAX_PAGES): stopped, the cursor did not move",
                        st->lower, st->upper, o->max_pages);
    if (o->max_seconds > 0 && ls_mono_ms() - started_ms > (int64_t)o->max_seconds * 1000)
        return ls_error(LS_EPARSE,
                        "the window [%s, %s) is still going after %ld s "
                        "(LEADSYNC_WINDOW_MAX_SECONDS): stopped, the cursor did not move",
                        st->lower, st->upper, o->max_seconds);
    return LS_OK;
}

/* Reads the window's pages, each processed and committed on its own. */
static int read_pages(struct azt_client *client, struct sync_ctx *c)
{
    const struct ls_sync_opts *o = c->o;
    struct ls_sync_stats *st = c->st;
    struct azt_query q = {0};
    struct azt_iter *it = NULL;
    struct azt_page *page = NULL;
    char *filter = NULL;
    int64_t started, last_progress, known = -1;
    int rc;

    /* A first run (no lower bound) reads the table without a $filter: the
     * service does not index Timestamp, so the filter would only make it scan
     * and drop server-side what is dropped here. On Azurite that is 0.3 s of
     * a 1.4 s read of 20,000 rows. The upper bound is never in the filter:
     * the rows at or past it (the settle delay's, a few seconds' worth) come
     * along, so process_page counts them for the run's report, then drops
     * them. */
    if (st->lower[0])
        filter = ls_xasprintf("Timestamp ge datetime'%s'", st->lower);
    LS_DEBUG("sync", "window [%s, %s): rows past it counted and dropped here", st->lower,
             st->upper);
    q.filter = filter;
    q.top = o->page_size;
    q.metadata = AZT_META_MINIMAL;
    q.prefetch = 1;
    rc = azt_query_open(client, o->table, &q, &it);
    if (rc) {
        rc = ls_table_error(client, o->table, rc);
        goto done;
    }
    started = last_progress = ls_mono_ms();
    for (;;) {
        if (o->stop && *o->stop) {
            rc = ls_error(LS_ECANCELED, "stopped between pages; the window is re-read next time");
            goto done;
        }
        rc = azt_iter_next(it, &page);
        if (rc <= 0) {
            rc = rc < 0 ? ls_table_error(client, o->table, rc) : LS_OK;
            goto done;
        }
        st->pages++;
        rc = window_budget(o, st, started);
        if (rc == LS_OK)
            rc = process_page(c, page, st->upper);
        azt_page_free(page);
        page = NULL;
        if (rc)
            goto done;
        if (ls_mono_ms() - last_progress >= o->progress_seconds * 1000) {
            last_progress = ls_mono_ms();
            log_progress(c, started, &known);
        }
        if (o->after_page && (rc = o->after_page(o->after_page_ctx)) != LS_OK)
            goto done;
    }
done:
    if (st->unlogged)
        LS_WARN("sync",
                "%lld more rows with problems were counted, not logged one by one "
                "(malformed=%lld skipped=%lld)",
                (long long)st->unlogged, (long long)st->malformed, (long long)st->skipped);
    azt_iter_free(it);
    free(filter);
    return rc;
}

/* The whole window is committed: move the cursor (never backwards). */
static int advance_cursor(struct ls_ledger *ledger, const struct ls_sync_opts *o,
                          const struct ls_sync_stats *st, const char *cursor)
{
    int rc = ls_ledger_begin(ledger);

    if (rc)
        return rc;
    if (!cursor || ls_iso_compare(st->upper, cursor) > 0)
        rc = ls_ledger_meta_set(ledger, CURSOR_KEY, st->upper);
    if (!rc)
        rc = ls_ledger_meta_set(ledger, CURSOR_TABLE_KEY, o->table);
    if (!rc)
        return ls_ledger_commit(ledger);
    ls_ledger_rollback(ledger);
    return rc;
}

int ls_sync_window(struct azt_client *client, struct ls_ledger *ledger, const struct ls_sink *sinks,
                   size_t nsinks, const struct ls_sync_opts *o, struct ls_sync_stats *st)
{
    struct sync_ctx c = {ledger, sinks, nsinks, o, NULL, st, NULL};
    char *cursor = NULL;
    int writes = ledger && !o->dry_run;
    int rc;

    memset(st, 0, sizeof(*st));
    rc = o->dry_run ? ls_seen_new(&c.seen) : LS_OK;
    if (rc == LS_OK)
        rc = window_bounds(client, ledger, o, st, &cursor);
    if (rc)
        goto done;
    if (st->lower[0] && ls_iso_compare(st->lower, st->upper) >= 0) {
        LS_DEBUG("sync", "window [%s, %s) is empty", st->lower, st->upper);
        goto done;
    }
    if (writes) {
        rc = ls_inline_open(ledger, sinks, nsinks, &c.inl);
        if (rc)
            goto done;
    }
    rc = read_pages(client, &c);
    if (rc == LS_OK && writes)
        rc = advance_cursor(ledger, o, st, cursor);
    if (rc == LS_OK && st->settling > 0)
        LS_INFO("sync",
                "%lld row%s newer than %.8s UTC wait%s for the %ld s settle delay; the "
                "next run reads them",
                (long long)st->settling, st->settling == 1 ? "" : "s", st->upper + 11,
                st->settling == 1 ? "s" : "", o->settle_seconds);
done:
    ls_inline_free(c.inl);
    ls_seen_free(c.seen);
    free(cursor);
    return rc;
}
