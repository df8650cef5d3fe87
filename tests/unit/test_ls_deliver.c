/*
 * test_ls_deliver.c - the delivery engine against a real ledger in a temp
 * directory and a scripted in-memory sink, on a fake clock.
 */
#include "ls_test.h"

#include "ls_deliver.h"
#include "ls_metrics.h"
#include "ls_ledger.h"
#include "ls_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* A scripted sink                                                           */

#define MAX_CALLS 512

struct fake_sink {
    /* script: outcome for a lead id, or the default */
    enum ls_outcome default_outcome;
    const char *special_lead;
    enum ls_outcome special_outcome;
    long retry_after_ms;
    int throttled;
    int fail_first_n; /* RETRY for the first n tries of every lead, then default */
    int retry_status; /* the status of a RETRY: 500 when 0 is not asked for */
    int no_answer;    /* RETRY with status 0: the receiver could not be reached */
    volatile sig_atomic_t *stop_after_first; /* set after the first item; the rest not sent */
    /* record */
    int calls;
    char lead[MAX_CALLS][32];
    char delivery[MAX_CALLS][64];
    int created[MAX_CALLS];
    int64_t at[MAX_CALLS];
};

struct fake_clock {
    int64_t now;
    long slept[64];
    int nsleeps;
};

static struct fake_clock *g_clock;

static int fake_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    (void)arg;
    (void)cfg;
    (void)ctx;
    return LS_OK;
}

/* How often the sink was handed this lead, this call included. */
static int tries_of(const struct fake_sink *f, const char *lead)
{
    int i, k = 0;

    for (i = 0; i < f->calls && i < MAX_CALLS; i++)
        k += strcmp(f->lead[i], lead) == 0;
    return k;
}

static int fake_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                        struct ls_sink_result *results)
{
    struct fake_sink *f = ctx;
    size_t i;

    for (i = 0; i < n; i++) {
        struct ls_sink_result *r = &results[i];
        enum ls_outcome o = f->default_outcome;

        memset(r, 0, sizeof(*r));
        r->retry_after_ms = -1;
        if (f->calls < MAX_CALLS) {
            snprintf(f->lead[f->calls], sizeof(f->lead[0]), "%s", items[i].lead_id);
            snprintf(f->delivery[f->calls], sizeof(f->delivery[0]), "%s", items[i].delivery_id);
            f->created[f->calls] = items[i].created;
            f->at[f->calls] = g_clock->now;
        }
        f->calls++;
        if (f->stop_after_first && i > 0) {
            /* a stop came during the batch: the sink sends nothing more */
            *f->stop_after_first = 1;
            r->outcome = LS_SINK_NOT_SENT;
            snprintf(r->error, sizeof(r->error), "not sent: stopping");
            continue;
        }
        if (f->special_lead && strcmp(items[i].lead_id, f->special_lead) == 0)
            o = f->special_outcome;
        if (tries_of(f, items[i].lead_id) <= f->fail_first_n)
            o = LS_SINK_RETRY;
        r->outcome = o;
        if (o == LS_SINK_RETRY) {
            r->status = f->no_answer ? 0 : f->retry_status ? f->retry_status : 500;
            r->retry_after_ms = f->retry_after_ms;
            r->throttled = f->throttled;
            snprintf(r->error, sizeof(r->error), "busy");
        } else if (o == LS_SINK_REJECT) {
            r->status = 400;
            snprintf(r->error, sizeof(r->error), "invalid email");
        } else if (o == LS_SINK_FATAL) {
            r->status = 401;
            r->auth = 1;
            snprintf(r->error, sizeof(r->error), "token revoked; set a valid LEADSYNC_X_TOKEN");
        } else {
            r->status = 200;
        }
    }
    return LS_OK;
}

static void fake_destroy(void *ctx)
{
    (void)ctx;
}

static const struct ls_sink_ops fake_ops = {
    .name = "fake",
    .coalesce = 0,
    .create = fake_create,
    .deliver = fake_deliver,
    .check = NULL,
    .destroy = fake_destroy,
};

static int64_t clock_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}

static void clock_sleep(void *ctx, long ms)
{
    struct fake_clock *c = ctx;

    if (c->nsleeps < 64)
        c->slept[c->nsleeps++] = ms;
    c->now += ms;
}

