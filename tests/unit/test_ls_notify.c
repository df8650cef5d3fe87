/* test_ls_notify.c - the notification sinks' pure halves (ls_notify.h):
 * the email's headers (RFC 2047 subject, RFC 5322 date, Message-ID) and
 * parts, the Teams card and the Slack blocks against committed vectors
 * (tests/fixtures/notify/), a do-not-contact lead without a call to action,
 * escaping, and the classification of SMTP and chat-webhook answers. */
#include "ls_test.h"

#include "ls_notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A lead as the outbox holds it, with characters every format must escape. */
static json_t *lead_of(const char *action, int dnc)
{
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s}", "leadId",
        "0123456789abcdef", "action", action, "offerId", "contoso.widget", "offerTitle",
        "Widget <Pro>", "stage", dnc ? "do-not-contact" : "initial-interest", "source", "SPZA",
        "doNotContact", dnc, "isTest", 0, "customer", "firstName", "Zoë", "lastName",
        "O'Hara & <b>Sons</b>", "email", "zoe@example.com", "phone", "+1 555 0100", "country", "IE",
        "company", "Acme \"Intl\"", "title", "CTO <!channel>", "description",
        "Line one\nLine two\twith a tab", "createdTime", "2026-11-24T02:03:34.0000000Z");
}

/* Compares got with tests/fixtures/notify/<name>; LS_TEST_REGEN=1 rewrites
 * the fixture instead (then review the diff before committing). */
static void assert_vector(const char *name, const char *got)
{
    char path[512];
    char *want;

    snprintf(path, sizeof(path), "%s/notify/%s", LS_FIXTURES, name);
    if (getenv("LS_TEST_REGEN")) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    want = lst_fixture(path + strlen(LS_FIXTURES) + 1, NULL);
    if (strcmp(want, got) != 0)
        fprintf(stderr, "%s differs; got:\n%s\n", name, got);
    assert_string_equal(want, got);
    free(want);
}

static void test_ls_notify__action_words(void **state)
{
    (void)state;
    assert_string_equal(ls_notify_action_words("PLT"), "asked to be contacted");
    assert_string_equal(ls_notify_action_words("StartTestDrive"), "started a test drive");
    assert_string_equal(ls_notify_action_words("INS"), "deployed the offer");
    assert_string_equal(ls_notify_action_words("create"), "deployed the offer");
    assert_string_equal(ls_notify_action_words("DNC"), "is not to be contacted");
    assert_null(ls_notify_action_words("Subscribe"));
    assert_null(ls_notify_action_words(NULL));
}

static void test_ls_notify__headline(void **state)
{
    json_t *l = lead_of("PLT", 0), *d = lead_of("DNC", 1), *u = lead_of("Subscribe", 0);
    char *h = ls_notify_headline(l), *hd = ls_notify_headline(d), *hu = ls_notify_headline(u);

    (void)state;
    assert_string_equal(h, "Zoë O'Hara & <b>Sons</b> (Acme \"Intl\") asked to be contacted: "
                           "Widget <Pro>");
    assert_string_equal(hd, "Do not contact: Zoë O'Hara & <b>Sons</b> (Acme \"Intl\") is not to "
                            "be contacted: Widget <Pro>");
    assert_non_null(strstr(hu, "took the action 'Subscribe'"));
    free(h);
    free(hd);
    free(hu);
    json_decref(l);
    json_decref(d);
    json_decref(u);
}

