/* ls_common.c - errors, exit codes and allocation for the worker. */
#include "ls_common.h"

#include "azt.h"
#include "ls_redact.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char last_error[1024];

int64_t ls_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

volatile sig_atomic_t ls_stop_requested;

int64_t ls_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ls_error(int code, const char *fmt, ...)
{
    char msg[sizeof(last_error)];
    va_list ap;

    /* Formatted aside first: callers add context to the last message with
     * ls_error(rc, "...: %s", ls_error_last()), which reads last_error. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof(msg));
    return code;
}

const char *ls_error_last(void)
{
    return last_error;
}

int ls_exit_code(int err)
{
    switch (err) {
    case LS_OK:
        return LS_EXIT_OK;
    case LS_EUSAGE:
        return LS_EXIT_USAGE;
    case LS_ECONFIG:
        return LS_EXIT_CONFIG;
    case LS_EUNAVAIL:
    case LS_ELOCKED:
        return LS_EXIT_TEMPFAIL;
    case LS_EAUTH:
        return LS_EXIT_NOPERM;
    case LS_EPARSE:
        return LS_EXIT_DATAERR;
    case LS_EIO:
    case LS_EDB:
        return LS_EXIT_IOERR;
    default:
        return LS_EXIT_SOFTWARE;
    }
}

int ls_from_azt(int azt_code)
{
    char kept[1024];
    int code;

    switch (azt_code) {
    case AZT_OK:
        return LS_OK;
    case AZT_ECONFIG:
    case AZT_ETLS:
        code = LS_ECONFIG;
        break;
    case AZT_ENET:
    case AZT_ETHROTTLED:
        code = LS_EUNAVAIL;
        break;
    case AZT_EAUTH:
        code = LS_EAUTH;
        break;
    case AZT_EPARSE:
        code = LS_EPARSE;
        break;
    case AZT_ECANCELED:
        code = LS_ECANCELED;
        break;
    case AZT_ENOMEM:
        code = LS_ENOMEM;
        break;
    default:
        code = LS_ERROR;
        break;
    }
    /* The table client's messages quote the service's answers. */
    ls_redact(kept, sizeof(kept), azt_error_last(), strlen(azt_error_last()));
    return ls_error(code, "%s", kept);
}

/* The table client's allocators serve the whole program (one place decides
 * what running out of memory does). */
void *ls_xmalloc(size_t n)
{
    return azt_xmalloc(n);
}

void *ls_xcalloc(size_t n, size_t size)
{
    return azt_xcalloc(n, size);
}

void *ls_xrealloc(void *p, size_t n)
{
    return azt_xrealloc(p, n);
}

char *ls_xstrdup(const char *s)
{
    return azt_xstrdup(s);
}

char *ls_xstrndup(const char *s, size_t n)
{
    return azt_xstrndup(s, n);
}

int ls_token_text_ok(const char *s, size_t n)
{
    size_t i;

    if (!s || n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

void ls_secret_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

char *ls_xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    p = ls_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* Room for n more bytes and the NUL after them. */
static void buf_reserve(struct ls_buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = ls_xrealloc(b->p, b->cap);
    }
}

void ls_buf_add(struct ls_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ls_buf_puts(struct ls_buf *b, const char *s)
{
    ls_buf_add(b, s, strlen(s));
}

void ls_buf_printf(struct ls_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *ls_buf_take(struct ls_buf *b)
{
    char *p = b->p ? b->p : ls_xstrdup("");

    memset(b, 0, sizeof(*b));
    return p;
}

static struct {
    int loaded;
    char name[64];
    long at;
    long count;
} crash;

static void crash_load(void)
{
    const char *v;
    const char *colon;

    if (crash.loaded)
        return;
    crash.loaded = 1;
    v = getenv("LEADSYNC_TEST_CRASH_AT");
    if (!v || !(colon = strchr(v, ':')) || (size_t)(colon - v) >= sizeof(crash.name))
        return;
    memcpy(crash.name, v, (size_t)(colon - v));
    crash.name[colon - v] = '\0';
    crash.at = strtol(colon + 1, NULL, 10);
}

int ls_crashpoint_due(const char *name)
{
    crash_load();
    if (!crash.name[0] || strcmp(crash.name, name) != 0)
        return 0;
    return ++crash.count >= crash.at;
}

void ls_crashpoint(const char *name)
{
    if (ls_crashpoint_due(name))
        kill(getpid(), SIGKILL);
}

void ls_protect_process(const char *log_level)
{
    if (!log_level || strcmp(log_level, "debug") != 0)
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
