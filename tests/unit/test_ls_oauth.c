/* test_ls_oauth.c - the token cache and the one call path, on an injected
 * clock and a fake transport (no network). */
#include "ls_test.h"

#include "ls_crm.h"
#include "ls_dynamics.h"
#include "ls_oauth.h"
#include "ls_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A token server: token-N valid for life_s, or refusing when fail is set. */
struct fake_idp {
    int64_t now_ms;
    long life_s;
    int fail;
    int long_token; /* pads the next token to 64 characters */
    unsigned calls;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fake_idp *)ctx)->now_ms;
}

static int fake_fetch(void *ctx, void *arg, struct ls_oauth_token *out)
{
    struct fake_idp *idp = ctx;

    (void)arg;
    idp->calls++;
    if (idp->fail)
        return ls_error(LS_EUNAVAIL, "token endpoint down");
    out->value =
        ls_xasprintf("token-%u%s", idp->calls,
                     idp->long_token ? "-padded-to-be-longer-than-the-next-one-xxxxxx" : "");
    out->expires_ms = idp->life_s > 0 ? idp->now_ms + idp->life_s * 1000 : 0;
    return LS_OK;
}

static void init(struct ls_oauth *o, struct fake_idp *idp, long life_s, int64_t skew_ms)
{
    memset(idp, 0, sizeof(*idp));
    idp->now_ms = 1000000;
    idp->life_s = life_s;
    ls_oauth_init(o, fake_fetch, idp, skew_ms);
    o->now_ms = fake_now;
    o->clock_ctx = idp;
}

static void test_ls_oauth__refresh_ahead_of_expiry(void **state)
{
    struct ls_oauth o;
    struct fake_idp idp;
    const char *t = NULL;

    (void)state;
    init(&o, &idp, 3600, 60 * 1000);
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-1");
    idp.now_ms += (3600 - 61) * 1000; /* 61 s before expiry: still cached */
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-1");
    assert_int_equal(idp.calls, 1);
    idp.now_ms += 2000; /* 59 s before expiry: inside the skew, refreshed */
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-2");
    assert_int_equal(o.fetches, 2);
    ls_oauth_dispose(&o);
}

static void test_ls_oauth__failed_early_refresh_keeps_valid_token(void **state)
{
    struct ls_oauth o;
    struct fake_idp idp;
    const char *t = NULL;

    (void)state;
    init(&o, &idp, 600, 300 * 1000);
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    idp.fail = 1;
    idp.now_ms += 400 * 1000; /* inside the skew, not expired */
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-1");
    idp.now_ms += 200 * 1000; /* expired: no token to fall back on */
    assert_int_equal(ls_oauth_get(&o, NULL, &t), LS_EUNAVAIL);
    assert_null(t);
    assert_int_equal(o.token[0], '\0');
    ls_oauth_dispose(&o);
}

static void test_ls_oauth__no_expiry_kept_until_refused(void **state)
{
    struct ls_oauth o;
    struct fake_idp idp;
    const char *t = NULL;

    (void)state;
    init(&o, &idp, 0, 60 * 1000);
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    idp.now_ms += 86400LL * 1000 * 365;
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-1");
    ls_oauth_invalidate(&o);
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-2");
    ls_oauth_dispose(&o);
}

