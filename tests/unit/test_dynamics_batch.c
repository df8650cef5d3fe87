/* test_dynamics_batch.c - the Dynamics sink's $batch halves: the multipart
 * request body (delimiters, one application/http PATCH per upsert, If-Match: *
 * for update-only, the closing delimiter) and the multipart answer parser
 * (per-part statuses in order, Retry-After, bodies, LF line ends, quoted and
 * missing boundaries, nested change sets, truncated and foreign answers). */
#include "ls_test.h"

#include "ls_dynamics.h"

#include <stdlib.h>
#include <string.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    const char *p = hay;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void test_dynamics_batch__body(void **state)
{
    struct ls_dv_op ops[3] = {
        {"https://o/api/data/v9.2/leads(k='a')", 0, "{\"lastname\":\"A\"}"},
        {"https://o/api/data/v9.2/leads(k='b')", 1, "{\"donotemail\":true}"},
        {"https://o/api/data/v9.2/leads(k='c')", 0, "{}"},
    };
    char *body = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(ls_dv_batch_body("abc-1", ops, 3, &body, &len), LS_OK);
    assert_int_equal(len, strlen(body));
    assert_int_equal(count(body, "--batch_abc-1\r\n"), 3);
    assert_int_equal(count(body, "--batch_abc-1--\r\n"), 1);
    assert_true(strncmp(body,
                        "--batch_abc-1\r\nContent-Type: application/http\r\n"
                        "Content-Transfer-Encoding: binary\r\n\r\n"
                        "PATCH https://o/api/data/v9.2/leads(k='a') HTTP/1.1\r\n",
                        strlen("--batch_abc-1\r\nContent-Type: application/http\r\n"
                               "Content-Transfer-Encoding: binary\r\n\r\n"
                               "PATCH https://o/api/data/v9.2/leads(k='a') HTTP/1.1\r\n")) == 0);
    assert_int_equal(count(body, "If-None-Match: null\r\n"), 2);
    assert_int_equal(count(body, "If-Match: *\r\n"), 1);
    /* the update-only header belongs to the second request */
    assert_true(strstr(body, "If-Match: *") > strstr(body, "leads(k='b')"));
    assert_true(strstr(body, "If-Match: *") < strstr(body, "leads(k='c')"));
    assert_non_null(strstr(body, "\r\n\r\n{\"donotemail\":true}\r\n--batch_abc-1\r\n"));
    assert_true(len > 17 && strcmp(body + len - 17, "--batch_abc-1--\r\n") == 0);
    free(body);

    assert_int_equal(ls_dv_batch_body("bad id", ops, 1, &body, &len), LS_EINVAL);
    assert_null(body);
    assert_int_equal(ls_dv_batch_body("", ops, 1, &body, &len), LS_EINVAL);
}

#define CT "multipart/mixed; boundary=batchresponse_x1"

static const char answer[] = "--batchresponse_x1\r\n"
                             "Content-Type: application/http\r\n"
                             "Content-Transfer-Encoding: binary\r\n"
                             "\r\n"
                             "HTTP/1.1 204 No Content\r\n"
                             "OData-Version: 4.0\r\n"
                             "OData-EntityId: https://o/api/data/v9.2/leads(k='a')\r\n"
                             "\r\n"
                             "\r\n"
                             "--batchresponse_x1\r\n"
                             "Content-Type: application/http\r\n"
                             "Content-Transfer-Encoding: binary\r\n"
                             "\r\n"
                             "HTTP/1.1 400 Bad Request\r\n"
                             "Content-Type: application/json; odata.metadata=minimal\r\n"
                             "\r\n"
                             "{\"error\":{\"code\":\"0x80044331\",\"message\":\"too long\"}}\r\n"
                             "--batchresponse_x1\r\n"
                             "Content-Type: application/http\r\n"
                             "Content-Transfer-Encoding: binary\r\n"
                             "\r\n"
                             "HTTP/1.1 429 Too Many Requests\r\n"
                             "Retry-After: 7\r\n"
                             "\r\n"
                             "{\"error\":{\"code\":\"0x80072322\",\"message\":\"slow down\"}}\r\n"
                             "--batchresponse_x1--\r\n";

