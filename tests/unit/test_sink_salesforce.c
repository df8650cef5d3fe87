/* test_sink_salesforce.c - the Salesforce sink's pure halves and the shared
 * JWT builder: RS256 tokens verified with OpenSSL against a key generated
 * here, base64url, Lead records for single and Collections upserts,
 * answer and per-record classification, the growing limit pause. */
#include "ls_test.h"

#include "ls_crm.h"
#include "ls_mapping.h"
#include "ls_salesforce.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *gen_key(char **pem)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    EVP_PKEY *k = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048), 1);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(b, &p);
    *pem = calloc(1, (size_t)n + 1);
    memcpy(*pem, p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_CTX_free(c);
    return k;
}

static void test_sink_salesforce__b64url(void **state)
{
    char *s;

    (void)state;
    s = ls_b64url((const unsigned char *)"\xfb\xff\xfe", 3);
    assert_string_equal(s, "-__-");
    free(s);
    s = ls_b64url((const unsigned char *)"ab", 2);
    assert_string_equal(s, "YWI"); /* no padding */
    free(s);
}

static void test_sink_salesforce__jwt_rs256_verifies(void **state)
{
    char *pem = NULL, *jwt = NULL, *dot1, *dot2;
    EVP_PKEY *k = gen_key(&pem);
    json_t *h = json_pack("{s:s}", "alg", "RS256");
    json_t *c = json_pack("{s:s,s:s,s:s,s:i}", "iss", "client", "sub", "u@example.com", "aud",
                          "https://login.salesforce.com", "exp", 1700000180);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig, *claims;
    size_t siglen, clen;
    json_t *parsed;

    (void)state;
    assert_int_equal(ls_jwt_rs256(h, c, pem, &jwt), 0);
    dot1 = strchr(jwt, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    assert_non_null(dot2);
    assert_null(strchr(jwt, '='));
    assert_memory_equal(jwt, "eyJhbGciOiJSUzI1NiJ9.", 21); /* {"alg":"RS256"} */
    claims = lst_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &clen);
    parsed = json_loadb((char *)claims, clen, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(parsed, "sub")), "u@example.com");
    assert_int_equal(json_integer_value(json_object_get(parsed, "exp")), 1700000180);
    sig = lst_b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    assert_int_equal(siglen, 256);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(dot2 - jwt)),
                     1);
    /* a changed byte no longer verifies */
    jwt[5] ^= 1;
    EVP_MD_CTX_free(md);
    md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_not_equal(
        EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
    free(jwt);
    jwt = NULL;
    assert_int_equal(ls_jwt_rs256(h, c, "-----BEGIN PRIVATE KEY-----\nnope\n", &jwt), LS_ECONFIG);
    assert_null(jwt);
    EVP_MD_CTX_free(md);
    json_decref(parsed);
    free(claims);
    free(sig);
    json_decref(h);
    json_decref(c);
    EVP_PKEY_free(k);
    free(pem);
}

static json_t *lead(int dnc)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:s,s:s,s:s},s:s,s:{}}", "leadId",
                     "00ff00ff00ff00ff", "source", "SPZA", "action", "PLT", "offerId", "a.b",
                     "offerTitle", "B", "stage", dnc ? "do-not-contact" : "trial", "doNotContact",
                     dnc, "customer", "firstName", "Jo", "lastName", "", "email", "jo@example.com",
                     "company", "", "description", "", "extra");
}

