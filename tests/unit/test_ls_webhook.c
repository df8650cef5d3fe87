/* test_ls_webhook.c - the webhook sink's pure halves: Standard Webhooks
 * signing (the specification's published vector), secrets, Retry-After and
 * outcome classification. */
#include "ls_test.h"

#include "ls_webhook.h"

#include "ls_crm.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/* The Standard Webhooks test vector (standard-webhooks spec and the svix
 * libraries' tests). */
#define VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS     1614265330
#define VEC_BODY   "{\"test\": 2432232314}"
#define VEC_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_ls_webhook__sign_vector(void **state)
{
    unsigned char key[LS_WEBHOOK_KEY_MAX];
    size_t keylen = 0;
    char sig[LS_WEBHOOK_SIG_MAX];

    (void)state;
    assert_int_equal(ls_webhook_key_decode(VEC_SECRET, key, &keylen), 0);
    assert_int_equal(keylen, 24);
    assert_int_equal(ls_webhook_sign(key, keylen, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), sig),
                     0);
    assert_string_equal(sig, VEC_SIG);
}

static void test_ls_webhook__sign_changes_with_inputs(void **state)
{
    unsigned char key[LS_WEBHOOK_KEY_MAX];
    size_t keylen = 0;
    char sig[LS_WEBHOOK_SIG_MAX];

    (void)state;
    assert_int_equal(ls_webhook_key_decode(&VEC_SECRET[6], key, &keylen), 0); /* no prefix */
    assert_int_equal(ls_webhook_sign(key, keylen, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), sig),
                     0);
    assert_string_equal(sig, VEC_SIG);
    assert_int_equal(
        ls_webhook_sign(key, keylen, VEC_ID, VEC_TS + 1, VEC_BODY, strlen(VEC_BODY), sig), 0);
    assert_string_not_equal(sig, VEC_SIG);
    assert_int_equal(
        ls_webhook_sign(key, keylen, "msg_other", VEC_TS, VEC_BODY, strlen(VEC_BODY), sig), 0);
    assert_string_not_equal(sig, VEC_SIG);
    assert_int_equal(
        ls_webhook_sign(key, keylen, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY) - 1, sig), 0);
    assert_string_not_equal(sig, VEC_SIG);
    assert_int_equal(strncmp(sig, "v1,", 3), 0);
    assert_int_equal(strlen(sig), 3 + 44);
}

/* A signer restarts from its keyed state: the vector again after other
 * inputs, the same text as the one-call ls_webhook_sign, an empty body. */
static void test_ls_webhook__signer_reused(void **state)
{
    unsigned char key[LS_WEBHOOK_KEY_MAX];
    size_t keylen = 0;
    char sig[LS_WEBHOOK_SIG_MAX], once[LS_WEBHOOK_SIG_MAX];
    struct ls_webhook_signer *s = NULL;
    int i;

    (void)state;
    assert_int_equal(ls_webhook_key_decode(VEC_SECRET, key, &keylen), 0);
    assert_int_equal(ls_webhook_signer_new(key, keylen, &s), 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(ls_webhook_signer_sign(s, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), sig),
                         0);
        assert_string_equal(sig, VEC_SIG);
        assert_int_equal(ls_webhook_signer_sign(s, "msg_other", VEC_TS + i, "{}", 2, sig), 0);
        assert_int_equal(ls_webhook_sign(key, keylen, "msg_other", VEC_TS + i, "{}", 2, once), 0);
        assert_string_equal(sig, once);
        assert_string_not_equal(sig, VEC_SIG);
    }
    assert_int_equal(ls_webhook_signer_sign(s, VEC_ID, VEC_TS, "", 0, sig), 0);
    assert_int_equal(ls_webhook_sign(key, keylen, VEC_ID, VEC_TS, "", 0, once), 0);
    assert_string_equal(sig, once);
    ls_webhook_signer_free(s);
    ls_webhook_signer_free(NULL);
}