static int all_zero(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void test_ls_oauth__token_wiped(void **state)
{
    struct ls_oauth o;
    struct fake_idp idp;
    const char *t = NULL;

    (void)state;
    init(&o, &idp, 3600, 0);
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_false(all_zero(o.token, sizeof(o.token)));
    ls_oauth_invalidate(&o); /* refused */
    assert_true(all_zero(o.token, sizeof(o.token)));
    idp.long_token = 1;
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_true(strlen(t) > 40);
    idp.long_token = 0;
    idp.now_ms += 3601 * 1000; /* expired: replaced by a shorter one, no tail left behind */
    assert_int_equal(ls_oauth_get(&o, NULL, &t), 0);
    assert_string_equal(t, "token-3");
    assert_true(all_zero(o.token + strlen(t), sizeof(o.token) - strlen(t)));
    ls_oauth_dispose(&o);
    assert_true(all_zero(o.token, sizeof(o.token)));
}

/* ---- the call path on a fake transport ---------------------------------- */

struct fake_server {
    int statuses[4]; /* answers in turn; the last one repeats */
    unsigned calls;
    char auth[4][64];
};

static int fake_send(void *ctx, const struct ls_crm_req *req, const char *const *headers,
                     struct ls_crm_resp *resp)
{
    struct fake_server *s = ctx;
    unsigned i = s->calls < 4 ? s->calls : 3;
    size_t h;

    (void)req;
    for (h = 0; headers && headers[h]; h++)
        if (strncmp(headers[h], "Authorization: ", 15) == 0 && s->calls < 4)
            snprintf(s->auth[s->calls], sizeof(s->auth[0]), "%s", headers[h] + 15);
    s->calls++;
    resp->status = s->statuses[i];
    resp->body = ls_xstrdup(resp->status == 401 ? "{\"error\":{\"code\":\"0x80072243\"}}" : "{}");
    resp->len = strlen(resp->body);
    return LS_OK;
}

static void call(struct ls_oauth *o, struct fake_server *srv, struct ls_crm_resp *resp)
{
    struct ls_crm_http *h = NULL;
    struct ls_crm_req req;
    static const char *const hdrs[] = {"Accept: application/json", NULL};

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "https://crm.example/api";
    req.headers = hdrs;
    req.auth = o;
    assert_int_equal(ls_crm_http_create("test", NULL, 5, &h), 0);
    ls_crm_http_transport(h, fake_send, srv);
    assert_int_equal(ls_crm_call(h, &req, resp), 0);
    ls_crm_http_free(h);
}

static void test_ls_oauth__one_reauth_on_401(void **state)
{
    struct ls_oauth o;
    struct fake_idp idp;
    struct fake_server srv = {{401, 200, 200, 200}, 0, {{0}}};
    struct ls_crm_resp resp;

    (void)state;
    init(&o, &idp, 3600, 0);
    call(&o, &srv, &resp);
    assert_int_equal(resp.status, 200);
    assert_false(resp.auth_refused);
    assert_int_equal(srv.calls, 2);
    assert_string_equal(srv.auth[0], "Bearer token-1");
    assert_string_equal(srv.auth[1], "Bearer token-2");
    ls_crm_resp_dispose(&resp);
    ls_oauth_dispose(&o);
}

static void test_ls_oauth__gives_up_after_second_401(void **state)
{
    struct ls_oauth o;
    struct fake_idp idp;
    struct fake_server srv = {{401, 401, 401, 401}, 0, {{0}}};
    struct ls_crm_resp resp;
    struct ls_sink_result r;

    (void)state;
    init(&o, &idp, 3600, 0);
    call(&o, &srv, &resp);
    assert_int_equal(srv.calls, 2); /* one re-auth, then no more */
    assert_int_equal(idp.calls, 2);
    assert_int_equal(resp.status, 401);
    assert_true(resp.auth_refused);
    assert_true(all_zero(o.token, sizeof(o.token)));
    /* the sink's verdict on that answer stops the run with exit 77 */
    ls_dv_classify(resp.status, resp.body, resp.len, resp.retry_after_ms, &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_true(r.auth);
    assert_int_equal(ls_exit_code(LS_EAUTH), 77);
    ls_crm_resp_dispose(&resp);
    ls_oauth_dispose(&o);
}

static void test_ls_oauth__grant_forms(void **state)
{
    struct ls_oauth_grant cc = {LS_OAUTH_CLIENT_CREDENTIALS,   "id 1", "s&cret", NULL, NULL,
                                "https://org.example/.default"};
    struct ls_oauth_grant ca = {LS_OAUTH_CLIENT_CREDENTIALS, "id", NULL, "a.b.c", NULL, "x"};
    struct ls_oauth_grant jb = {LS_OAUTH_JWT_BEARER, NULL, NULL, NULL, "h.c.s", NULL};
    char *f;

    (void)state;
    f = ls_oauth_form(&cc);
    assert_string_equal(f, "grant_type=client_credentials&client_id=id%201&scope=https%3A%2F%2F"
                           "org.example%2F.default&client_secret=s%26cret");
    ls_secret_free(f);
    f = ls_oauth_form(&ca);
    assert_string_equal(f, "grant_type=client_credentials&client_id=id&scope=x&client_assertion_"
                           "type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
                           "&client_assertion=a.b.c");
    ls_secret_free(f);
    f = ls_oauth_form(&jb);
    assert_string_equal(f, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                           "&assertion=h.c.s");
    ls_secret_free(f);
}

static void test_ls_oauth__parse(void **state)
{
    const char *sf = "{\"access_token\":\"00D!x\",\"instance_url\":\"https://my.example\"}";
    const char *dv = "{\"access_token\":\"eyJ\",\"expires_in\":\"3599\"}";
    const char *mi = "{\"access_token\":\"m\",\"expires_on\":\"3600\"}";
    const char *past = "{\"access_token\":\"m\",\"expires_on\":4}";
    const char *twice = "{\"access_token\":\"a\",\"access_token\":\"b\"}";
    struct ls_oauth_token t;
    char *inst = NULL;

    (void)state;
    assert_int_equal(ls_oauth_parse(sf, strlen(sf), 5000, &t, "instance_url", &inst), 0);
    assert_string_equal(t.value, "00D!x");
    assert_int_equal(t.expires_ms, 0);
    assert_string_equal(inst, "https://my.example");
    free(inst);
    ls_secret_free(t.value);
    assert_int_equal(ls_oauth_parse(dv, strlen(dv), 5000, &t, NULL, NULL), 0);
    assert_int_equal(t.expires_ms, 5000 + 3599 * 1000);
    ls_secret_free(t.value);
    /* managed identity: expires_on, absolute unix seconds, when there is no expires_in */
    assert_int_equal(ls_oauth_parse(mi, strlen(mi), 5000, &t, NULL, NULL), 0);
    assert_int_equal(t.expires_ms, 3600 * 1000);
    ls_secret_free(t.value);
    assert_int_equal(ls_oauth_parse(past, strlen(past), 5000, &t, NULL, NULL), 0);
    assert_int_equal(t.expires_ms, 0); /* already over: none */
    ls_secret_free(t.value);
    assert_int_equal(ls_oauth_parse(twice, strlen(twice), 5000, &t, NULL, NULL), LS_EPARSE);
    assert_null(t.value);
    assert_int_equal(ls_oauth_parse("{}", 2, 5000, &t, NULL, NULL), LS_EPARSE);
    assert_null(t.value);
    assert_int_equal(ls_oauth_parse("nope", 4, 5000, &t, NULL, NULL), LS_EPARSE);
    /* a token goes into an Authorization header: a line break or a NUL in
     * it would add a header or cut the token, so the answer is refused */
    assert_int_equal(ls_oauth_parse("{\"access_token\":\"a\\r\\nX: 1\"}", 28, 5000, &t, NULL, NULL),
                     LS_EPARSE);
    assert_null(t.value);
    assert_int_equal(ls_oauth_parse("{\"access_token\":\"a\\u0000b\"}", 27, 5000, &t, NULL, NULL),
                     LS_EPARSE);
    assert_null(t.value);
}

/* A token endpoint: records the request, answers status with body; status
 * -1 is a request that could not be sent. */
struct fake_endpoint {
    int status;
    const char *body;
    char method[8], form[160], ctype[64];
};

static int endpoint_send(void *ctx, const struct ls_crm_req *req, const char *const *headers,
                         struct ls_crm_resp *resp)
{
    struct fake_endpoint *e = ctx;
    size_t h;

    snprintf(e->method, sizeof(e->method), "%s", req->method);
    snprintf(e->form, sizeof(e->form), "%.*s", (int)req->len, req->body ? req->body : "");
    for (h = 0; headers && headers[h]; h++) {
        assert_true(strncmp(headers[h], "Authorization:", 14) != 0);
        if (strncmp(headers[h], "Content-Type: ", 14) == 0)
            snprintf(e->ctype, sizeof(e->ctype), "%s", headers[h] + 14);
    }
    if (e->status < 0)
        return ls_error(LS_ENOMEM, "test: out of memory");
    resp->status = e->status;
    resp->body = ls_xstrdup(e->body);
    resp->len = strlen(resp->body);
    return LS_OK;
}

static int post(struct fake_endpoint *e, struct ls_crm_resp *resp, struct ls_oauth_token *t,
                char **inst)
{
    struct ls_crm_http *h = NULL;
    int rc;

    assert_int_equal(ls_crm_http_create("test", NULL, 5, &h), 0);
    ls_crm_http_transport(h, endpoint_send, e);
    rc = ls_oauth_post(h, "https://login.example/token", "grant_type=client_credentials", 7000,
                       "instance_url", inst, resp, t);
    ls_crm_http_free(h);
    return rc;
}

static void test_ls_oauth__post_form(void **state)
{
    struct fake_endpoint ok = {200,
                               "{\"access_token\":\"t1\",\"expires_in\":60,"
                               "\"instance_url\":\"https://i.example\"}",
                               "", "", ""};
    struct fake_endpoint empty = {200, "{\"token_type\":\"Bearer\"}", "", "", ""};
    struct fake_endpoint refused = {401, "{\"error\":\"invalid_client\"}", "", "", ""};
    struct fake_endpoint unsent = {-1, "", "", "", ""};
    struct ls_oauth_token t;
    struct ls_crm_resp resp;
    char *inst = NULL;

    (void)state;
    assert_int_equal(post(&ok, &resp, &t, &inst), 0);
    assert_string_equal(ok.method, "POST");
    assert_string_equal(ok.form, "grant_type=client_credentials");
    assert_string_equal(ok.ctype, "application/x-www-form-urlencoded");
    assert_string_equal(t.value, "t1");
    assert_int_equal(t.expires_ms, 7000 + 60 * 1000);
    assert_string_equal(inst, "https://i.example");
    ls_secret_free(t.value);
    free(inst);
    ls_crm_resp_dispose(&resp);
    /* a 200 without a token */
    assert_int_equal(post(&empty, &resp, &t, &inst), LS_EPARSE);
    assert_int_equal(resp.status, 200);
    assert_null(t.value);
    assert_null(inst);
    ls_crm_resp_dispose(&resp);
    /* a refusal: the answer stays for the caller's message */
    assert_int_equal(post(&refused, &resp, &t, &inst), LS_EAUTH);
    assert_int_equal(resp.status, 401);
    assert_non_null(strstr(resp.body, "invalid_client"));
    assert_null(t.value);
    ls_crm_resp_dispose(&resp);
    /* not sent: told as no answer, with the reason */
    assert_int_equal(post(&unsent, &resp, &t, &inst), LS_ENOMEM);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(resp.transport, "out of memory"));
    ls_crm_resp_dispose(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_oauth__refresh_ahead_of_expiry),
        cmocka_unit_test(test_ls_oauth__failed_early_refresh_keeps_valid_token),
        cmocka_unit_test(test_ls_oauth__no_expiry_kept_until_refused),
        cmocka_unit_test(test_ls_oauth__token_wiped),
        cmocka_unit_test(test_ls_oauth__one_reauth_on_401),
        cmocka_unit_test(test_ls_oauth__gives_up_after_second_401),
        cmocka_unit_test(test_ls_oauth__grant_forms),
        cmocka_unit_test(test_ls_oauth__parse),
        cmocka_unit_test(test_ls_oauth__post_form),
    };

    return lst_run_group(tests, NULL, NULL);
}