static uint32_t fixed_random(void *ctx)
{
    (void)ctx;
    return 0x7fffffffu; /* deterministic jitter */
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                   */

struct fx {
    char *dir;
    struct ls_ledger *ledger;
    struct fake_clock clock;
    struct fake_sink fs[2];
    struct ls_sink sinks[2];
    struct ls_deliver_opts opts;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct ls_ledger_opts lo = {0};
    char path[4096];

    assert_non_null(f);
    f->dir = lst_tmpdir();
    snprintf(path, sizeof(path), "%s/ledger.db", f->dir);
    lo.path = path;
    lo.wal = 1;
    assert_int_equal(ls_ledger_open(&lo, &f->ledger), 0);
    f->clock.now = 1700000000000;
    g_clock = &f->clock;
    f->sinks[0].ops = &fake_ops;
    f->sinks[0].ctx = &f->fs[0];
    f->sinks[0].id = "fake:a";
    f->sinks[1].ops = &fake_ops;
    f->sinks[1].ctx = &f->fs[1];
    f->sinks[1].id = "fake:b";
    f->opts.max_attempts = 4;
    f->opts.backoff_base_ms = 1000;
    f->opts.backoff_cap_ms = 60000;
    f->opts.batch = 50;
    f->opts.max_wait_ms = 120000;
    f->opts.now_ms = clock_now;
    f->opts.sleep_ms = clock_sleep;
    f->opts.random = fixed_random;
    f->opts.seam_ctx = &f->clock;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    ls_ledger_close(f->ledger);
    lst_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void enqueue(struct fx *f, const char *sink, const char *lead, const char *delivery)
{
    char payload[256];

    snprintf(payload, sizeof(payload), "{\"leadId\":\"%s\",\"stage\":\"initial-interest\"}", lead);
    assert_int_equal(ls_ledger_begin(f->ledger), 0);
    assert_int_equal(ls_ledger_enqueue(f->ledger, sink, lead, delivery, payload, 0, f->clock.now),
                     0);
    assert_int_equal(ls_ledger_commit(f->ledger), 0);
}

static void run(struct fx *f, size_t nsinks, int wait, struct ls_deliver_stats *st)
{
    struct ls_deliverer *d = NULL;

    assert_int_equal(ls_deliverer_create(f->ledger, f->sinks, nsinks, &f->opts, &d), 0);
    assert_int_equal(ls_deliver_run(d, wait, st), 0);
    ls_deliverer_destroy(d);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */

static void test_ls_deliver__all_ok_created_then_updated(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    struct ls_sink_stats *ss = NULL;
    size_t nss = 0;

    enqueue(f, "fake:a", "lead1", "msg_1");
    enqueue(f, "fake:a", "lead2", "msg_2");
    enqueue(f, "fake:a", "lead1", "msg_3"); /* a later state of lead1 */
    run(f, 1, 1, &st);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.pending, 0);
    assert_int_equal(f->fs[0].calls, 3);
    /* lead1's first state goes first and is "created"; its second is "updated" */
    assert_string_equal(f->fs[0].delivery[0], "msg_1");
    assert_int_equal(f->fs[0].created[0], 1);
    assert_string_equal(f->fs[0].delivery[2], "msg_3");
    assert_int_equal(f->fs[0].created[2], 0);
    assert_int_equal(ls_ledger_sink_stats(f->ledger, &ss, &nss), 0);
    assert_int_equal(nss, 1);
    assert_int_equal(ss[0].delivered, 3);
    free(ss);
}

static void test_ls_deliver__throttle_waits_retry_after(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    int i;
    long total = 0;

    f->fs[0].fail_first_n = 1;
    f->fs[0].retry_after_ms = 5000;
    f->fs[0].throttled = 1;
    enqueue(f, "fake:a", "lead1", "msg_1");
    enqueue(f, "fake:a", "lead2", "msg_2");
    run(f, 1, 1, &st);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.retried, 0); /* a throttled answer is no attempt */
    assert_int_equal(f->fs[0].calls, 4);
    /* the second attempts came no sooner than Retry-After */
    assert_true(f->fs[0].at[2] - f->fs[0].at[0] >= 5000);
    assert_true(f->fs[0].at[3] - f->fs[0].at[1] >= 5000);
    for (i = 0; i < f->clock.nsleeps; i++)
        total += f->clock.slept[i];
    assert_true(total >= 5000);
}

static void test_ls_deliver__reject_is_dead_letter_others_go_on(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    struct ls_dead_letter *dl = NULL;
    size_t ndl = 0, n = 0;

    f->fs[0].special_lead = "bad";
    f->fs[0].special_outcome = LS_SINK_REJECT;
    enqueue(f, "fake:a", "bad", "msg_bad");
    enqueue(f, "fake:a", "good", "msg_good");
    run(f, 1, 1, &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.dead, 1);
    assert_int_equal(ls_ledger_dead_letters(f->ledger, NULL, 10, &dl, &ndl), 0);
    assert_int_equal(ndl, 1);
    assert_string_equal(dl[0].lead_id, "bad");
    assert_int_equal(dl[0].last_status, 400);
    assert_non_null(strstr(dl[0].last_error, "invalid email"));
    ls_dead_letters_free(dl, ndl);
    /* retry re-queues it; once the receiver accepts, it is delivered */
    assert_int_equal(ls_ledger_begin(f->ledger), 0);
    assert_int_equal(ls_ledger_retry_dead(f->ledger, NULL, f->clock.now, &n), 0);
    assert_int_equal(ls_ledger_commit(f->ledger), 0);
    assert_int_equal(n, 1);
    f->fs[0].special_lead = NULL;
    run(f, 1, 1, &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.dead, 0);
}

/* A sink that rejects everything the same way pauses after N rejections in
 * a row instead of dead-lettering every lead; a probe after the pause that is
 * accepted ends it. */
static void test_ls_deliver__breaker_pauses_a_sink_that_rejects_everything(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    struct ls_sink_pause p;
    struct ls_health h;
    char lead[16], did[24], why[320];
    int found = 0, i;

    f->opts.breaker_rejects = 5;
    f->opts.breaker_pause_ms = 600000;
    f->opts.max_wait_ms = 0;
    f->fs[0].default_outcome = LS_SINK_REJECT;
    for (i = 0; i < 30; i++) {
        snprintf(lead, sizeof(lead), "l%02d", i);
        snprintf(did, sizeof(did), "msg_%02d", i);
        enqueue(f, "fake:a", lead, did);
    }
    ls_health_reset();
    run(f, 1, 1, &st);
    assert_int_equal(st.dead, 5); /* not 30 */
    assert_int_equal(st.pending, 25);
    assert_int_equal(st.held, 25);
    assert_non_null(strstr(st.held_msg, "leadsync retry --sink fake:a"));
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 1);
    assert_true(ls_breaker_paused(p.reason));
    assert_non_null(strstr(p.reason, "5 in a row"));
    assert_non_null(strstr(p.reason, "invalid email"));
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, f->clock.now, 60000, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "fake:a paused: rejected every delivery"));
    /* a new run honours the recorded pause: nothing is sent */
    f->fs[0].calls = 0;
    run(f, 1, 1, &st);
    assert_int_equal(f->fs[0].calls, 0);
    assert_int_equal(st.held, 25);
    /* after the pause one delivery probes it; still refused: paused again */
    f->clock.now += 600001;
    run(f, 1, 1, &st);
    assert_int_equal(f->fs[0].calls, 1);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.held, 24);
    /* the receiver is fixed: the probe is accepted, the pause ends, all go */
    f->fs[0].default_outcome = LS_SINK_OK;
    f->clock.now += 600001;
    run(f, 1, 1, &st);
    assert_int_equal(st.delivered, 24);
    assert_int_equal(st.held, 0);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 0);
    ls_health_snapshot(&h);
    for (i = 0; i < (int)h.nsinks; i++)
        assert_string_equal(h.sink_paused[i], "");
    ls_health_reset();
}

