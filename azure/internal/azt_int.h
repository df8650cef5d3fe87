/*
 * azt_int.h - internals shared between the files of azure/. Never included
 * by anything outside azure/ (tests excepted).
 */
#ifndef AZT_INT_H
#define AZT_INT_H

#include "azt.h"

#include <stdarg.h>

#define AZT_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sets the thread's last error message and returns code, so callers can
 * write `return azt__error(AZT_EPARSE, "...", ...);`. */
int azt__error(int code, const char *fmt, ...) AZT_PRINTF(2, 3);
void azt__error_clear(void);

/* Allocation that aborts on OOM (the process resumes from its ledger). */
void *azt__xmalloc(size_t n);
void *azt__xcalloc(size_t n, size_t size);
void *azt__xrealloc(void *p, size_t n);
char *azt__xstrdup(const char *s);
char *azt__xstrndup(const char *s, size_t n);

/* A growable byte buffer with a cap. Always NUL-terminated when ptr != NULL. */
struct azt_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unlimited */
};
int azt__buf_append(struct azt_buf *b, const void *p, size_t n); /* AZT_ETOOBIG past max */
int azt__buf_appendf(struct azt_buf *b, const char *fmt, ...) AZT_PRINTF(2, 3);
void azt__buf_dispose(struct azt_buf *b);
/* Hands ownership of the contents to the caller and resets b. */
char *azt__buf_take(struct azt_buf *b);

#endif /* AZT_INT_H */
