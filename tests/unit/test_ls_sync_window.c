/*
 * test_ls_sync_window.c - ls_sync_window offline: the table client's
 * transport seam answers from committed page fixtures (tests/fixtures/azure/
 * sync/), so pagination, empty pages, the server's clock, a failure between
 * pages and the crash points are tested without a table service.
 *
 * The service's clock (the Date header) is fixed in the past, so the window
 * ends at it (the earlier of the service's and the local clock): nothing here
 * depends on the machine's time.
 */
#include "ls_test.h"

#include "ls_ledger.h"
#include "ls_sync.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONN                                                                                       \
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"                                  \
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"        \
    "KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1"
#define DATE_1       "Tue, 24 Nov 2026 03:00:00 GMT"
#define UPPER_1      "2026-11-24T03:00:00.0000000Z"
#define DATE_2       "Tue, 24 Nov 2026 04:00:00 GMT"
#define UPPER_2      "2026-11-24T04:00:00.0000000Z"
#define CONTINUATION "x-ms-continuation-NextPartitionKey: 1!20!MTE6MkYyNDoyRjIwMjY-\r\n"

/* The fake table service: the clock probe gets an empty page, the window's
 * requests get pages[] in order (each but the last with a continuation). */
struct fake {
    const char *date; /* Date header of every answer; NULL for none */
    const char *pages[4];
    size_t npages;
    size_t fail_at; /* the page request answered 500 instead (1-based; 0 none) */
    size_t served;  /* page requests answered */
    char *urls[8];  /* the page requests' URLs */
    char headers[512];
};

static char *page1, *page2, *empty;

static int fake_transport(void *ctx, const struct azt_http_request *req,
                          struct azt_http_response *resp)
{
    struct fake *f = ctx;
    const char *top = strstr(req->url, "$top=");
    int probe = top && strncmp(top, "$top=1", 6) == 0 && (top[6] == '\0' || top[6] == '&');
    size_t i;

    snprintf(f->headers, sizeof(f->headers), "Content-Type: application/json\r\n%s%s%s",
             f->date ? "Date: " : "", f->date ? f->date : "", f->date ? "\r\n" : "");
    resp->status = 200;
    resp->body = empty;
    if (!probe) {
        i = f->served++;
        if (i < 8)
            f->urls[i] = strdup(req->url);
        if (i >= f->npages)
            return -1; /* a request the test did not expect: a transport failure */
        if (f->fail_at == i + 1) {
            resp->status = 500;
            resp->body = "{\"odata.error\":{\"code\":\"InternalError\",\"message\":"
                         "{\"lang\":\"en-US\",\"value\":\"injected\"}}}";
        } else {
            resp->body = f->pages[i];
            if (i + 1 < f->npages)
                snprintf(f->headers + strlen(f->headers), sizeof(f->headers) - strlen(f->headers),
                         "%s", CONTINUATION);
        }
    }
    resp->headers = f->headers;
    resp->body_len = strlen(resp->body);
    return 0;
}

static void fake_init(struct fake *f, const char *date)
{
    memset(f, 0, sizeof(*f));
    f->date = date;
    f->pages[0] = page1;
    f->pages[1] = empty; /* the service may answer a page with no rows and a continuation */
    f->pages[2] = page2;
    f->npages = 3;
}

static void fake_free(struct fake *f)
{
    for (size_t i = 0; i < 8; i++)
        free(f->urls[i]);
}

/* An outbox sink: the window only enqueues for it. */
static const struct ls_sink_ops outbox_ops = {.name = "test"};

struct env {
    char *dir;
    char *path;
    struct ls_ledger *ledger;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct ls_ledger_opts o = {0};