static void test_ls_notify__rfc2047(void **state)
{
    char *a = ls_notify_rfc2047("New lead: Ada (Acme)");
    char *b = ls_notify_rfc2047("Zoë Ångström (Acme) asked to be contacted: Widget");
    char *c = ls_notify_rfc2047("ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ");
    char *d = ls_notify_rfc2047("a\r\nBcc: evil@example.com");

    (void)state;
    assert_string_equal(a, "New lead: Ada (Acme)");
    /* 45 bytes a word; the second word starts at a character boundary */
    assert_string_equal(b,
                        "=?UTF-8?B?Wm/DqyDDhW5nc3Ryw7ZtIChBY21lKSBhc2tlZCB0byBiZSBjb250YWN0ZWQ6?="
                        "\r\n =?UTF-8?B?IFdpZGdldA==?=");
    assert_string_equal(c,
                        "=?UTF-8?B?w4TDhMOEw4TDhMOEw4TDhMOEw4TDhMOEw4TDhMOEw4TDhMOEw4TDhMOEw4Q=?="
                        "\r\n =?UTF-8?B?w4TDhMOEw4TDhMOEw4TDhA==?=");
    assert_string_equal(d, "a  Bcc: evil@example.com"); /* no header injection */
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_ls_notify__date_and_message_id(void **state)
{
    char date[40];
    char *a = ls_notify_message_id("msg_0123abcd", "Leads <leads@example.com>");
    char *b = ls_notify_message_id("msg_0123abcd", "leads@example.com");
    char *c = ls_notify_message_id("id with <bad>@chars", "nobody");

    (void)state;
    ls_notify_rfc5322_date(1764626458123LL, date);
    assert_string_equal(date, "Mon, 01 Dec 2025 22:00:58 +0000");
    ls_notify_rfc5322_date(0, date);
    assert_string_equal(date, "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_string_equal(a, "<msg_0123abcd@example.com>");
    assert_string_equal(b, a); /* the same delivery: the same id */
    assert_string_equal(c, "<id_with__bad__chars@leadsync.invalid>");
    free(a);
    free(b);
    free(c);
}

static void test_ls_notify__email_headers(void **state)
{
    json_t *l = lead_of("PLT", 0);
    char **h = ls_notify_email_headers(l, "msg_0123abcd", "Leads <leads@example.com>",
                                       "a@example.com, b@example.com", 1764626458000LL);
    char joined[2048] = "";
    size_t i;

    (void)state;
    for (i = 0; h[i]; i++) {
        strncat(joined, h[i], sizeof(joined) - strlen(joined) - 3);
        strncat(joined, "\n", sizeof(joined) - strlen(joined) - 1);
    }
    assert_vector("email-headers.txt", joined);
    ls_notify_lines_free(h);
    json_decref(l);
}

static void test_ls_notify__email_parts(void **state)
{
    json_t *l = lead_of("PLT", 0), *d = lead_of("DNC", 1);
    char *t = ls_notify_email_text(l), *h = ls_notify_email_html(l);
    char *dt = ls_notify_email_text(d), *dh = ls_notify_email_html(d);

    (void)state;
    assert_vector("email.txt", t);
    assert_vector("email.html", h);
    assert_vector("email-dnc.html", dh);
    assert_null(strstr(h, "<b>Sons")); /* values escaped */
    assert_non_null(strstr(h, "mailto:zoe@example.com"));
    assert_null(strstr(dh, "mailto:")); /* no call to action */
    assert_null(strstr(dt, "Reply to the customer"));
    assert_non_null(strstr(dt, "Do not contact"));
    free(t);
    free(h);
    free(dt);
    free(dh);
    json_decref(l);
    json_decref(d);
}

static void check_json(const char *name, json_t *body)
{
    char *txt = json_dumps(body, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    char *with_nl = ls_xasprintf("%s\n", txt);

    assert_vector(name, with_nl);
    free(with_nl);
    free(txt);
    json_decref(body);
}

static void test_ls_notify__teams_and_slack(void **state)
{
    json_t *l = lead_of("StartTestDrive", 0), *d = lead_of("DNC", 1);
    json_t *dnc_card = ls_notify_teams_body(d), *dnc_slack = ls_notify_slack_body(d);
    char *t1 = json_dumps(dnc_card, JSON_COMPACT), *t2 = json_dumps(dnc_slack, JSON_COMPACT);

    (void)state;
    check_json("teams.json", ls_notify_teams_body(l));
    check_json("slack.json", ls_notify_slack_body(l));
    assert_non_null(strstr(t1, "\"actions\":[]"));
    assert_null(strstr(t1, "mailto:"));
    assert_null(strstr(t2, "mailto:"));
    assert_null(strstr(t2, "<!channel>")); /* no mention from a value */
    assert_non_null(strstr(t2, "&lt;!channel&gt;"));
    free(t1);
    free(t2);
    json_decref(dnc_card);
    json_decref(dnc_slack);
    json_decref(l);
    json_decref(d);
}

static void test_ls_notify__long_values_are_clipped(void **state)
{
    char big[8000];
    json_t *l = lead_of("PLT", 0), *s;
    const json_t *blk;
    size_t i;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "é", 2); /* a multi-byte character at the start */
    json_object_set_new(l, "description", json_string(big));
    json_object_set_new(json_object_get(l, "customer"), "company", json_string(big));
    s = ls_notify_slack_body(l);
    json_array_foreach(json_object_get(s, "blocks"), i, blk)
    {
        const json_t *f, *t = json_object_get(json_object_get(blk, "text"), "text");
        size_t k;

        if (t)
            assert_true(strlen(json_string_value(t)) <= 3000);
        json_array_foreach(json_object_get(blk, "fields"), k, f)
            assert_true(strlen(json_string_value(json_object_get(f, "text"))) <= 2000);
    }
    assert_true(strlen(json_string_value(json_object_get(
                    json_object_get(json_array_get(json_object_get(s, "blocks"), 0), "text"),
                    "text"))) <= 150);
    json_decref(s);
    json_decref(l);
}

static void test_ls_notify__smtp_classify(void **state)
{
    struct ls_sink_result r;

    (void)state;
    ls_notify_smtp_classify(LS_SMTP_OK, 250, NULL, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    ls_notify_smtp_classify(LS_SMTP_REFUSED, 550, "RCPT failed: 550", &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "LEADSYNC_EMAIL_TO"));
    ls_notify_smtp_classify(LS_SMTP_REFUSED, 552, "DATA failed: 552", &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_null(strstr(r.error, "LEADSYNC_EMAIL_TO"));
    ls_notify_smtp_classify(LS_SMTP_REFUSED, 451, "RCPT failed: 451", &r);
    assert_int_equal(r.outcome, LS_SINK_NOT_SENT);
    assert_int_equal(r.status, 451);
    ls_notify_smtp_classify(LS_SMTP_TRANSPORT, 0, "Couldn't connect", &r);
    assert_int_equal(r.outcome, LS_SINK_NOT_SENT);
    ls_notify_smtp_classify(LS_SMTP_AUTH, 535, "Login denied", &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_int_equal(r.auth, 1);
    ls_notify_smtp_classify(LS_SMTP_TLS, 0, "STARTTLS not offered", &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_int_equal(r.auth, 0);
    /* the server's words in curl's text: control characters blanked */
    ls_notify_smtp_classify(LS_SMTP_AUTH, 535, "Login denied\r\n\x1b[2J", &r);
    assert_null(strpbrk(r.error, "\r\n\x1b"));
    assert_non_null(strstr(r.error, "Login denied   [2J"));
}

static void test_ls_notify__http_classify(void **state)
{
    struct ls_sink_result r;

    (void)state;
    ls_notify_http_classify("slack", 200, NULL, -1, "ok", 2, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    ls_notify_http_classify("teams", 202, NULL, -1, NULL, 0, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    ls_notify_http_classify("slack", 429, NULL, 30000, "rate_limited", 12, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_int_equal(r.throttled, 1);
    assert_int_equal(r.retry_after_ms, 30000);
    ls_notify_http_classify("slack", 400, NULL, -1, "invalid_blocks", 14, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "invalid_blocks"));
    ls_notify_http_classify("slack", 404, NULL, -1, "no_service", 10, &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_int_equal(r.auth, 0);
    ls_notify_http_classify("slack", 410, NULL, -1, "channel_is_archived", 19, &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    ls_notify_http_classify("teams", 403, NULL, -1, "", 0, &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_int_equal(r.auth, 1);
    ls_notify_http_classify("teams", 500, NULL, -1, "oops", 4, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_int_equal(r.throttled, 0);
    ls_notify_http_classify("teams", 0, "Connection refused", -1, NULL, 0, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_int_equal(r.status, 0); /* the engine reads it as not sent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_notify__action_words),
        cmocka_unit_test(test_ls_notify__headline),
        cmocka_unit_test(test_ls_notify__rfc2047),
        cmocka_unit_test(test_ls_notify__date_and_message_id),
        cmocka_unit_test(test_ls_notify__email_headers),
        cmocka_unit_test(test_ls_notify__email_parts),
        cmocka_unit_test(test_ls_notify__teams_and_slack),
        cmocka_unit_test(test_ls_notify__long_values_are_clipped),
        cmocka_unit_test(test_ls_notify__smtp_classify),
        cmocka_unit_test(test_ls_notify__http_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
