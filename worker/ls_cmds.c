/*
 * ls_cmds.c - the short commands: check, status, retry, purge and
 * send-test-lead.
 */
#include "ls_cmd.h"

#include "ls_deliver.h"
#include "ls_lead.h"
#include "ls_ledger.h"
#include "ls_log.h"
#include "ls_sink.h"
#include "ls_table.h"

#include "azt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void fmt_time_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0) {
        snprintf(out, 32, "-");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------------ */
/* check                                                                     */

/* What to do about a failure of this kind, for check's FAILED lines that do
 * not already say (a message that names a setting or an action does). */
static const char *next_step(int code, const char *msg)
{
    static const char *const said[] = {"LEADSYNC_", "check ", "set ", "remove ",
                                       "copy ",     "fix ",   "use "};
    size_t i;

    for (i = 0; i < LS_ARRAY_LEN(said); i++)
        if (strstr(msg, said[i]))
            return "";
    switch (code) {
    case LS_EAUTH:
        return "; fix the credentials, then run 'leadsync check' again";
    case LS_EUNAVAIL:
        return "; check the address and that the service is up (runs keep the work and retry)";
    default:
        return "; fix the setting, then run 'leadsync check' again ('leadsync --help' lists them)";
    }
}

static void failed(const char *what, int code, const char *msg)
{
    printf("%s: FAILED: %s%s\n", what, msg, next_step(code, msg));
}