/* Rejections of different kinds, or with deliveries accepted between them,
 * do not trip the breaker. */
static void test_ls_deliver__breaker_needs_one_kind_in_a_row(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    char lead[16], did[24];
    int i;

    f->opts.breaker_rejects = 3;
    f->fs[0].default_outcome = LS_SINK_REJECT;
    f->fs[0].special_lead = "l01";
    f->fs[0].special_outcome = LS_SINK_OK;
    for (i = 0; i < 4; i++) {
        snprintf(lead, sizeof(lead), "l%02d", i);
        snprintf(did, sizeof(did), "msg_%02d", i);
        enqueue(f, "fake:a", lead, did);
    }
    run(f, 1, 1, &st);
    assert_int_equal(st.dead, 3);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.held, 0);
    assert_int_equal(st.pending, 0);
}

static void test_ls_deliver__bounded_attempts(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;

    f->fs[0].default_outcome = LS_SINK_RETRY;
    enqueue(f, "fake:a", "lead1", "msg_1");
    run(f, 1, 1, &st);
    assert_int_equal(f->fs[0].calls, 4); /* max_attempts */
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.pending, 0);
    /* backoff grew: 500.., 1000.., 2000.. between attempts (fixed jitter) */
    assert_true(f->fs[0].at[2] - f->fs[0].at[1] > f->fs[0].at[1] - f->fs[0].at[0]);
}