static void test_ls_webhook__bad_secrets(void **state)
{
    static const char *const bad[] = {
        "whsec_",                                 /* empty */
        "whsec_c2hvcnQ=",                         /* 5 bytes: too short */
        "whsec_not base64 at!",                   /* not base64 */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",  /* length not a multiple of 4 */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa=w", /* padding in the middle */
    };
    unsigned char key[LS_WEBHOOK_KEY_MAX];
    size_t keylen, i;

    (void)state;
    for (i = 0; i < LS_ARRAY_LEN(bad); i++) {
        assert_int_equal(ls_webhook_key_decode(bad[i], key, &keylen), LS_ECONFIG);
        /* the message never quotes the secret */
        assert_null(strstr(ls_error_last(), "MfKQ9r8"));
        assert_null(strstr(ls_error_last(), "c2hvcnQ"));
    }
}

/* The Retry-After of a webhook or CRM answer, with the sinks' one-day cap. */
static long ra(const char *s, size_t n, int64_t now_ms)
{
    return azt_retry_after_ms(s, n, now_ms, LS_RETRY_AFTER_MAX_MS);
}

static void test_ls_webhook__retry_after(void **state)
{
    /* 2026-11-24T02:03:30Z */
    const int64_t now = 1795485810000LL;

    (void)state;
    assert_int_equal(ra("2", 1, now), 2000);
    assert_int_equal(ra(" 0 ", 3, now), 0);
    assert_int_equal(ra("120\r\n", 5, now), 120000);
    assert_int_equal(ra("99999999999999", 14, now), 86400000L);
    assert_int_equal(ra("Tue, 24 Nov 2026 02:03:35 GMT", 29, now), 5000);
    assert_int_equal(ra(" Tue, 24 Nov 2026 02:03:35 GMT\r\n", 32, now), 5000);
    assert_int_equal(ra("Tue, 24 Nov 2026 02:03:00 GMT", 29, now), 0);
    assert_int_equal(ra("Wed, 25 Nov 2026 02:04:00 GMT", 29, now), 86400000L);
    assert_int_equal(ra("", 0, now), -1);
    assert_int_equal(ra("-1", 2, now), -1);
    assert_int_equal(ra("1.5", 3, now), -1);
    assert_int_equal(ra("Tue, 24 Xyz 2026 02:03:35 GMT", 29, now), -1);
    assert_int_equal(ra("Tue, 24 Nov 2026 25:03:35 GMT", 29, now), -1);
    /* the two obsolete date forms HTTP recipients must still accept */
    assert_int_equal(ra("Tuesday, 24-Nov-26 02:03:35 GMT", 31, now), 5000);
    assert_int_equal(ra("Tue Nov 24 02:03:35 2026", 24, now), 5000);
    assert_int_equal(ra("Tue, 24 Nov 2026 02:03", 22, now), -1);
    /* not NUL-terminated: only n bytes are read */
    assert_int_equal(ra("37777", 2, now), 37000);
}

struct case_ {
    int status;
    long retry_after;
    enum ls_outcome outcome;
    int throttled;
    int auth;
};

static void test_ls_webhook__classify(void **state)
{
    static const struct case_ cases[] = {
        {200, -1, LS_SINK_OK, 0, 0},      {201, -1, LS_SINK_OK, 0, 0},
        {204, -1, LS_SINK_OK, 0, 0},      {408, -1, LS_SINK_RETRY, 0, 0},
        {409, -1, LS_SINK_RETRY, 0, 0},   {429, -1, LS_SINK_RETRY, 1, 0},
        {429, 3000, LS_SINK_RETRY, 1, 0}, {500, -1, LS_SINK_RETRY, 0, 0},
        {502, -1, LS_SINK_RETRY, 0, 0},   {503, -1, LS_SINK_RETRY, 0, 0},
        {503, 2000, LS_SINK_RETRY, 1, 0}, {504, -1, LS_SINK_RETRY, 0, 0},
        {401, -1, LS_SINK_FATAL, 0, 1},   {403, -1, LS_SINK_FATAL, 0, 1},
        {410, -1, LS_SINK_FATAL, 0, 0},   {301, -1, LS_SINK_FATAL, 0, 0},
        {307, -1, LS_SINK_FATAL, 0, 0},   {400, -1, LS_SINK_REJECT, 0, 0},
        {404, -1, LS_SINK_REJECT, 0, 0},  {413, -1, LS_SINK_REJECT, 0, 0},
        {422, -1, LS_SINK_REJECT, 0, 0},
    };
    struct ls_sink_result r;
    size_t i;

    (void)state;
    for (i = 0; i < LS_ARRAY_LEN(cases); i++) {
        ls_webhook_classify(cases[i].status, NULL, cases[i].retry_after, "{}", 2, &r);
        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(r.outcome, cases[i].outcome);
        assert_int_equal(r.throttled, cases[i].throttled);
        assert_int_equal(r.auth, cases[i].auth);
        if (cases[i].throttled)
            assert_int_equal(r.retry_after_ms, cases[i].retry_after);
    }
    ls_webhook_classify(0, "Operation timed out", -1, NULL, 0, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.throttled, 0);
    assert_non_null(strstr(r.error, "timed out"));
}