static void test_sink_salesforce__records(void **state)
{
    struct ls_mapping *m = NULL, *u = NULL;
    json_t *l = lead(0), *d = lead(1), *rec = NULL;
    const char *user = "{\"fields\": {\"Marketplace_Lead_Id__c\": \"leadId\", \"Id\": "
                       "\"leadId\"}}";

    (void)state;
    assert_int_equal(ls_mapping_load("salesforce", NULL, &m), 0);
    assert_int_equal(ls_sf_record(m, l, "Marketplace_Lead_Id__c", 0, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "LastName")), "[not provided]");
    assert_string_equal(json_string_value(json_object_get(rec, "Company")), "[not provided]");
    assert_null(json_object_get(rec, "attributes"));
    assert_null(json_object_get(rec, "Marketplace_Lead_Id__c"));
    assert_null(json_object_get(rec, "DoNotCall"));
    json_decref(rec);
    assert_int_equal(ls_sf_record(m, d, "Marketplace_Lead_Id__c", 1, &rec), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rec, "attributes"), "type")), "Lead");
    assert_string_equal(json_string_value(json_object_get(rec, "Marketplace_Lead_Id__c")),
                        "00ff00ff00ff00ff");
    assert_true(json_is_true(json_object_get(rec, "DoNotCall")));
    assert_true(json_is_true(json_object_get(rec, "HasOptedOutOfEmail")));
    json_decref(rec);
    /* a mapping naming the key or Id never puts them in a single-upsert body */
    assert_int_equal(ls_mapping_parse("u", user, strlen(user), m, &u), 0);
    assert_int_equal(ls_sf_record(u, l, "Marketplace_Lead_Id__c", 0, &rec), 0);
    assert_null(json_object_get(rec, "Marketplace_Lead_Id__c"));
    assert_null(json_object_get(rec, "Id"));
    json_decref(rec);
    ls_mapping_free(u);
    ls_mapping_free(m);
    json_decref(l);
    json_decref(d);
}