static void test_ls_deliver__once_gives_up_waiting(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;

    f->fs[0].default_outcome = LS_SINK_RETRY;
    f->fs[0].retry_after_ms = 3600 * 1000; /* an hour */
    f->fs[0].throttled = 1;
    f->opts.max_wait_ms = 60000;
    enqueue(f, "fake:a", "lead1", "msg_1");
    run(f, 1, 1, &st);
    assert_int_equal(f->fs[0].calls, 1);
    assert_int_equal(st.pending, 1); /* left for the next run */
    assert_int_equal(st.dead, 0);
}

static void test_ls_deliver__fatal_stops_sink_keeps_work(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;

    f->fs[0].default_outcome = LS_SINK_FATAL;
    enqueue(f, "fake:a", "lead1", "msg_1");
    enqueue(f, "fake:a", "lead2", "msg_2");
    run(f, 1, 1, &st);
    assert_int_equal(st.fatal, 1);
    assert_int_equal(st.fatal_code, LS_EAUTH);
    /* the sink's own message, for the run's closing line */
    assert_string_equal(st.fatal_msg, "sink fake:a: token revoked; set a valid LEADSYNC_X_TOKEN");
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.pending, 2);
}

static void test_ls_deliver__one_sink_down_other_delivers(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    int i;

    f->fs[0].default_outcome = LS_SINK_RETRY;
    f->fs[0].retry_after_ms = 3600 * 1000;
    f->fs[0].throttled = 1;
    f->opts.max_wait_ms = 1000;
    for (i = 0; i < 20; i++) {
        char lead[32], msg[32];

        snprintf(lead, sizeof(lead), "lead%d", i);
        snprintf(msg, sizeof(msg), "msg_%d", i);
        enqueue(f, "fake:a", lead, msg);
        enqueue(f, "fake:b", lead, msg);
    }
    run(f, 2, 1, &st);
    assert_int_equal(f->fs[1].calls, 20);
    assert_int_equal(st.delivered, 20);
    assert_int_equal(st.pending, 20);
    /* sink a came back: the next run finishes it */
    f->fs[0].default_outcome = LS_SINK_OK;
    f->clock.now += 3600 * 1000;
    run(f, 2, 1, &st);
    assert_int_equal(st.delivered, 20);
    assert_int_equal(st.pending, 0);
}

/* The most attempts any pending delivery of the sink has counted. */
static int attempts_of(struct fx *f, const char *sink)
{
    struct ls_delivery *ds = NULL;
    size_t n = 0, i;
    int a = 0;

    assert_int_equal(ls_ledger_pending(f->ledger, sink, INT64_MAX, 10, &ds, &n), 0);
    assert_true(n >= 1);
    for (i = 0; i < n; i++)
        a = ds[i].attempts > a ? ds[i].attempts : a;
    ls_deliveries_free(ds, n);
    return a;
}

/*
 * The Salesforce daily limit exhausted for hours, runs every 5 minutes (a
 * CronJob: a new engine each run): a throttled answer is no attempt, the
 * pause outlives the run, so the runs mostly send nothing, nothing becomes a
 * dead letter, and the first run after the limit resets delivers it all.
 */
static void test_ls_deliver__sustained_limit_never_dead_letters(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    struct ls_sink_pause p;
    int found = 0, i, calls_while_limited;

    f->fs[0].default_outcome = LS_SINK_RETRY;
    f->fs[0].throttled = 1;
    f->fs[0].retry_after_ms = 30 * 60 * 1000; /* the sink asks for 30 minutes */
    f->opts.max_wait_ms = 60000;
    enqueue(f, "fake:a", "lead1", "msg_1");
    enqueue(f, "fake:a", "lead2", "msg_2");
    for (i = 0; i < 48; i++) { /* four hours */
        run(f, 1, 1, &st);
        assert_int_equal(st.dead, 0);
        assert_int_equal(st.pending, 2);
        f->clock.now += 5 * 60 * 1000;
    }
    calls_while_limited = f->fs[0].calls;
    assert_true(calls_while_limited >= 2 * 4 && calls_while_limited <= 2 * 9);
    assert_int_equal(attempts_of(f, "fake:a"), 0);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 1);
    assert_true(p.until > f->clock.now - 5 * 60 * 1000);
    assert_string_equal(p.reason, "busy");
    assert_true(p.streak >= 4);
    /* The limit resets: the next run after the pause delivers, the pause ends. */
    f->fs[0].default_outcome = LS_SINK_OK;
    f->clock.now = p.until;
    run(f, 1, 1, &st);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.pending, 0);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 0);
}

