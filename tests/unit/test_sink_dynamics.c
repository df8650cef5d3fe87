/* test_sink_dynamics.c - the Dynamics sink's pure halves: alternate-key
 * URLs (quote doubling, percent-encoding), lead records (key column left
 * out, DNC columns), the certificate client assertion (x5t = SHA-1
 * thumbprint, claims, RS256 signature verified with OpenSSL) and answer
 * classification (429 + Retry-After, 401/403, 412, 4xx, 5xx). */
#include "ls_test.h"

#include "ls_crm.h"
#include "ls_dynamics.h"
#include "ls_mapping.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static char *bio_text(BIO *b)
{
    char *p = NULL, *out;
    long n = BIO_get_mem_data(b, &p);

    out = calloc(1, (size_t)n + 1);
    memcpy(out, p, (size_t)n);
    return out;
}

/* A fresh RSA key and a self-signed certificate for it, as PEM. */
static EVP_PKEY *make_cert(char **key_pem, char **cert_pem, X509 **cert)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    EVP_PKEY *k = NULL;
    X509 *x = X509_new();
    BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());

    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048), 1);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"leadsync test", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    assert_int_equal(PEM_write_bio_PrivateKey(b1, k, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(PEM_write_bio_X509(b2, x), 1);
    *key_pem = bio_text(b1);
    *cert_pem = bio_text(b2);
    *cert = x;
    BIO_free(b1);
    BIO_free(b2);
    EVP_PKEY_CTX_free(c);
    return k;
}

static json_t *part(const char *jwt, int which)
{
    const char *a = jwt, *b;
    unsigned char *raw;
    size_t len;
    json_t *j;
    int i;

    for (i = 0; i < which; i++)
        a = strchr(a, '.') + 1;
    b = strchr(a, '.');
    raw = lst_b64url_decode(a, (size_t)(b - a), &len);
    j = json_loadb((char *)raw, len, 0, NULL);
    free(raw);
    assert_non_null(j);
    return j;
}

static void test_sink_dynamics__key_url(void **state)
{
    char *u;

    (void)state;
    u = ls_dv_key_url("https://o.crm.dynamics.com/api/data/v9.2", "leads", "new_id", "abc123");
    assert_string_equal(u, "https://o.crm.dynamics.com/api/data/v9.2/leads(new_id='abc123')");
    free(u);
    u = ls_dv_key_url("https://x/api", "leads", "k", "O'Brien & co/1");
    assert_string_equal(u, "https://x/api/leads(k='O%27%27Brien%20%26%20co%2F1')");
    free(u);
}

static void test_sink_dynamics__record(void **state)
{
    struct ls_mapping *m = NULL, *u = NULL;
    json_t *lead = json_pack("{s:s,s:s,s:b,s:{s:s,s:s},s:s}", "leadId", "k1", "offerTitle", "X",
                             "doNotContact", 1, "customer", "lastName", "Roe", "email",
                             "r@example.com", "stage", "do-not-contact");
    json_t *rec = NULL;
    const char *user = "{\"fields\": {\"new_key\": \"leadId\", \"new_stage\": \"stage\"}}";

    (void)state;
    assert_int_equal(ls_mapping_load("dynamics", NULL, &m), 0);
    assert_int_equal(ls_mapping_parse("u", user, strlen(user), m, &u), 0);
    assert_int_equal(ls_dv_record(u, lead, "new_key", &rec), 0);
    assert_null(json_object_get(rec, "new_key"));
    assert_string_equal(json_string_value(json_object_get(rec, "new_stage")), "do-not-contact");
    assert_string_equal(json_string_value(json_object_get(rec, "lastname")), "Roe");
    assert_string_equal(json_string_value(json_object_get(rec, "emailaddress1")), "r@example.com");
    assert_true(json_is_true(json_object_get(rec, "donotbulkemail")));
    assert_string_equal(json_string_value(json_object_get(rec, "subject")), "Marketplace lead: X");
    json_decref(rec);
    ls_mapping_free(u);
    ls_mapping_free(m);
    json_decref(lead);
}

static void test_sink_dynamics__assertion(void **state)
{
    char *key = NULL, *cert = NULL, *jwt = NULL, *x5t = NULL, *want = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = make_cert(&key, &cert, &x);
    unsigned char *der = NULL, sha[SHA_DIGEST_LENGTH], *sig;
    int dl = i2d_X509(x, &der);
    const char *url = "https://login.microsoftonline.com/t1/oauth2/v2.0/token";
    json_t *h, *c;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const char *dot2;
    size_t siglen;

    (void)state;
    SHA1(der, (size_t)dl, sha);
    want = ls_b64url(sha, sizeof(sha));
    assert_int_equal(ls_jwt_x5t(cert, &x5t), 0);
    assert_string_equal(x5t, want);
    assert_int_equal(ls_dv_assertion("app-1", url, cert, key, 1700000000, "jti-1", &jwt), 0);
    h = part(jwt, 0);
    c = part(jwt, 1);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "x5t")), want);
    assert_string_equal(json_string_value(json_object_get(c, "aud")), url);
    assert_string_equal(json_string_value(json_object_get(c, "iss")), "app-1");
    assert_string_equal(json_string_value(json_object_get(c, "sub")), "app-1");
    assert_string_equal(json_string_value(json_object_get(c, "jti")), "jti-1");
    assert_int_equal(json_integer_value(json_object_get(c, "nbf")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1700000600);
    dot2 = strrchr(jwt, '.');
    sig = lst_b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(dot2 - jwt)),
                     1);
    free(jwt);
    jwt = NULL;
    assert_int_equal(ls_dv_assertion("a", url, "not a cert", key, 1, "j", &jwt), LS_ECONFIG);
    assert_int_equal(ls_dv_assertion("a", url, cert, "not a key", 1, "j", &jwt), LS_ECONFIG);
    assert_null(jwt);
    EVP_MD_CTX_free(md);
    free(sig);
    json_decref(h);
    json_decref(c);
    OPENSSL_free(der);
    free(want);
    free(x5t);
    free(key);
    free(cert);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void test_sink_dynamics__classify(void **state)
{
    struct ls_sink_result r;
    const char *limit = "{\"error\":{\"code\":\"0x80072322\",\"message\":\"Number of requests "
                        "exceeded the limit of 6000 over time window of 300 seconds.\"}}";
    const char *val = "{\"error\":{\"code\":\"0x80044331\",\"message\":\"too long\"}}";
    const char *aad = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215\"}";

    (void)state;
    ls_dv_classify(204, "", 0, -1, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    ls_dv_classify(429, limit, strlen(limit), 7000, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_true(r.throttled);
    assert_int_equal(r.retry_after_ms, 7000);
    assert_non_null(strstr(r.error, "0x80072322"));
    ls_dv_classify(401, aad, strlen(aad), -1, &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    assert_true(r.auth);
    assert_non_null(strstr(r.error, "AADSTS7000215"));
    ls_dv_classify(403, "{}", 2, -1, &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
    ls_dv_classify(400, val, strlen(val), -1, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "0x80044331"));
    ls_dv_classify(412, "{}", 2, -1, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    ls_dv_classify(503, "x", 1, -1, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_false(r.throttled);
    ls_dv_classify(503, "x", 1, 2000, &r);
    assert_true(r.throttled);
    ls_dv_classify(404, "garbage\x02", 8, -1, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_dynamics__key_url),
        cmocka_unit_test(test_sink_dynamics__record),
        cmocka_unit_test(test_sink_dynamics__assertion),
        cmocka_unit_test(test_sink_dynamics__classify),
    };

    return lst_run_group(tests, NULL, NULL);
}