static void test_sink_salesforce__classify(void **state)
{
    struct ls_sink_result r;
    const char *limit = "[{\"message\":\"TotalRequests Limit exceeded.\","
                        "\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\"}]";
    const char *sess = "[{\"message\":\"Session expired or invalid\","
                       "\"errorCode\":\"INVALID_SESSION_ID\"}]";
    const char *req = "[{\"message\":\"Required fields are missing: [Company]\","
                      "\"errorCode\":\"REQUIRED_FIELD_MISSING\",\"fields\":[\"Company\"]}]";
    const char *perm = "[{\"message\":\"no access\",\"errorCode\":\"INSUFFICIENT_ACCESS\"}]";

    (void)state;
    assert_int_equal(ls_sf_classify(201, "{}", 2, &r), LS_SF_NONE);
    assert_int_equal(r.outcome, LS_SINK_OK);
    assert_int_equal(ls_sf_classify(204, "", 0, &r), LS_SF_NONE);
    assert_int_equal(r.outcome, LS_SINK_OK);
    assert_int_equal(ls_sf_classify(403, limit, strlen(limit), &r), LS_SF_LIMIT);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_true(r.throttled);
    assert_int_equal(ls_sf_classify(401, sess, strlen(sess), &r), LS_SF_SESSION);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_true(r.auth);
    assert_non_null(strstr(r.error, "INVALID_SESSION_ID"));
    assert_int_equal(ls_sf_classify(403, perm, strlen(perm), &r), LS_SF_NONE);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_int_equal(ls_sf_classify(400, req, strlen(req), &r), LS_SF_NONE);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "REQUIRED_FIELD_MISSING"));
    assert_non_null(strstr(r.error, "[Company]"));
    ls_sf_classify(300, "[]", 2, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    ls_sf_classify(404, "[{\"errorCode\":\"NOT_FOUND\"}]", 26, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    ls_sf_classify(503, "<html>", 6, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_false(r.throttled);
    ls_sf_classify(0, "connection reset", 16, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    ls_sf_classify(400, "not json \x01", 10, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
}

/* A server's message reaches logs, status and the ledger: control
 * characters (terminal escapes, line breaks) come out blanked. */
static void test_sink_salesforce__control_characters_blanked(void **state)
{
    const char *esc = "[{\"message\":\"bad \\u001b[31mline\\nbreak\",\"errorCode\":\"X\\u0007\"}]";
    json_t *rec = json_loads("{\"success\":false,\"errors\":[{\"statusCode\":\"A\\r\","
                             "\"message\":\"m\\u001b]0;title\\u0007\"}]}",
                             0, NULL);
    struct ls_sink_result r;

    (void)state;
    ls_sf_classify(400, esc, strlen(esc), &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_string_equal(r.error, "HTTP 400 X : bad  [31mline break");
    ls_sf_classify(0, "reset\r\n", 7, &r);
    assert_string_equal(r.error, "no answer: reset  ");
    assert_non_null(rec);
    ls_sf_classify_record(rec, &r);
    assert_string_equal(r.error, "A : m ]0;title ");
    json_decref(rec);
}

static void test_sink_salesforce__records_and_pause(void **state)
{
    struct ls_sink_result r;
    json_t *ok =
        json_pack("{s:s,s:b,s:b,s:[]}", "id", "00Q1", "success", 1, "created", 1, "errors");
    json_t *upd =
        json_pack("{s:s,s:b,s:b,s:[]}", "id", "00Q1", "success", 1, "created", 0, "errors");
    json_t *lock = json_pack("{s:n,s:b,s:[{s:s,s:s}]}", "id", "success", 0, "errors", "statusCode",
                             "UNABLE_TO_LOCK_ROW", "message", "locked");
    json_t *bad = json_pack("{s:n,s:b,s:[{s:s,s:s}]}", "id", "success", 0, "errors", "statusCode",
                            "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message", "no");

    (void)state;
    ls_sf_classify_record(ok, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    assert_int_equal(r.status, 201);
    ls_sf_classify_record(upd, &r);
    assert_int_equal(r.status, 200);
    ls_sf_classify_record(lock, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    ls_sf_classify_record(bad, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "FIELD_CUSTOM_VALIDATION_EXCEPTION"));
    ls_sf_classify_record(NULL, &r); /* answer shorter than the batch */
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_int_equal(ls_sf_limit_pause_ms(300, 1), 300000);
    assert_int_equal(ls_sf_limit_pause_ms(300, 2), 600000);
    assert_int_equal(ls_sf_limit_pause_ms(300, 3), 1200000);
    assert_int_equal(ls_sf_limit_pause_ms(300, 40), 86400000);
    json_decref(ok);
    json_decref(upd);
    json_decref(lock);
    json_decref(bad);
}

static void test_sink_salesforce__limit_info(void **state)
{
    int64_t used = -1, limit = -1;
    static const char two[] = "api-usage=18/5000, per-app-api-usage=17/250(appName=x)";
    static const char app_only[] = "per-app-api-usage=17/250(appName=x)";

    (void)state;
    assert_int_equal(ls_sf_limit_info("api-usage=10018/100000", 22, &used, &limit), LS_OK);
    assert_int_equal(used, 10018);
    assert_int_equal(limit, 100000);
    assert_int_equal(ls_sf_limit_info(two, strlen(two), &used, &limit), LS_OK);
    assert_int_equal(used, 18);
    assert_int_equal(limit, 5000);
    /* the per-app figure is not the org's */
    assert_int_equal(ls_sf_limit_info(app_only, strlen(app_only), &used, &limit), LS_EPARSE);
    /* the length bounds the read: "api-usage=10018/100000" cut after the slash */
    assert_int_equal(ls_sf_limit_info("api-usage=10018/100000", 16, &used, &limit), LS_EPARSE);
    assert_int_equal(ls_sf_limit_info("api-usage=x/1", 13, &used, &limit), LS_EPARSE);
    assert_int_equal(ls_sf_limit_info("api-usage=99999999999999999999/1", 32, &used, &limit),
                     LS_EPARSE);
    assert_int_equal(ls_sf_limit_info("", 0, &used, &limit), LS_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_salesforce__limit_info),
        cmocka_unit_test(test_sink_salesforce__b64url),
        cmocka_unit_test(test_sink_salesforce__jwt_rs256_verifies),
        cmocka_unit_test(test_sink_salesforce__records),
        cmocka_unit_test(test_sink_salesforce__classify),
        cmocka_unit_test(test_sink_salesforce__control_characters_blanked),
        cmocka_unit_test(test_sink_salesforce__records_and_pause),
    };

    return lst_run_group(tests, NULL, NULL);
}