static void test_dynamics_batch__parse(void **state)
{
    struct ls_dv_part p[4];
    struct ls_sink_result r;
    size_t n = 0;

    (void)state;
    assert_int_equal(ls_dv_batch_parse(CT, strlen(CT), answer, strlen(answer), 1000, p, 4, &n),
                     LS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].status, 204);
    assert_int_equal(p[0].retry_after_ms, -1);
    assert_int_equal(p[1].status, 400);
    assert_int_equal(p[1].len,
                     strlen("{\"error\":{\"code\":\"0x80044331\",\"message\":\"too long\"}}"));
    assert_memory_equal(p[1].body, "{\"error\":{\"code\":\"0x80044331\"", 29);
    assert_int_equal(p[2].status, 429);
    assert_int_equal(p[2].retry_after_ms, 7000);

    /* the parts classify as single answers would */
    ls_dv_classify(p[1].status, p[1].body, p[1].len, p[1].retry_after_ms, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "0x80044331"));
    assert_non_null(strstr(r.error, "too long"));
    ls_dv_classify(p[2].status, p[2].body, p[2].len, p[2].retry_after_ms, &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    assert_true(r.throttled);
    assert_int_equal(r.retry_after_ms, 7000);

    /* cap: only as many parts as asked for */
    assert_int_equal(ls_dv_batch_parse(CT, strlen(CT), answer, strlen(answer), 1000, p, 2, &n),
                     LS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(p[1].status, 400);
}

static void test_dynamics_batch__boundaries(void **state)
{
    static const char lf[] = "--b\n"
                             "Content-Type: application/http\n"
                             "\n"
                             "HTTP/1.1 201 Created\n"
                             "\n"
                             "{}\n"
                             "--b\n"
                             "Content-Type: application/http\n"
                             "\n"
                             "HTTP/1.1 404 Not Found\n"
                             "\n"
                             "--b--\n";
    static const char quoted[] = "multipart/mixed; charset=x; boundary=\"b\"";
    static const char nested[] = "--batchresponse_1\r\n"
                                 "Content-Type: multipart/mixed; boundary=changesetresponse_2\r\n"
                                 "\r\n"
                                 "--changesetresponse_2\r\n"
                                 "Content-Type: application/http\r\n"
                                 "Content-ID: 1\r\n"
                                 "\r\n"
                                 "HTTP/1.1 204 No Content\r\n"
                                 "\r\n"
                                 "\r\n"
                                 "--changesetresponse_2\r\n"
                                 "Content-Type: application/http\r\n"
                                 "Content-ID: 2\r\n"
                                 "\r\n"
                                 "HTTP/1.1 412 Precondition Failed\r\n"
                                 "\r\n"
                                 "{}\r\n"
                                 "--changesetresponse_2--\r\n"
                                 "--batchresponse_1\r\n"
                                 "Content-Type: application/http\r\n"
                                 "\r\n"
                                 "HTTP/1.1 200 OK\r\n"
                                 "\r\n"
                                 "{\"v\":1}\r\n"
                                 "--batchresponse_1--\r\n";
    struct ls_dv_part p[4];
    size_t n = 0;

    (void)state;
    assert_int_equal(ls_dv_batch_parse(quoted, strlen(quoted), lf, strlen(lf), 0, p, 4, &n), LS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].status, 201);
    assert_int_equal(p[0].len, 2);
    assert_memory_equal(p[0].body, "{}", 2);
    assert_int_equal(p[1].status, 404);
    assert_int_equal(p[1].len, 0);

    /* no boundary in the Content-Type: the body's first delimiter names it */
    assert_int_equal(ls_dv_batch_parse("", 0, lf, strlen(lf), 0, p, 4, &n), LS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ls_dv_batch_parse(NULL, 0, nested, strlen(nested), 0, p, 4, &n), LS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].status, 204);
    assert_int_equal(p[1].status, 412);
    assert_int_equal(p[2].status, 200);
    assert_int_equal(p[2].len, 7);

    /* a boundary that is only a prefix of the body's does not split it */
    assert_int_equal(ls_dv_batch_parse("multipart/mixed; boundary=batchresponse_", 40, nested,
                                       strlen(nested), 0, p, 4, &n),
                     LS_EPARSE);
}

static void test_dynamics_batch__bad(void **state)
{
    static const char json[] = "{\"error\":{\"code\":\"0x0\",\"message\":\"no\"}}";
    static const char trunc[] = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 20";
    static const char garbage[] = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 2x4 No\r\n"
                                  "\r\n--b--\r\n";
    struct ls_dv_part p[2];
    size_t n = 9;

    (void)state;
    assert_int_equal(ls_dv_batch_parse("application/json", 16, json, strlen(json), 0, p, 2, &n),
                     LS_EPARSE);
    assert_int_equal(n, 0);
    assert_int_equal(ls_dv_batch_parse("", 0, "", 0, 0, p, 2, &n), LS_EPARSE);
    /* a cut-off answer: the part is there, its status is not readable */
    assert_int_equal(ls_dv_batch_parse("", 0, trunc, strlen(trunc), 0, p, 2, &n), LS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].status, 0);
    assert_int_equal(ls_dv_batch_parse("", 0, garbage, strlen(garbage), 0, p, 2, &n), LS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamics_batch__body),
        cmocka_unit_test(test_dynamics_batch__parse),
        cmocka_unit_test(test_dynamics_batch__boundaries),
        cmocka_unit_test(test_dynamics_batch__bad),
    };

    return lst_run_group(tests, NULL, NULL);
}
