/*
 * test_azt_faults.c - the azt query client against tests/tools/faultserver.py:
 * short and empty pages, 503 with Retry-After, 500 OperationTimedOut,
 * connection resets, slow responses, truncated and cut bodies, endless
 * continuation, refused credentials, size caps and cancellation. Every case
 * must end with every entity exactly once, or a clear error.
 *
 * The sleep seam records the requested backoff instead of sleeping, so the
 * test checks the policy without measuring time.
 */
#include "ls_test.h"

#include "azt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define N_ENTITIES 200

static pid_t server_pid = -1;
static int server_port;

struct seams {
    long sleeps[64];
    int nsleeps;
    int cancel_calls;
    int cancel_after; /* 0: never */
    char log[4096];
};

static time_t fake_now(void *ctx)
{
    (void)ctx;
    return 1700000000;
}

static void record_sleep(void *ctx, long ms)
{
    struct seams *s = ctx;

    if (s->nsleeps < 64)
        s->sleeps[s->nsleeps] = ms;
    s->nsleeps++;
}

static uint32_t fixed_random(void *ctx)
{
    (void)ctx;
    return 12345;
}

static int maybe_cancel(void *ctx)
{
    struct seams *s = ctx;

    s->cancel_calls++;
    return s->cancel_after && s->cancel_calls >= s->cancel_after;
}

static void keep_log(void *ctx, int level, const char *msg)
{
    struct seams *s = ctx;
    size_t n = strlen(s->log);

    assert_int_equal(level, 1);
    snprintf(s->log + n, sizeof(s->log) - n, "%s\n", msg);
}