static void test_ls_webhook__reject_excerpt(void **state)
{
    char body[1000];
    struct ls_sink_result r;
    const char *colon;

    (void)state;
    memset(body, 'x', sizeof(body));
    memcpy(body, "{\"error\":\"bad\nemail\"}", 21);
    ls_webhook_classify(400, NULL, -1, body, sizeof(body), &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "HTTP 400"));
    assert_non_null(strstr(r.error, "bad email")); /* control characters replaced */
    assert_null(strchr(r.error, '\n'));
    colon = strstr(r.error, ": ");
    assert_non_null(colon);
    assert_int_equal(strlen(colon + 2), LS_WEBHOOK_EXCERPT_MAX);
}

/* LEADSYNC_WEBHOOK_HEADERS: newline- or ';'-separated "Name: value". */
static void test_ls_webhook__extra_headers(void **state)
{
    static const char *const bad[] = {"NoColon",         ": v",         "Bad Name: v",
                                      "Content-Type: x", "X-A: a\x01b", "X-A: ok\nHost: h"};
    char **h = NULL;
    size_t n = 0, i;

    (void)state;
    assert_int_equal(ls_webhook_headers_parse("X-Api-Key: k\n\n  X-T:\t v \r\n", &h, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(h[0], "X-Api-Key: k");
    assert_string_equal(h[1], "X-T: v");
    ls_webhook_headers_free(h, n);
    assert_int_equal(ls_webhook_headers_parse("X-A: 1; X-B: 2", &h, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(h[1], "X-B: 2");
    ls_webhook_headers_free(h, n);
    /* with a newline, ';' belongs to the value */
    assert_int_equal(ls_webhook_headers_parse("Cookie: a=1; b=2\n", &h, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0], "Cookie: a=1; b=2");
    ls_webhook_headers_free(h, n);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ls_webhook_headers_parse(bad[i], &h, &n), LS_ECONFIG);
        assert_null(h);
        assert_int_equal(n, 0);
        assert_null(strstr(ls_error_last(), "ok"));
    }
}

/* The extra headers may carry an API key, and curl's header lists hold
 * copies of them: the sink wipes a list before it frees it. */
static void test_ls_webhook__header_lists_wiped(void **state)
{
    char **h = NULL;
    size_t n = 0, i, k, len[4];
    struct curl_slist *l = NULL, *p;

    (void)state;
    assert_int_equal(
        ls_webhook_headers_parse("X-Api-Key: s3cret-Key-1; Authorization: Basic eA==", &h, &n), 0);
    assert_int_equal(n, 2);
    l = curl_slist_append(l, "Content-Type: application/json");
    for (i = 0; i < n; i++)
        l = curl_slist_append(l, h[i]);
    assert_non_null(l);
    for (p = l, k = 0; p; p = p->next, k++)
        len[k] = strlen(p->data);
    assert_int_equal(k, 3);
    ls_crm_headers_wipe(l);
    for (p = l, k = 0; p; p = p->next, k++)
        for (i = 0; i < len[k]; i++)
            assert_int_equal(p->data[i], 0);
    curl_slist_free_all(l);
    ls_crm_headers_free(NULL);
    ls_webhook_headers_free(h, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_webhook__sign_vector),
        cmocka_unit_test(test_ls_webhook__header_lists_wiped),
        cmocka_unit_test(test_ls_webhook__sign_changes_with_inputs),
        cmocka_unit_test(test_ls_webhook__signer_reused),
        cmocka_unit_test(test_ls_webhook__bad_secrets),
        cmocka_unit_test(test_ls_webhook__retry_after),
        cmocka_unit_test(test_ls_webhook__classify),
        cmocka_unit_test(test_ls_webhook__extra_headers),
        cmocka_unit_test(test_ls_webhook__reject_excerpt),
    };
    return lst_run_group(tests, NULL, NULL);
}
