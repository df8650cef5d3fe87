/*
 * sink_chat.c - the Teams and Slack notification sinks (ls_notify.h says
 * what the messages hold).
 *
 * LEADSYNC_SINKS=teams:URL posts, per lead event, a Teams workflow message
 * carrying an Adaptive Card ("Post to a channel when a webhook request is
 * received"); slack:URL posts a Slack incoming-webhook message with text and
 * Block Kit blocks. https only, except to a loopback host; redirects are not
 * followed; LEADSYNC_TEAMS_CA_FILE / LEADSYNC_SLACK_CA_FILE replace the system
 * CA bundle;
 * LEADSYNC_HTTP_TIMEOUT_SECONDS bounds every request.
 *
 * One request at a time (notifications are few and a channel wants them in
 * order). A throttled answer (429, Retry-After honoured), no answer, or a
 * gateway error pauses the sink through the delivery engine without counting
 * an attempt; the rest of the batch is not sent. Outcomes: ls_notify.h.
 *
 * check: an OPTIONS request; any HTTP answer but 401/403/404/410 proves the
 * URL alive without posting anything to the channel.
 */
#include "ls_crm.h"
#include "ls_log.h"
#include "ls_notify.h"
#include "ls_sink.h"
#include "ls_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chat {
    const char *kind; /* "teams" | "slack" */
    json_t *(*body)(const json_t *lead);
    char *url;
    char *shown; /* scheme://host[:port]/path */
    struct ls_crm_http *http;
};

static void chat_destroy(void *ctx)
{
    struct chat *c = ctx;

    if (!c)
        return;
    ls_crm_http_free(c->http);
    free(c->url);
    free(c->shown);
    free(c);
}

static int chat_create(const char *kind, json_t *(*body)(const json_t *), const char *arg,
                       const char *ca_file, const struct ls_config *cfg, void **ctx)
{
    struct chat *c = ls_xcalloc(1, sizeof(*c));
    char what[64];
    int rc;

    snprintf(what, sizeof(what), "LEADSYNC_SINKS: %s", kind);
    rc = ls_url_check(arg, what, LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL);
    if (rc == LS_OK)
        rc = ls_crm_http_create(kind, ca_file, cfg->http_timeout_seconds, &c->http);
    if (rc) {
        chat_destroy(c);
        return rc;
    }
    /* After a stop, a post still in flight gets the grace, then is cut off
     * and reported not sent, like the CRM sinks' calls. */
    ls_crm_http_stop_grace(c->http, cfg->stop_grace_seconds);
    c->kind = kind;
    c->body = body;
    c->url = ls_xstrdup(arg);
    c->shown = ls_url_display(arg);
    *ctx = c;
    return LS_OK;
}

static int teams_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    return chat_create("teams", ls_notify_teams_body, arg, cfg->teams_ca_file, cfg, ctx);
}

static int slack_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    return chat_create("slack", ls_notify_slack_body, arg, cfg->slack_ca_file, cfg, ctx);
}

/* Posts one item (ls_sink_one_by_one.send). */
static void chat_send(void *ctx, const struct ls_sink_item *it, struct ls_sink_result *res)
{
    static const char *const headers[] = {"Content-Type: application/json; charset=utf-8",
                                          "Accept: */*", NULL};
    struct chat *c = ctx;
    json_t *body = it->lead ? c->body(it->lead) : NULL;
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct ls_crm_req req = {"POST", c->url, headers, txt, txt ? strlen(txt) : 0, NULL, NULL, NULL};
    struct ls_crm_resp resp;

    json_decref(body);
    if (!txt) {
        ls_notify_http_classify(c->kind, 400, NULL, -1, "lead is not serializable", 24, res);
        return;
    }
    if (ls_crm_call(c->http, &req, &resp) != LS_OK) {
        ls_notify_http_classify(c->kind, 0, ls_error_last(), -1, NULL, 0, res);
    } else if (resp.stopped) {
        ls_crm_stopped_result(res); /* cut off by a stop: the next run posts it */
    } else {
        ls_notify_http_classify(c->kind, resp.status, resp.transport, resp.retry_after_ms,
                                resp.body, resp.len, res);
        if (resp.status == 0 && resp.tls_config)
            res->outcome = LS_SINK_FATAL;
    }
    ls_crm_resp_dispose(&resp);
    free(txt);
}

/* A throttled answer, no answer, a gateway error or a fatal one stops the
 * batch: the sink pauses and the rest goes out next round, in order. */
static int chat_halts(const struct ls_sink_result *r)
{
    return r->outcome == LS_SINK_FATAL || r->outcome == LS_SINK_NOT_SENT ||
           (r->outcome == LS_SINK_RETRY && (r->throttled || r->status == 0));
}

static int chat_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                        struct ls_sink_result *results)
{
    static const struct ls_sink_one_by_one how = {chat_send, chat_halts, LS_SINK_HALTED,
                                                  "notify-sent"};

    return ls_sink_send_each(&how, ctx, items, n, results);
}

static int chat_check(void *ctx, char *msg, size_t msglen)
{
    struct chat *c = ctx;
    struct ls_crm_req req = {"OPTIONS", c->url, NULL, NULL, 0, NULL, NULL, NULL};
    struct ls_crm_resp resp;
    int rc = LS_OK;

    if (ls_crm_call(c->http, &req, &resp) != LS_OK) {
        snprintf(msg, msglen, "%s", ls_error_last());
        return LS_ERROR;
    }
    if (resp.status == 0) {
        snprintf(msg, msglen, "%s unreachable: %s", c->shown, resp.transport);
        rc = resp.tls_config ? LS_ECONFIG : LS_EUNAVAIL;
    } else if (resp.status == 401 || resp.status == 403) {
        snprintf(msg, msglen, "%s answered %d: this webhook URL is refused", c->shown, resp.status);
        rc = LS_EAUTH;
    } else if (resp.status == 404 || resp.status == 410) {
        snprintf(msg, msglen, "%s answered %d: the webhook is gone", c->shown, resp.status);
        rc = LS_ECONFIG;
    } else {
        snprintf(msg, msglen, "%s answers (OPTIONS: HTTP %d)", c->shown, resp.status);
    }
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* The chat sinks' configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry teams_conf[] = {
    {"LEADSYNC_TEAMS_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(teams_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for the Teams webhook's TLS instead of the system's", NULL},
};
static const struct ls_conf_entry slack_conf[] = {
    {"LEADSYNC_SLACK_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(slack_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for the Slack webhook's TLS instead of the system's", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_teams_ops = {
    .name = "teams",
    .conf = teams_conf,
    .nconf = LS_ARRAY_LEN(teams_conf),
    .coalesce = 0, /* one message per lead event */
    .url_arg = 1,
    .create = teams_create,
    .deliver = chat_deliver,
    .check = chat_check,
    .destroy = chat_destroy,
};

const struct ls_sink_ops ls_sink_slack_ops = {
    .name = "slack",
    .conf = slack_conf,
    .nconf = LS_ARRAY_LEN(slack_conf),
    .coalesce = 0,
    .url_arg = 1,
    .create = slack_create,
    .deliver = chat_deliver,
    .check = chat_check,
    .destroy = chat_destroy,
};