int ls_cmd_check(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    struct azt_client *client = NULL;
    struct ls_sink *sinks = NULL;
    size_t nsinks = 0, i;
    int64_t t0;
    int rc, worst = LS_OK;

    (void)a;
    *exit_code = LS_EXIT_OK;
    rc = ls_open_table_client(cfg, &client);
    if (rc) {
        failed("config", rc, ls_error_last());
        *exit_code = ls_exit_code(rc);
        rc = LS_OK; /* already reported */
        goto done;
    }
    printf("config: ok (table %s, ledger %s, sinks %s)\n", cfg->table, cfg->state, cfg->sinks);

    t0 = ls_mono_ms();
    rc = ls_table_probe(client, cfg->table);
    if (rc) {
        worst = rc;
        failed("table", worst, ls_error_last());
    } else {
        char server[32];

        fmt_time_ms((int64_t)azt_client_server_time(client) * 1000, server);
        printf("table: ok (%s answered in %lld ms, server time %s)\n", cfg->table,
               (long long)(ls_mono_ms() - t0), server);
    }
    rc = LS_OK;

    {
        struct stat sb;

        if (stat(cfg->state, &sb) == 0)
            printf("ledger: ok (%s, mode %03o)\n", cfg->state, (unsigned)(sb.st_mode & 0777));
        else
            printf("ledger: ok (%s will be created on the first run)\n", cfg->state);
    }

    if (ls_sinks_create(cfg, &sinks, &nsinks) != LS_OK) {
        failed("sinks", LS_ECONFIG, ls_error_last());
        if (!worst)
            worst = LS_ECONFIG;
    } else {
        for (i = 0; i < nsinks; i++) {
            char msg[512] = "";
            int src =
                sinks[i].ops->check ? sinks[i].ops->check(sinks[i].ctx, msg, sizeof(msg)) : LS_OK;

            if (src) {
                char *what = ls_xasprintf("sink %s", sinks[i].id);

                failed(what, src, msg);
                free(what);
            } else
                printf("sink %s: ok (%s)\n", sinks[i].id, msg);
            ls_route_describe(sinks[i].route, msg, sizeof(msg));
            printf("sink %s: route: %s\n", sinks[i].id, msg);
            if (src && !worst)
                worst = src;
        }
    }
    if (worst)
        *exit_code = ls_exit_code(worst);
done:
    ls_sinks_destroy(sinks, nsinks);
    azt_client_destroy(client);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* retry and purge                                                           */

static int open_writer(const struct ls_config *cfg, struct ls_ledger **out)
{
    struct ls_ledger_opts lo = {0};

    lo.path = cfg->state;
    lo.wal = strcmp(cfg->journal_mode, "wal") == 0;
    lo.share = 1; /* retry and purge work while the daemon runs */
    return ls_ledger_open(&lo, out);
}

/* retry resumes the sinks the breaker paused (ls_deliver.h): sink, or every
 * sink when NULL. Prints each. In the caller's transaction. */
static int resume_breakers(struct ls_ledger *l, const char *sink)
{
    char **ids = NULL;
    size_t n = 0, i;
    int rc = ls_ledger_sink_ids(l, &ids, &n);

    for (i = 0; rc == LS_OK && i < n; i++) {
        struct ls_sink_pause p;
        int found = 0;

        if (sink && strcmp(sink, ids[i]) != 0)
            continue;
        rc = ls_ledger_pause_get(l, ids[i], &p, &found);
        if (rc || !found || !ls_breaker_paused(p.reason))
            continue;
        rc = ls_ledger_pause_clear(l, ids[i]);
        if (rc == LS_OK)
            printf("resumed sink %s (paused after it %s)\n", ids[i], LS_BREAKER_REASON);
    }
    ls_ledger_strings_free(ids, n);
    return rc;
}

/* The ledger changes of retry and purge: one call in one transaction. */
enum ledger_edit { EDIT_RETRY_DEAD, EDIT_PURGE };

static int edit_ledger(const struct ls_config *cfg, enum ledger_edit what, const char *sink,
                       int64_t before, size_t *n)
{
    struct ls_ledger *l = NULL;
    int rc;

    rc = open_writer(cfg, &l);
    if (rc)
        goto done;
    rc = ls_sinks_attach(l, cfg->sinks);
    if (rc)
        goto done;
    rc = ls_ledger_begin(l);
    if (rc)
        goto done;
    if (what == EDIT_RETRY_DEAD)
        rc = ls_ledger_retry_dead(l, sink, ls_now_ms(), n);
    if (what == EDIT_RETRY_DEAD && rc == LS_OK)
        rc = resume_breakers(l, sink);
    else
        rc = ls_ledger_purge(l, before, n);
    if (rc) {
        ls_ledger_rollback(l);
        goto done;
    }
    rc = ls_ledger_commit(l);
done:
    ls_ledger_close(l);
    return rc;
}

/* The configured sink `name` means: its id, or its kind when one sink of
 * that kind is configured. *id malloc'd. LS_EUSAGE naming the configured
 * sinks when none (or more than one) matches; LS_ECONFIG for a bad list. */
static int resolve_sink(const struct ls_config *cfg, const char *name, char **id)
{
    struct ls_sink_spec *specs = NULL;
    size_t n = 0, i, kind = 0, at = 0, len = 0;
    char known[1024] = "";
    int rc;

    *id = NULL;
    rc = ls_sink_specs_parse(cfg->sinks, &specs, &n);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        if (strcmp(specs[i].id, name) == 0) {
            *id = ls_xstrdup(specs[i].id);
            goto done;
        }
        if (strcmp(specs[i].ops->name, name) == 0 && kind++ == 0)
            at = i;
        if (len < sizeof(known))
            len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "",
                                    specs[i].id);
    }
    if (kind == 1)
        *id = ls_xstrdup(specs[at].id);
    else
        rc = ls_error(LS_EUSAGE, "--sink '%s': %s; the configured sinks are: %s", name,
                      kind ? "more than one sink is of that kind, give its name"
                           : "no configured sink has that name",
                      known);
done:
    ls_sink_specs_free(specs, n);
    return rc;
}

int ls_cmd_retry(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    char *sink = NULL;
    size_t n = 0;
    int rc;

    *exit_code = LS_EXIT_OK;
    /* A sink name is checked before the ledger is touched. */
    if (a->sink && (rc = resolve_sink(cfg, a->sink, &sink)) != LS_OK)
        return rc;
    rc = edit_ledger(cfg, EDIT_RETRY_DEAD, sink, 0, &n);
    if (!rc)
        printf("re-queued %zu dead letter%s%s%s; the next run delivers them\n", n,
               n == 1 ? "" : "s", sink ? " of sink " : "", sink ? sink : "");
    free(sink);
    return rc;
}

