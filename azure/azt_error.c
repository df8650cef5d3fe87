/* azt_error.c - the thread-local last-error message, allocation and buffers. */
#include "azt.h"
#include "internal/azt_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *azt_error_last(void)
{
    return last_error;
}

const char *azt_error_name(int code)
{
    switch (code) {
    case AZT_OK:
        return "AZT_OK";
    case AZT_ENOMEM:
        return "AZT_ENOMEM";
    case AZT_EINVAL:
        return "AZT_EINVAL";
    case AZT_ECONFIG:
        return "AZT_ECONFIG";
    case AZT_ENET:
        return "AZT_ENET";
    case AZT_EAUTH:
        return "AZT_EAUTH";
    case AZT_ENOTFOUND:
        return "AZT_ENOTFOUND";
    case AZT_ECONFLICT:
        return "AZT_ECONFLICT";
    case AZT_EHTTP:
        return "AZT_EHTTP";
    case AZT_EPARSE:
        return "AZT_EPARSE";
    case AZT_ETHROTTLED:
        return "AZT_ETHROTTLED";
    case AZT_ETOOBIG:
        return "AZT_ETOOBIG";
    case AZT_ECANCELED:
        return "AZT_ECANCELED";
    case AZT_ETLS:
        return "AZT_ETLS";
    default:
        return "AZT_ERROR";
    }
}

int azt__error(int code, const char *fmt, ...)
{
    char msg[sizeof(last_error)];
    va_list ap;

    /* Formatted aside first: a message may quote azt_error_last() itself. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof(msg));
    return code;
}

void azt__error_clear(void)
{
    last_error[0] = '\0';
}

static void oom(size_t n)
{
    fprintf(stderr, "out of memory allocating %zu bytes\n", n);
    abort();
}

void *azt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        oom(n);
    return p;
}

void *azt_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        oom(n * size);
    return p;
}

void *azt_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        oom(n);
    return q;
}

char *azt_xstrdup(const char *s)
{
    return azt_xstrndup(s, strlen(s));
}

char *azt_xstrndup(const char *s, size_t n)
{
    char *p = azt_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int azt__buf_append(struct azt_buf *b, const void *p, size_t n)
{
    size_t need;

    if (n > SIZE_MAX - b->len - 1)
        return azt__error(AZT_ETOOBIG, "buffer size overflow");
    need = b->len + n + 1;
    if (b->max && need - 1 > b->max)
        return azt__error(AZT_ETOOBIG, "response larger than the %zu-byte limit", b->max);
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        b->ptr = azt_xrealloc(b->ptr, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return AZT_OK;
}

int azt__buf_appendf(struct azt_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    char *big = NULL;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return azt__error(AZT_EINVAL, "format error");
    if ((size_t)n < sizeof(small))
        return azt__buf_append(b, small, (size_t)n);
    big = azt_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rc = azt__buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void azt__buf_dispose(struct azt_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

char *azt__buf_take(struct azt_buf *b)
{
    char *p = b->ptr;

    if (!p)
        p = azt_xstrdup("");
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}
