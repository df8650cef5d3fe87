/* test_ls_sinks.c - sink URLs, LEADSYNC_SINKS entries and names, an
 * older ledger's deliveries moving to the configured names, and the
 * one-at-a-time batch loop the notification sinks share. */
#include "ls_test.h"

#include "ls_embed.h"
#include "ls_ledger.h"
#include "ls_sink.h"
#include "ls_url.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

static void test_ls_sinks__url_display(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"https://h.example/hook?code=SECRET", "https://h.example/hook"},
        {"https://h.example", "https://h.example/"},
        {"HTTPS://h.example:8443/a/b#frag", "https://h.example:8443/a/b"},
        {"http://127.0.0.1:9/x?sig=1&b=2", "http://127.0.0.1:9/x"},
        {"https://user:pw@h.example/p", "https://h.example/p"},
        {"http://[::1]:80/p", "http://[::1]:80/p"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < LS_ARRAY_LEN(cases); i++) {
        char *d = ls_url_display(cases[i].in);

        assert_non_null(d);
        assert_string_equal(d, cases[i].out);
        free(d);
    }
    assert_null(ls_url_display("not a url"));
    assert_null(ls_url_display(""));
}

static void test_ls_sinks__url_policy(void **state)
{
    const unsigned web = LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO;
    static const char *const ok[] = {
        "https://h.example/hook", "http://127.0.0.1:8080/hook", "http://127.9.9.9/",
        "http://localhost:1/",    "http://[::1]:1/h",           "https://u.example:443/",
    };
    static const char *const refused[] = {
        "http://127.0.0.1:80@evil.example/hook", /* userinfo, and evil is the host */
        "http://evil.example/127.0.0.1",
        "http://localhost.evil.example/",
        "http://127.0.0.1.evil.example/",
        "https://user:secret@h.example/hook",
        "https://;auth=x@h.example/",
        "http://[::2]/",
        "//h.example/hook",
    };
    size_t i;
    int lo = -1;

    (void)state;
    for (i = 0; i < LS_ARRAY_LEN(ok); i++)
        assert_int_equal(ls_url_check(ok[i], "t", web, NULL), 0);
    for (i = 0; i < LS_ARRAY_LEN(refused); i++) {
        assert_int_equal(ls_url_check(refused[i], "t", web, &lo), LS_ECONFIG);
        assert_null(strstr(ls_error_last(), "secret"));
        assert_int_equal(lo, 0);
    }
    assert_int_equal(ls_url_check("ftp://127.0.0.1/", "t", web, &lo), LS_ECONFIG);
    assert_int_equal(ls_url_check("http://127.0.0.1:80@evil.example/", "t", LS_URL_HTTP, &lo), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(ls_url_check("http://[::1]/", "t", 0, &lo), 0);
    assert_int_equal(lo, 1);
}

static void test_ls_sinks__specs(void **state)
{
    struct ls_sink_spec *s = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(ls_sink_specs_parse(" sales=salesforce , webhook:https://h.example/x?code=S ,"
                                         "jsonl:./a.jsonl, alerts=webhook:https://h.example/y",
                                         &s, &n),
                     0);
    assert_int_equal(n, 4);
    assert_string_equal(s[0].id, "sales");
    assert_string_equal(s[0].key, "salesforce");
    assert_string_equal(s[0].ops->name, "salesforce");
    assert_string_equal(s[1].id, "webhook:https://h.example/x");
    assert_string_equal(s[1].key, s[1].id);
    assert_string_equal(s[1].arg, "https://h.example/x?code=S"); /* create gets the token */
    assert_string_equal(s[2].id, "jsonl:./a.jsonl");
    assert_string_equal(s[3].id, "alerts");
    assert_string_equal(s[3].key, "webhook:https://h.example/y");
    ls_sink_specs_free(s, n);

    /* Configuration errors name the entry, never its secrets. */
    assert_int_equal(ls_sink_specs_parse("a=salesforce,a=hubspot", &s, &n), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "two sinks are named 'a'"));
    assert_int_equal(ls_sink_specs_parse("webhook:https://h/x?c=1,webhook:https://h/x?c=2", &s, &n),
                     LS_ECONFIG);
    assert_null(strstr(ls_error_last(), "c=1"));
    assert_int_equal(ls_sink_specs_parse("salesforce,salesforce=hubspot", &s, &n), LS_ECONFIG);
    assert_int_equal(ls_sink_specs_parse("bad name=jsonl:x", &s, &n), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "sink name 'bad name'"));
    assert_int_equal(ls_sink_specs_parse("x=", &s, &n), LS_ECONFIG);
    assert_int_equal(ls_sink_specs_parse("x=nosuch", &s, &n), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "unknown sink 'nosuch'"));
    assert_int_equal(ls_sink_specs_parse("webhook:https://u:hunter2@h.example/", &s, &n),
                     LS_ECONFIG);
    assert_null(strstr(ls_error_last(), "hunter2"));
    assert_int_equal(ls_sink_specs_parse("webhook:http://127.0.0.1:80@evil/h", &s, &n), LS_ECONFIG);
    assert_int_equal(ls_sink_specs_parse("webhook", &s, &n), LS_ECONFIG);
    assert_int_equal(ls_sink_specs_parse(" , ", &s, &n), LS_ECONFIG);
    assert_null(s);
}