int ls_cmd_purge(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    long days = a->days;
    size_t n = 0;
    int rc;

    *exit_code = LS_EXIT_OK;
    rc = edit_ledger(cfg, EDIT_PURGE, NULL, ls_now_ms() - (int64_t)days * 86400000, &n);
    if (!rc)
        printf("purged the payloads of %zu delivered lead%s older than %ld day%s\n", n,
               n == 1 ? "" : "s", days, days == 1 ? "" : "s");
    return rc;
}

/* ------------------------------------------------------------------------ */
/* send-test-lead                                                            */

static json_t *test_lead(void)
{
    char ts[64], id[40], when[32];
    struct timespec now;
    struct tm tm;
    time_t t;

    clock_gettime(CLOCK_REALTIME, &now);
    t = now.tv_sec;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts, sizeof(ts), "%s.%07ldZ", when, now.tv_nsec / 100);
    snprintf(id, sizeof(id), "test%012llx",
             (unsigned long long)(now.tv_sec * 1000 + now.tv_nsec / 1000000));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,"
                     "s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:{s:s}}",
                     "leadId", id, "partitionKey", "leadsync-test", "rowKey", id, "timestamp", ts,
                     "source", "leadsync", "action", "PLT", "offerId", "leadsync.test-lead",
                     "offerTitle", "leadsync test lead", "stage", "initial-interest",
                     "doNotContact", 0, "isTest", 1, "customer", "firstName", "Test", "lastName",
                     "Lead (leadsync)", "email", "test-lead@example.com", "phone", "", "country",
                     "US", "company", "leadsync test", "title", "", "description",
                     "A test lead sent by 'leadsync send-test-lead'. Safe to delete.",
                     "createdTime", ts, "extra", "sentBy", "leadsync send-test-lead");
}

int ls_cmd_send_test_lead(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    const char *sink_name = a->sink;
    struct ls_sink *sinks = NULL;
    size_t nsinks = 0, i, sent = 0;
    json_t *lead = NULL;
    char *payload = NULL;
    int rc;

    *exit_code = LS_EXIT_OK;
    rc = ls_sinks_create(cfg, &sinks, &nsinks);
    if (rc)
        goto done;
    lead = test_lead();
    /* as the engine hands a stored lead over: parsed, and as text */
    payload = lead ? json_dumps(lead, JSON_COMPACT) : NULL;
    for (i = 0; i < nsinks; i++) {
        struct ls_sink_item item = {0};
        struct ls_sink_result res;
        char did[64];

        if (sink_name && strcmp(sink_name, sinks[i].id) != 0 &&
            strcmp(sink_name, sinks[i].ops->name) != 0)
            continue;
        snprintf(did, sizeof(did), "msg_%s", json_string_value(json_object_get(lead, "leadId")));
        item.delivery_id = did;
        item.lead_id = json_string_value(json_object_get(lead, "leadId"));
        item.lead = lead;
        item.payload = payload;
        item.created = 1;
        item.attempt = 1;
        memset(&res, 0, sizeof(res));
        rc = sinks[i].ops->deliver(sinks[i].ctx, &item, 1, &res);
        sent++;
        if (rc || res.outcome != LS_SINK_OK) {
            printf("sink %s: FAILED (status %d): %s\n", sinks[i].id, res.status,
                   rc ? ls_error_last() : res.error);
            if (!*exit_code)
                *exit_code =
                    res.outcome == LS_SINK_FATAL
                        ? (res.auth ? LS_EXIT_NOPERM : LS_EXIT_CONFIG)
                        : (res.outcome == LS_SINK_REJECT ? LS_EXIT_DATAERR : LS_EXIT_UNAVAILABLE);
            rc = LS_OK;
        } else {
            printf("sink %s: test lead %s delivered\n", sinks[i].id, item.lead_id);
        }
    }
    if (!sent)
        rc = ls_error(LS_EUSAGE, "no configured sink is named '%s'", sink_name);
done:
    free(payload);
    json_decref(lead);
    ls_sinks_destroy(sinks, nsinks);
    return rc;
}