/* A receiver that cannot be reached (no answer) or answers 503 counts no
 * attempt either: the sink pauses with a growing backoff instead. */
static void test_ls_deliver__unreachable_counts_no_attempt(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    struct ls_sink_pause p;
    int found = 0, i;

    f->fs[0].default_outcome = LS_SINK_RETRY;
    f->fs[0].no_answer = 1;
    f->opts.max_wait_ms = 0;
    enqueue(f, "fake:a", "lead1", "msg_1");
    for (i = 0; i < 20; i++) {
        run(f, 1, 0, &st);
        assert_int_equal(st.dead, 0);
        f->clock.now += 120000;
    }
    f->fs[0].no_answer = 0;
    f->fs[0].retry_status = 503;
    for (i = 0; i < 20; i++) {
        run(f, 1, 0, &st);
        assert_int_equal(st.dead, 0);
        f->clock.now += 600000;
    }
    assert_int_equal(attempts_of(f, "fake:a"), 0);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 1);
    assert_true(p.streak >= 20);
    /* a 500 is this lead's own failure: it counts */
    f->fs[0].retry_status = 500;
    f->clock.now = p.until;
    run(f, 1, 0, &st);
    assert_int_equal(attempts_of(f, "fake:a"), 1);
}

static void test_ls_deliver__stop_flag(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    volatile sig_atomic_t stop = 1;

    enqueue(f, "fake:a", "lead1", "msg_1");
    f->opts.stop = &stop;
    run(f, 1, 1, &st);
    assert_int_equal(f->fs[0].calls, 0);
    assert_int_equal(st.pending, 1);
}

/* A stop during a batch leaves the rest unsent: they wait, with no attempt
 * counted, and the sink does not pause for it (a pause streak stays). */
static void test_ls_deliver__stop_records_no_pause(void **state)
{
    struct fx *f = *state;
    struct ls_deliver_stats st;
    struct ls_sink_pause p;
    volatile sig_atomic_t stop = 0;
    int found = 0;
    int64_t until;

    enqueue(f, "fake:a", "lead1", "msg_1");
    enqueue(f, "fake:a", "lead2", "msg_2");
    enqueue(f, "fake:a", "lead3", "msg_3");
    f->opts.max_wait_ms = 0;
    /* a 503 first: one pause, streak 1 */
    f->fs[0].default_outcome = LS_SINK_RETRY;
    f->fs[0].retry_status = 503;
    run(f, 1, 0, &st);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(p.streak, 1);
    until = p.until;
    /* after the pause, a stop cuts the batch after its first item */
    f->clock.now = until + 1;
    f->fs[0].default_outcome = LS_SINK_REJECT;
    f->fs[0].stop_after_first = &stop;
    f->opts.stop = &stop;
    run(f, 1, 0, &st);
    assert_int_equal(stop, 1);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.pending, 2);
    assert_int_equal(attempts_of(f, "fake:a"), 0);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(p.streak, 1);
    assert_true(p.until == until);
    /* the same with nothing sent at all: still no new pause */
    f->fs[0].default_outcome = LS_SINK_NOT_SENT;
    stop = 0;
    run(f, 1, 0, &st);
    assert_int_equal(stop, 1);
    assert_int_equal(ls_ledger_pause_get(f->ledger, "fake:a", &p, &found), 0);
    assert_int_equal(p.streak, 1);
    assert_true(p.until == until);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ls_deliver__all_ok_created_then_updated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__throttle_waits_retry_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__reject_is_dead_letter_others_go_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_ls_deliver__breaker_pauses_a_sink_that_rejects_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__breaker_needs_one_kind_in_a_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__bounded_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__once_gives_up_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__fatal_stops_sink_keeps_work, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__one_sink_down_other_delivers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__sustained_limit_never_dead_letters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__unreachable_counts_no_attempt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__stop_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ls_deliver__stop_records_no_pause, setup, teardown),
    };

    return lst_run_group(tests, NULL, NULL);
}