static int start_server(void **state)
{
    int fds[2];
    char line[32];
    ssize_t n;
    size_t got = 0;

    (void)state;
    if (pipe(fds) != 0)
        return -1;
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", LS_SOURCE_DIR "/tests/tools/faultserver.py", "--entities",
               "200", "--max-seconds", "300", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (got < sizeof(line) - 1 && (n = read(fds[0], line + got, 1)) == 1) {
        if (line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(fds[0]);
    server_port = (int)strtol(line, NULL, 10);
    if (server_port <= 0) {
        fprintf(stderr, "faultserver did not start\n");
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    int st;

    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, &st, 0);
        server_pid = -1;
    }
    return 0;
}

static struct azt_client *client_on(int port, struct seams *s, long timeout_ms, int attempts,
                                    size_t max_bytes)
{
    char connstr[512];
    struct azt_conn *conn = NULL;
    struct azt_client_opts opts;
    struct azt_client *c = NULL;

    snprintf(connstr, sizeof(connstr),
             "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" DEV_KEY
             ";TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;",
             port);
    if (azt_conn_parse(connstr, strlen(connstr), &conn) != AZT_OK)
        fail_msg("azt_conn_parse: %s", azt_error_last());
    memset(&opts, 0, sizeof(opts));
    opts.connect_timeout_ms = 2000;
    opts.request_timeout_ms = timeout_ms;
    opts.max_attempts = attempts;
    opts.backoff_base_ms = 100;
    opts.backoff_cap_ms = 1000;
    opts.max_response_bytes = max_bytes;
    opts.log = keep_log;
    opts.log_ctx = s;
    opts.now = fake_now;
    opts.sleep_ms = record_sleep;
    opts.random = fixed_random;
    opts.cancel = maybe_cancel;
    opts.seam_ctx = s;
    if (azt_client_create(conn, &opts, &c) != AZT_OK)
        fail_msg("azt_client_create: %s", azt_error_last());
    azt_conn_free(conn);
    return c;
}

static struct azt_client *client(struct seams *s)
{
    return client_on(server_port, s, 5000, 5, 0);
}

struct drain {
    unsigned char hits[N_ENTITIES];
    size_t pages, empty_pages, pk_only_pages, errors;
    int last_error;
    char error_msg[512];
};

/* drain() with the next page's request in flight while a page is handled. */
static int use_prefetch;

/* Reads a query to the end; an error is retried by calling next again up to
 * `retry_errors` times. Returns 0 when complete, else the last error. */
static int drain(struct azt_client *c, const char *table, int top, int retry_errors,
                 struct drain *d)
{
    struct azt_query q;
    struct azt_iter *it = NULL;
    struct azt_page *p = NULL;
    size_t i;
    int rc;

    memset(d, 0, sizeof(*d));
    memset(&q, 0, sizeof(q));
    q.filter = "Seq ge 0 and Name ne 'x+y/z'";
    q.top = top;
    q.prefetch = use_prefetch;
    assert_int_equal(azt_query_open(c, table, &q, &it), AZT_OK);
    for (;;) {
        rc = azt_iter_next(it, &p);
        if (rc == 0)
            break;
        if (rc < 0) {
            assert_null(p);
            d->errors++;
            d->last_error = rc;
            snprintf(d->error_msg, sizeof(d->error_msg), "%s", azt_error_last());
            if (retry_errors-- > 0)
                continue;
            break;
        }
        assert_int_equal(rc, 1);
        d->pages++;
        if (p->count == 0 && p->next_partition_key)
            d->empty_pages++;
        if (p->next_partition_key && !p->next_row_key)
            d->pk_only_pages++;
        assert_non_null(p->request_id);
        for (i = 0; i < p->count; i++) {
            const struct azt_prop *seq = azt_entity_prop(&p->entities[i], "Seq");

            assert_non_null(seq);
            assert_true(seq->i >= 0 && seq->i < N_ENTITIES);
            d->hits[seq->i]++;
        }
        azt_page_free(p);
        p = NULL;
    }
    azt_iter_free(it);
    return rc;
}

static void assert_each_once(const struct drain *d)
{
    size_t i;

    for (i = 0; i < N_ENTITIES; i++) {
        if (d->hits[i] != 1)
            fail_msg("entity %zu returned %u times", i, d->hits[i]);
    }
}

static void expect_complete(int rc, const struct drain *d)
{
    if (rc != 0)
        fail_msg("query failed: %s (%s)", azt_error_name(rc), d->error_msg);
}

static void assert_no_secrets(const char *s)
{
    assert_null(strstr(s, "Eby8vdM02xNOcqFl"));
    assert_null(strstr(s, "SharedKey "));
    assert_null(strstr(s, "Authorization"));
    assert_null(strstr(s, "$filter"));
}

/* ------------------------------------------------------------------------ */

static void plain_pages(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "plain1", 30, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(d.pages, 7);
    assert_int_equal(s.nsleeps, 0);
    azt_client_destroy(c);
}

static void short_and_empty_pages(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "short1", 100, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(d.empty_pages, 3);
    assert_int_equal(d.pk_only_pages, 1);
    assert_true(d.pages >= 8);
    assert_int_equal(d.errors, 0);
    azt_client_destroy(c);
}

static void busy_honours_retry_after(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct azt_stats st;
    struct drain d;

    (void)state;
    expect_complete(drain(c, "busy1", 50, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(s.nsleeps, 1);
    assert_true(s.sleeps[0] >= 2000);
    azt_client_stats(c, &st);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.requests, 5);
    assert_non_null(strstr(s.log, "503"));
    assert_non_null(strstr(s.log, "ServerBusy"));
    assert_no_secrets(s.log);
    azt_client_destroy(c);
}

static void timed_out_then_success(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "timedout1", 50, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(s.nsleeps, 2);
    /* exponential: retry 0 in [50,100], retry 1 in [100,200] */
    assert_true(s.sleeps[0] >= 50 && s.sleeps[0] <= 100);
    assert_true(s.sleeps[1] >= 100 && s.sleeps[1] <= 200);
    azt_client_destroy(c);
}

static void reset_mid_body(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "reset1", 50, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(s.nsleeps, 1);
    azt_client_destroy(c);
}

static void truncated_body(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "trunc1", 50, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(s.nsleeps, 1);
    azt_client_destroy(c);
}

static void slow_response_times_out(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client_on(server_port, &s, 500, 5, 0);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "slow1", 50, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(s.nsleeps, 1);
    assert_non_null(strstr(s.log, "imeout"));
    azt_client_destroy(c);
}

static void cut_json_is_an_error_then_retried(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    /* without a second try the query ends in a parse error */
    assert_int_equal(drain(c, "cutjson1", 50, 0, &d), AZT_EPARSE);
    assert_int_equal(d.errors, 1);
    /* calling next again fetches the same page: every entity once */
    expect_complete(drain(c, "cutjson2", 50, 1, &d), &d);
    assert_int_equal(d.errors, 1);
    assert_int_equal(d.last_error, AZT_EPARSE);
    assert_non_null(strstr(d.error_msg, "cutjson2"));
    assert_each_once(&d);
    azt_client_destroy(c);
}

static void always_busy_gives_up(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client_on(server_port, &s, 5000, 3, 0);
    struct drain d;

    (void)state;
    assert_int_equal(drain(c, "always1", 50, 0, &d), AZT_ETHROTTLED);
    assert_int_equal(s.nsleeps, 2);
    assert_non_null(strstr(d.error_msg, "503"));
    assert_non_null(strstr(d.error_msg, "ServerBusy"));
    assert_non_null(strstr(d.error_msg, "/devstoreaccount1/always1()"));
    assert_no_secrets(d.error_msg);
    azt_client_destroy(c);
}

static void endless_continuation_stops(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    assert_int_equal(drain(c, "loop1", 50, 0, &d), AZT_EPARSE);
    assert_non_null(strstr(d.error_msg, "same continuation"));
    assert_true(d.pages >= 10 && d.pages < 100);
    azt_client_destroy(c);
}

static void denied_is_auth_error(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    assert_int_equal(drain(c, "denied1", 50, 0, &d), AZT_EAUTH);
    assert_int_equal(s.nsleeps, 0);
    assert_non_null(strstr(d.error_msg, "403 AuthenticationFailed"));
    assert_non_null(strstr(d.error_msg, "fs-denied"));
    assert_no_secrets(d.error_msg);
    azt_client_destroy(c);
}

static void response_cap(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client_on(server_port, &s, 5000, 5, 4096);
    struct drain d;

    (void)state;
    assert_int_equal(drain(c, "big1", 1000, 0, &d), AZT_ETOOBIG);
    assert_int_equal(s.nsleeps, 0);
    azt_client_destroy(c);
}

static void cancel_between_attempts(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    s.cancel_after = 1;
    assert_int_equal(drain(c, "always2", 50, 0, &d), AZT_ECANCELED);
    assert_int_equal(s.nsleeps, 0);
    azt_client_destroy(c);
}

static void connection_refused(void **state)
{
    struct seams s = {0};
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    struct azt_client *c;
    struct drain d;
    int fd, port;

    (void)state;
    /* a loopback port nobody listens on */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    c = client_on(port, &s, 5000, 3, 0);
    assert_int_equal(drain(c, "plain2", 50, 0, &d), AZT_ENET);
    assert_int_equal(s.nsleeps, 2);
    assert_non_null(strstr(d.error_msg, "3 attempts"));
    assert_no_secrets(d.error_msg);
    azt_client_destroy(c);
}

struct tokens {
    int calls, forced;
    int refresh_works;
};

static int get_token(void *ctx, int force_refresh, char **token, time_t *expires_at)
{
    struct tokens *t = ctx;

    t->calls++;
    t->forced += force_refresh != 0;
    *token = strdup(force_refresh && t->refresh_works ? "fresh-token" : "stale-token");
    *expires_at = 1700003600;
    if (force_refresh && t->refresh_works)
        t->refresh_works = 2; /* from now on the fresh one */
    if (t->refresh_works == 2) {
        free(*token);
        *token = strdup("fresh-token");
    }
    return 0;
}

static struct azt_client *bearer_client(struct seams *s, struct tokens *t)
{
    char connstr[256];
    struct azt_conn *conn = NULL;
    struct azt_token_source src;
    struct azt_client_opts opts;
    struct azt_client *c = NULL;

    snprintf(connstr, sizeof(connstr),
             "TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;AccountName=devstoreaccount1",
             server_port);
    if (azt_conn_parse(connstr, strlen(connstr), &conn) != AZT_OK)
        fail_msg("azt_conn_parse: %s", azt_error_last());
    src.get_token = get_token;
    src.ctx = t;
    memset(&opts, 0, sizeof(opts));
    opts.auth = AZT_AUTH_BEARER;
    opts.token_source = &src;
    opts.max_attempts = 3;
    opts.sleep_ms = record_sleep;
    opts.seam_ctx = s;
    if (azt_client_create(conn, &opts, &c) != AZT_OK)
        fail_msg("azt_client_create: %s", azt_error_last());
    azt_conn_free(conn);
    return c;
}

static void bearer_refreshes_once_on_401(void **state)
{
    struct seams s = {0};
    struct tokens t = {0, 0, 1};
    struct azt_client *c = bearer_client(&s, &t);
    struct drain d;

    (void)state;
    expect_complete(drain(c, "bearer1", 50, 0, &d), &d);
    assert_each_once(&d);
    assert_int_equal(t.forced, 1);
    assert_int_equal(t.calls, 5); /* 4 pages + the forced refresh */
    assert_int_equal(s.nsleeps, 0);
    azt_client_destroy(c);

    /* a refresh that does not help: EAUTH, and the token is never shown */
    memset(&t, 0, sizeof(t));
    c = bearer_client(&s, &t);
    assert_int_equal(drain(c, "bearer2", 50, 0, &d), AZT_EAUTH);
    assert_int_equal(t.forced, 1);
    assert_non_null(strstr(d.error_msg, "401 InvalidAuthenticationInfo"));
    assert_null(strstr(d.error_msg, "stale-token"));
    assert_null(strstr(d.error_msg, "Bearer"));
    azt_client_destroy(c);
}

/* A stop requested while an answer is awaited ends that transfer: the
 * server holds page 1 for 2 s, and the cancel seam turns true during the
 * wait (between attempts there is nothing to stop: the first one succeeds). */
static void cancel_ends_a_transfer_in_flight(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct drain d;

    (void)state;
    s.cancel_after = 3;
    assert_int_equal(drain(c, "slow3", 50, 0, &d), AZT_ECANCELED);
    assert_int_equal(d.pages, 0);
    assert_true(s.cancel_calls >= 3);
    assert_int_equal(s.nsleeps, 0);
    azt_client_destroy(c);
}

/* The scenarios again with prefetch (each its own table, so the server's
 * per-page attempt counts start afresh): every entity exactly once, the
 * same requests and retries as without it, and a page that arrives cut is
 * reported by the next call and asked for again. */
static void prefetch_scenarios(void **state)
{
    static const struct {
        const char *table;
        int top, retry_errors, sleeps, errors;
    } cases[] = {
        {"plain7", 30, 0, 0, 0},    {"short7", 100, 0, 0, 0}, {"busy7", 50, 0, 1, 0},
        {"timedout7", 50, 0, 2, 0}, {"reset7", 50, 0, 1, 0},  {"trunc7", 50, 0, 1, 0},
        {"cutjson7", 50, 1, 0, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seams s = {0}, s0 = {0};
        struct azt_client *c = client(&s);
        struct azt_stats st;
        struct drain d;

        print_message("prefetch: %s\n", cases[i].table);
        use_prefetch = 1;
        expect_complete(drain(c, cases[i].table, cases[i].top, cases[i].retry_errors, &d), &d);
        use_prefetch = 0;
        assert_each_once(&d);
        assert_int_equal(d.errors, cases[i].errors);
        assert_int_equal(s.nsleeps, cases[i].sleeps);
        azt_client_stats(c, &st);
        azt_client_destroy(c);
        if (i == 0) {
            /* as many requests as without prefetch: none past the last page */
            struct azt_stats st0;

            c = client(&s0);
            expect_complete(drain(c, "plain8", cases[i].top, 0, &d), &d);
            azt_client_stats(c, &st0);
            azt_client_destroy(c);
            assert_int_equal(st.requests, st0.requests);
        }
    }
}

/* Freeing the iterator while the next page's request is in flight waits for
 * it and frees its answer (the sanitizers check nothing leaks). */
static void prefetch_freed_in_flight(void **state)
{
    struct seams s = {0};
    struct azt_client *c = client(&s);
    struct azt_query q;
    struct azt_iter *it = NULL;
    struct azt_page *p = NULL;

    (void)state;
    memset(&q, 0, sizeof(q));
    q.top = 10;
    q.prefetch = 1;
    assert_int_equal(azt_query_open(c, "plain9", &q, &it), AZT_OK);
    assert_int_equal(azt_iter_next(it, &p), 1);
    assert_non_null(p);
    assert_non_null(p->next_partition_key);
    azt_page_free(p);
    azt_iter_free(it);
    azt_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_pages),
        cmocka_unit_test(short_and_empty_pages),
        cmocka_unit_test(busy_honours_retry_after),
        cmocka_unit_test(timed_out_then_success),
        cmocka_unit_test(reset_mid_body),
        cmocka_unit_test(truncated_body),
        cmocka_unit_test(slow_response_times_out),
        cmocka_unit_test(cut_json_is_an_error_then_retried),
        cmocka_unit_test(always_busy_gives_up),
        cmocka_unit_test(endless_continuation_stops),
        cmocka_unit_test(denied_is_auth_error),
        cmocka_unit_test(response_cap),
        cmocka_unit_test(cancel_between_attempts),
        cmocka_unit_test(connection_refused),
        cmocka_unit_test(bearer_refreshes_once_on_401),
        cmocka_unit_test(cancel_ends_a_transfer_in_flight),
        cmocka_unit_test(prefetch_scenarios),
        cmocka_unit_test(prefetch_freed_in_flight),
    };

    return lst_run_group(tests, start_server, stop_server);
}