static void test_ls_sinks__key_of(void **state)
{
    char *k;

    (void)state;
    k = ls_sink_key_of("webhook:https://u:p@h.example/x");
    assert_string_equal(k, "webhook:https://h.example/x");
    free(k);
    k = ls_sink_key_of("webhook:https://h.example");
    assert_string_equal(k, "webhook:https://h.example/");
    free(k);
    k = ls_sink_key_of("salesforce");
    assert_string_equal(k, "salesforce");
    free(k);
    k = ls_sink_key_of("jsonl:./x.jsonl");
    assert_string_equal(k, "jsonl:./x.jsonl");
    free(k);
}

/* A ledger as version 2 wrote it: migrations 001 and 002, deliveries under
 * the old names (an unnamed Salesforce sink, a webhook with credentials in
 * its URL and no path). */
static void write_old_ledger(const char *path)
{
    static const char *const fill =
        "INSERT INTO outbox (sink, lead_id, delivery_id, payload, state, attempts, created_at,"
        " updated_at, next_attempt_at) VALUES"
        " ('salesforce', 'L1', 'msg_1', '{}', 'pending', 0, 1, 1, 1),"
        " ('salesforce', 'L2', 'msg_2', '{}', 'dead', 8, 1, 1, 1),"
        " ('salesforce', 'L3', 'msg_3', '{}', 'delivered', 1, 1, 1, 1),"
        " ('webhook:https://u:pw@h.example', 'L1', 'msg_1', '{}', 'pending', 0, 1, 1, 1),"
        " ('webhook:https://u:pw@h.example', 'L2', 'msg_2', '{}', 'dead', 3, 1, 1, 1),"
        " ('web_to_lead', 'L4', 'msg_4', '{}', 'dead', 3, 1, 1, 1);"
        "INSERT INTO sink_leads VALUES ('salesforce', 'L3', 1, 'msg_3'),"
        " ('webhook:https://u:pw@h.example', 'L9', 1, 'msg_9');"
        "INSERT INTO meta VALUES ('inline_delivered:salesforce', '5'),"
        " ('api_usage:salesforce', '10/100 1');"
        "INSERT INTO web_to_lead_posts VALUES ('L4', 'msg_4', 'unknown', NULL, 1, 1);"
        "PRAGMA user_version = 2;";
    sqlite3 *db = NULL;
    size_t i;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (i = 0; i < 2; i++)
        assert_int_equal(sqlite3_exec(db, ls_migrations[i].data, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, fill, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t count(struct ls_ledger *l, const char *sink, const char *state)
{
    struct ls_sink_stats *st = NULL;
    size_t n = 0, i;
    int64_t v = -1;

    assert_int_equal(ls_ledger_sink_stats(l, &st, &n), 0);
    for (i = 0; i < n; i++) {
        if (strcmp(st[i].sink, sink) != 0)
            continue;
        v = strcmp(state, "pending") == 0 ? st[i].pending
            : strcmp(state, "dead") == 0  ? st[i].dead
                                          : st[i].delivered;
    }
    free(st);
    return v;
}

static void test_ls_sinks__old_ledger_upgrade(void **state)
{
    char *dir = lst_tmpdir();
    char *path = ls_xasprintf("%s/old.db", dir);
    struct ls_ledger_opts o = {0};
    struct ls_ledger *l = NULL;
    char **ids = NULL;
    struct ls_api_usage usage;
    enum ls_post_mark mark;
    size_t n = 0, i;
    int delivered = 0, found = 0;

    (void)state;
    write_old_ledger(path);
    o.path = path;
    assert_int_equal(ls_ledger_open(&o, &l), 0);
    assert_int_equal(ls_sinks_attach(l, "sales=salesforce,webhook:https://h.example?code=k,"
                                        "forms=web_to_lead"),
                     0);
    assert_int_equal(ls_ledger_sink_ids(l, &ids, &n), 0);
    for (i = 0; i < n; i++) {
        assert_null(strstr(ids[i], "pw@")); /* the credentials left the ledger */
        assert_string_not_equal(ids[i], "salesforce");
        free(ids[i]);
    }
    free(ids);
    /* Nothing stranded: pending and dead letters under the configured names. */
    assert_int_equal(count(l, "sales", "pending"), 1);
    assert_int_equal(count(l, "sales", "dead"), 1);
    assert_int_equal(count(l, "sales", "delivered"), 1 + 5);
    assert_int_equal(count(l, "webhook:https://h.example/", "pending"), 1);
    assert_int_equal(count(l, "webhook:https://h.example/", "dead"), 1);
    assert_int_equal(count(l, "forms", "dead"), 1);
    /* Nothing re-delivered: L3 still counts as delivered to the sink. */
    assert_int_equal(ls_ledger_sink_lead_delivered(l, "sales", "L3", &delivered), 0);
    assert_int_equal(delivered, 1);
    assert_int_equal(
        ls_ledger_sink_lead_delivered(l, "webhook:https://h.example/", "L9", &delivered), 0);
    assert_int_equal(delivered, 1);
    assert_int_equal(ls_ledger_usage_get(l, "sales", &usage, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(usage.used, 10);
    /* retry --sink works by the new name, and the renamed Web-to-Lead sink
     * still marks its unknown post re-queued. */
    assert_int_equal(ls_ledger_retry_dead(l, "sales", 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_retry_dead(l, "forms", 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_post_get(l, "forms", "L4", &mark, &found), 0);
    assert_int_equal(mark, LS_POST_REQUEUED);
    assert_int_equal(ls_ledger_post_get(l, "web_to_lead", "L4", &mark, &found), 0);
    assert_int_equal(mark, LS_POST_NONE); /* moved with the sink, not copied */
    ls_ledger_close(l);
    /* A second open finds nothing to move. */
    assert_int_equal(ls_ledger_open(&o, &l), 0);
    assert_int_equal(ls_sinks_attach(l, "sales=salesforce,webhook:https://h.example?code=k,"
                                        "forms=web_to_lead"),
                     0);
    assert_int_equal(count(l, "sales", "pending"), 2);
    ls_ledger_close(l);
    lst_rmtree(dir);
    free(path);
    free(dir);
}

/* A name already holding deliveries wins over an older name's copy of the
 * same delivery: no duplicate pending. */
static void test_ls_sinks__rename_merges(void **state)
{
    char *dir = lst_tmpdir();
    char *path = ls_xasprintf("%s/m.db", dir);
    struct ls_ledger_opts o = {0};
    struct ls_ledger *l = NULL;

    (void)state;
    o.path = path;
    assert_int_equal(ls_ledger_open(&o, &l), 0);
    assert_int_equal(ls_ledger_enqueue(l, "hubspot", "L1", "msg_1", "{}", 1, 1), 0);
    assert_int_equal(ls_ledger_enqueue(l, "hubspot", "L2", "msg_2", "{}", 1, 1), 0);
    assert_int_equal(ls_ledger_enqueue(l, "crm", "L1", "msg_1", "{}", 1, 1), 0);
    assert_int_equal(ls_ledger_sink_rename(l, "hubspot", "crm"), 0);
    assert_int_equal(count(l, "crm", "pending"), 2);
    assert_int_equal(count(l, "hubspot", "pending"), 0);
    ls_ledger_close(l);
    lst_rmtree(dir);
    free(path);
    free(dir);
}

/* A scripted receiver for ls_sink_send_each: outcome[i] for the i-th send. */
struct script {
    enum ls_outcome outcome[4];
    int throttled[4];
    size_t sent;
};

static void script_send(void *ctx, const struct ls_sink_item *it, struct ls_sink_result *r)
{
    struct script *s = ctx;

    assert_int_equal(it->id, (int64_t)s->sent + 1); /* in order, none skipped */
    memset(r, 0, sizeof(*r));
    r->outcome = s->outcome[s->sent];
    r->throttled = s->throttled[s->sent];
    r->status = 200;
    r->retry_after_ms = -1;
    s->sent++;
}

static void test_ls_sinks__send_each(void **state)
{
    static const struct ls_sink_one_by_one how = {script_send, ls_sink_halts, "halted here",
                                                  "send-each-test"};
    struct ls_sink_item items[4];
    struct ls_sink_result res[4];
    struct script all_ok = {{LS_SINK_OK, LS_SINK_REJECT, LS_SINK_RETRY, LS_SINK_OK}, {0}, 0};
    struct script throttled = {{LS_SINK_OK, LS_SINK_RETRY, LS_SINK_OK, LS_SINK_OK}, {0, 1}, 0};
    struct script fatal = {{LS_SINK_FATAL, LS_SINK_OK, LS_SINK_OK, LS_SINK_OK}, {0}, 0};
    struct script stopped = {{LS_SINK_OK, LS_SINK_OK, LS_SINK_OK, LS_SINK_OK}, {0}, 0};
    size_t i;

    (void)state;
    memset(items, 0, sizeof(items));
    for (i = 0; i < 4; i++)
        items[i].id = (int64_t)i + 1;
    /* A rejected or retried item does not stop the batch. */
    assert_int_equal(ls_sink_send_each(&how, &all_ok, items, 4, res), LS_OK);
    assert_int_equal(all_ok.sent, 4);
    assert_int_equal(res[1].outcome, LS_SINK_REJECT);
    assert_int_equal(res[3].outcome, LS_SINK_OK);
    /* A throttled answer does: the rest is not sent, with the sink's reason. */
    assert_int_equal(ls_sink_send_each(&how, &throttled, items, 4, res), LS_OK);
    assert_int_equal(throttled.sent, 2);
    assert_int_equal(res[1].outcome, LS_SINK_RETRY);
    for (i = 2; i < 4; i++) {
        assert_int_equal(res[i].outcome, LS_SINK_NOT_SENT);
        assert_int_equal(res[i].status, 0);
        assert_int_equal(res[i].retry_after_ms, -1);
        assert_string_equal(res[i].error, "not sent: halted here");
    }
    assert_int_equal(ls_sink_send_each(&how, &fatal, items, 4, res), LS_OK);
    assert_int_equal(fatal.sent, 1);
    assert_int_equal(res[3].outcome, LS_SINK_NOT_SENT);
    /* A signal: nothing more starts. */
    ls_stop_requested = 1;
    assert_int_equal(ls_sink_send_each(&how, &stopped, items, 4, res), LS_OK);
    ls_stop_requested = 0;
    assert_int_equal(stopped.sent, 0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(res[i].outcome, LS_SINK_NOT_SENT);
        assert_string_equal(res[i].error, "not sent: stopping on a signal");
    }
    assert_int_equal(ls_sink_send_each(&how, &stopped, items, 0, res), LS_OK);
    assert_int_equal(stopped.sent, 0);
}

static void test_ls_sinks__halts(void **state)
{
    struct ls_sink_result r;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.outcome = LS_SINK_FATAL;
    assert_true(ls_sink_halts(&r));
    r.outcome = LS_SINK_RETRY;
    assert_false(ls_sink_halts(&r));
    r.throttled = 1;
    assert_true(ls_sink_halts(&r));
    r.outcome = LS_SINK_REJECT;
    assert_false(ls_sink_halts(&r));
    r.outcome = LS_SINK_OK;
    r.throttled = 0;
    assert_false(ls_sink_halts(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_sinks__url_display),
        cmocka_unit_test(test_ls_sinks__url_policy),
        cmocka_unit_test(test_ls_sinks__specs),
        cmocka_unit_test(test_ls_sinks__key_of),
        cmocka_unit_test(test_ls_sinks__old_ledger_upgrade),
        cmocka_unit_test(test_ls_sinks__rename_merges),
        cmocka_unit_test(test_ls_sinks__send_each),
        cmocka_unit_test(test_ls_sinks__halts),
    };

    return lst_run_group(tests, NULL, NULL);
}