    assert_non_null(e);
    e->dir = lst_tmpdir();
    e->path = ls_xasprintf("%s/ledger.db", e->dir);
    o.path = e->path;
    o.wal = 1;
    assert_int_equal(ls_ledger_open(&o, &e->ledger), 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    ls_ledger_close(e->ledger);
    lst_rmtree(e->dir);
    free(e->dir);
    free(e->path);
    free(e);
    return 0;
}

/* One window over the fake service; the ls_sync_window result. */
static int run_window(struct ls_ledger *ledger, struct fake *f, struct ls_sync_stats *st)
{
    struct azt_conn *conn = NULL;
    struct azt_client *client = NULL;
    struct azt_client_opts co = {0};
    struct ls_sink sink = {.ops = &outbox_ops, .id = "test"};
    struct ls_sync_opts so = {0};
    int rc;

    co.max_attempts = 1;
    co.transport = fake_transport;
    co.seam_ctx = f;
    assert_int_equal(azt_conn_parse(CONN, strlen(CONN), &conn), 0);
    assert_int_equal(azt_client_create(conn, &co, &client), 0);
    so.table = "MarketplaceLeads";
    so.overlap_seconds = 600;
    so.settle_seconds = 0;
    so.page_size = 100;
    so.progress_seconds = 3600;
    rc = ls_sync_window(client, ledger, &sink, 1, &so, st);
    azt_client_destroy(client);
    azt_conn_free(conn);
    return rc;
}

static char *cursor_of(struct ls_ledger *l)
{
    char *v = NULL;

    assert_int_equal(ls_ledger_meta_get(l, "cursor", &v), 0);
    return v;
}

static int64_t pending_of(struct ls_ledger *l)
{
    int64_t n = -1;

    assert_int_equal(ls_ledger_pending_count(l, "test", &n), 0);
    return n;
}

/* A first window: every page in order, the empty one included, no $filter,
 * the row past the service's clock left for later, the cursor at the
 * service's clock. */
static void test_first_window_pages(void **state)
{
    struct env *e = *state;
    struct ls_sync_stats st;
    struct fake f;
    char *c;
    int64_t rows = 0, leads = 0;

    fake_init(&f, DATE_1);
    assert_int_equal(run_window(e->ledger, &f, &st), 0);
    assert_int_equal(f.served, 3);
    assert_null(strstr(f.urls[0], "$filter"));
    assert_null(strstr(f.urls[0], "NextPartitionKey"));
    assert_non_null(strstr(f.urls[1], "NextPartitionKey=1%2120%21MTE6MkYyNDoyRjIwMjY-"));
    assert_non_null(strstr(f.urls[2], "NextPartitionKey="));
    assert_string_equal(st.lower, "");
    assert_string_equal(st.upper, UPPER_1);
    assert_int_equal(st.fresh, 3);
    assert_int_equal(st.enqueued, 3);
    assert_int_equal(pending_of(e->ledger), 3);
    assert_int_equal(ls_ledger_row_count(e->ledger, &rows, &leads), 0);
    assert_int_equal(rows, 3); /* not the row written after the window */
    c = cursor_of(e->ledger);
    assert_string_equal(c, UPPER_1);
    free(c);
    fake_free(&f);
}

/* The next window starts an overlap before the cursor and ends at the
 * service's new clock; rows already recorded are not enqueued again. */
static void test_next_window_overlaps_and_dedups(void **state)
{
    struct env *e = *state;
    struct ls_sync_stats st;
    struct fake f;
    char *c;

    fake_init(&f, DATE_1);
    assert_int_equal(run_window(e->ledger, &f, &st), 0);
    fake_free(&f);
    fake_init(&f, DATE_2);
    assert_int_equal(run_window(e->ledger, &f, &st), 0);
    assert_string_equal(st.lower, "2026-11-24T02:50:00.0000000Z");
    assert_string_equal(st.upper, UPPER_2);
    assert_non_null(strstr(f.urls[0], "$filter=Timestamp%20ge%20datetime%272026-11-24T02%3A50"));
    /* with a $filter the service drops what is outside it: the late row is read now */
    assert_int_equal(st.unchanged, 3);
    assert_int_equal(st.fresh, 1);
    assert_int_equal(pending_of(e->ledger), 4);
    c = cursor_of(e->ledger);
    assert_string_equal(c, UPPER_2);
    free(c);
    fake_free(&f);
}

/* No Date header: the window has no upper bound it may trust; nothing read. */
static void test_no_server_clock(void **state)
{
    struct env *e = *state;
    struct ls_sync_stats st;
    struct fake f;

    fake_init(&f, NULL);
    assert_int_equal(run_window(e->ledger, &f, &st), LS_EUNAVAIL);
    assert_non_null(strstr(ls_error_last(), "Date"));
    assert_int_equal(f.served, 0);
    assert_null(cursor_of(e->ledger));
    fake_free(&f);
}

/* A failure between pages keeps what was committed and leaves the cursor:
 * the next window re-reads and enqueues only what is new. */
static void test_failure_between_pages(void **state)
{
    struct env *e = *state;
    struct ls_sync_stats st;
    struct fake f;
    char *c;

    fake_init(&f, DATE_1);
    f.fail_at = 3;
    assert_int_not_equal(run_window(e->ledger, &f, &st), 0);
    assert_int_equal(pending_of(e->ledger), 2);
    assert_null(cursor_of(e->ledger));
    fake_free(&f);

    fake_init(&f, DATE_1);
    assert_int_equal(run_window(e->ledger, &f, &st), 0);
    assert_int_equal(st.unchanged, 2);
    assert_int_equal(st.fresh, 1);
    assert_int_equal(pending_of(e->ledger), 3);
    c = cursor_of(e->ledger);
    assert_string_equal(c, UPPER_1);
    free(c);
    fake_free(&f);
}

/* The crash points, with SIGKILL as the contract means it: a child process
 * (this program re-run with "crash-child") dies at the named point; then a
 * window in this process must finish the job with nothing lost or doubled. */
static char self_path[4096];

static void crash_at(const char *path, const char *point, int pending_after_crash)
{
    struct ls_ledger *l = NULL;
    struct ls_ledger_opts o = {0};
    struct ls_sync_stats st;
    struct fake f;
    pid_t pid;
    int status = 0;
    char *c;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("LEADSYNC_TEST_CRASH_AT", point, 1);
        execl(self_path, self_path, "crash-child", path, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    o.path = path;
    o.wal = 1;
    assert_int_equal(ls_ledger_open(&o, &l), 0);
    assert_int_equal(pending_of(l), pending_after_crash);
    assert_null(cursor_of(l));
    fake_init(&f, DATE_1);
    assert_int_equal(run_window(l, &f, &st), 0);
    assert_int_equal(st.fresh, 3 - pending_after_crash);
    assert_int_equal(pending_of(l), 3);
    c = cursor_of(l);
    assert_string_equal(c, UPPER_1);
    free(c);
    fake_free(&f);
    ls_ledger_close(l);
}

static void test_crash_points(void **state)
{
    struct env *e = *state;
    char *p;

    ls_ledger_close(e->ledger);
    e->ledger = NULL;
    p = ls_xasprintf("%s/a.db", e->dir);
    crash_at(p, "page-uncommitted:1", 0); /* the first page's rows roll back */
    free(p);
    p = ls_xasprintf("%s/b.db", e->dir);
    crash_at(p, "page-committed:1", 2); /* the first page stays */
    free(p);
    p = ls_xasprintf("%s/c.db", e->dir);
    crash_at(p, "page-committed:3", 3); /* every page, but not the cursor */
    free(p);
}

static int crash_child(const char *path)
{
    struct ls_ledger *l = NULL;
    struct ls_ledger_opts o = {0};
    struct ls_sync_stats st;
    struct fake f;

    o.path = path;
    o.wal = 1;
    if (ls_ledger_open(&o, &l) != 0)
        return 2;
    fake_init(&f, DATE_1);
    (void)run_window(l, &f, &st);
    return 3; /* the crash point did not fire */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_window_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_window_overlaps_and_dedups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_server_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_between_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
    };
    ssize_t n;
    int rc;

    page1 = lst_fixture("azure/sync/page1.json", NULL);
    page2 = lst_fixture("azure/sync/page2.json", NULL);
    empty = lst_fixture("azure/page_empty.json", NULL);
    if (argc == 3 && strcmp(argv[1], "crash-child") == 0)
        return crash_child(argv[2]);
    n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (n <= 0)
        return 1;
    self_path[n] = '\0';
    rc = lst_run_group(tests, NULL, NULL);
    free(page1);
    free(page2);
    free(empty);
    return rc;
}
