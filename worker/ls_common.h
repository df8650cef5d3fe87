/*
 * ls_common.h - what every file of the worker uses: error codes with a
 * thread-local last-error message, allocation that aborts on OOM, exit codes.
 *
 * Functions return 0 or a negative enum ls_err and set the message with
 * ls_error(); callers propagate the code unchanged and add context only at
 * the top (main) where the message is printed.
 */
#ifndef LS_COMMON_H
#define LS_COMMON_H

#include "ls_version.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define LS_NODISCARD    __attribute__((warn_unused_result))
#define LS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define LS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum ls_err {
    LS_OK = 0,
    LS_ERROR = -1, /* generic */
    LS_ENOMEM = -2,
    LS_EINVAL = -3,   /* bad argument or bad data */
    LS_ECONFIG = -4,  /* configuration error (exit 78) */
    LS_EUNAVAIL = -5, /* service unreachable / temporary (exit 75) */
    LS_EAUTH = -6,    /* credentials refused (exit 77) */
    LS_EDB = -7,      /* ledger error */
    LS_ELOCKED = -8,  /* ledger held by another worker */
    LS_EIO = -9,      /* file I/O */
    LS_EPARSE = -10,  /* malformed input */
    LS_ECANCELED = -11,
    LS_EUSAGE = -13, /* command-line usage (exit 64) */
};

/* sysexits(3) values used by the contract (worker/README.md, The contract). */
enum ls_exit {
    LS_EXIT_OK = 0,
    LS_EXIT_USAGE = 64,
    LS_EXIT_DATAERR = 65,
    LS_EXIT_UNAVAILABLE = 69,
    LS_EXIT_SOFTWARE = 70,
    LS_EXIT_IOERR = 74,
    LS_EXIT_TEMPFAIL = 75,
    LS_EXIT_NOPERM = 77,
    LS_EXIT_CONFIG = 78,
};

/* Clocks, in milliseconds: wall (unix epoch) and monotonic (for intervals). */
int64_t ls_now_ms(void);
int64_t ls_mono_ms(void);

/*
 * Stopping on a signal: the handlers `run` installs count SIGTERM/SIGINT
 * here (0 running; 1 start nothing new, let requests already in flight
 * finish within LEADSYNC_STOP_GRACE_SECONDS; 2 or more stop now). Either
 * way only what was answered is committed, so nothing is lost.
 */
extern volatile sig_atomic_t ls_stop_requested;

/* Sets the last error message and returns code. */
int ls_error(int code, const char *fmt, ...) LS_PRINTF(2, 3);
const char *ls_error_last(void);
/* Maps an ls_err to the contract's exit code. */
int ls_exit_code(int err);
/* Maps an azt_err (azure/) to an ls_err, copying its message. */
int ls_from_azt(int azt_code);

void *ls_xmalloc(size_t n);
void *ls_xcalloc(size_t n, size_t size);
void *ls_xrealloc(void *p, size_t n);
char *ls_xstrdup(const char *s);
char *ls_xstrndup(const char *s, size_t n);
/* malloc'd printf */
char *ls_xasprintf(const char *fmt, ...) LS_PRINTF(1, 2);

/* A growing string: NUL-terminated once anything was added (p is NULL
 * before); adding never fails (ls_xrealloc). Start from {0}; free(p). */
struct ls_buf {
    char *p;
    size_t len, cap;
};
void ls_buf_add(struct ls_buf *b, const char *s, size_t n);
void ls_buf_puts(struct ls_buf *b, const char *s);
void ls_buf_printf(struct ls_buf *b, const char *fmt, ...) LS_PRINTF(2, 3);
/* The string, handed to the caller ("" when nothing was added). */
char *ls_buf_take(struct ls_buf *b);
/* Overwrites a secret string (token, key, password) and frees it; NULL is fine. */
void ls_secret_free(char *s);
/* 1 when s[0..n) is a usable bearer token: not empty, visible ASCII only (a
 * server's token goes into an Authorization header; a line break or a NUL
 * would split or cut it). */
int ls_token_text_ok(const char *s, size_t n);

/*
 * Fault injection for the crash tests: when LEADSYNC_TEST_CRASH_AT is
 * "NAME:N", the N-th call of ls_crashpoint("NAME") kills the process with
 * SIGKILL, exactly as `kill -9` would. Without the variable it costs one
 * branch. Points: page-committed, sink-written, sink-partial, delivered,
 * notify-sent.
 */
void ls_crashpoint(const char *name);
/* 1 when the partial-write crash point is armed and due (sinks call it
 * between halves of a write). */
int ls_crashpoint_due(const char *name);

/* No core dumps (they would hold the connection string, tokens and leads)
 * and no ptrace by other users, unless log_level is "debug". */
void ls_protect_process(const char *log_level);

#endif /* LS_COMMON_H */
