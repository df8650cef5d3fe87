/* ls_ledger_stmt.c - the statement plumbing every part of the ledger uses
 * (ls_ledger_int.h). */
#include "ls_ledger_int.h"
#include "ls_redact.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERROR_BYTES 300

int ledger_db_err(struct ls_ledger *l, int rc, const char *what)
{
    const char *msg = l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc);

    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ||
        (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL)
        l->suspect = 1;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return ls_error(LS_EDB, "ledger disk full: %s (%s): %s", what, l->path, msg);
    case SQLITE_READONLY:
        return ls_error(LS_EDB, "ledger is read-only: cannot %s (%s): %s", what, l->path, msg);
    case SQLITE_IOERR:
        if (l->db &&
            (sqlite3_system_errno(l->db) == ENOSPC || sqlite3_system_errno(l->db) == EDQUOT))
            return ls_error(LS_EDB, "ledger disk full: %s (%s): %s", what, l->path,
                            strerror(sqlite3_system_errno(l->db)));
        return ls_error(LS_EDB, "ledger I/O error: %s (%s): %s", what, l->path, msg);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return ls_error(LS_EDB, "ledger %s is not a valid leadsync ledger: %s", l->path, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ls_error(LS_EDB, "ledger %s is busy: %s: %s", l->path, what, msg);
    case SQLITE_CANTOPEN:
        return ls_error(LS_EDB, "cannot open ledger %s: %s", l->path, msg);
    default:
        return ls_error(LS_EDB, "ledger %s: %s: %s", l->path, what, msg);
    }
}

void ledger_reset(sqlite3_stmt *st)
{
    if (!st)
        return; /* never prepared (ledger_st) */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* 1 when st is one of the ledger's statements (l->st[]: alive until close). */
static int ledger_owned(const struct ls_ledger *l, const sqlite3_stmt *st)
{
    for (int k = 0; k < ST_COUNT; k++)
        if (l->st[k] == st)
            return 1;
    return 0;
}

/* The index of parameter name, or a negative error code with the last error
 * set (LS_EDB for a NULL st: ledger_st set it). The position of each name in
 * the ledger's own statements is found once and kept: SQLite finds a name by
 * comparing it with each of the statement's, on every bind. */
static int param(struct ls_ledger *l, sqlite3_stmt *st, const char *name)
{
    uintptr_t h = ((uintptr_t)st >> 4) * 31 + ((uintptr_t)name >> 2);
    struct ledger_param *c = &l->params[h % LS_ARRAY_LEN(l->params)];
    int i;

    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    if (c->st == st && c->name == name)
        return c->i;
    i = sqlite3_bind_parameter_index(st, name);
    if (i == 0)
        return ls_error(LS_ERROR, "ledger %s: internal: no parameter %s in \"%s\"", l->path, name,
                        sqlite3_sql(st));
    if (ledger_owned(l, st)) {
        c->st = st;
        c->name = name;
        c->i = i;
    }
    return i;
}

int ledger_bind_text(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v)
{
    int i = param(l, st, name);
    int rc;

    if (i < 0)
        return i;
    rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "binding a parameter");
}

int ledger_bind_static(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v)
{
    int i = param(l, st, name);
    int rc;

    if (i < 0)
        return i;
    rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "binding a parameter");
}

static int ledger_bind_textn(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v,
                             size_t n)
{
    int i = param(l, st, name);
    int rc;

    if (i < 0)
        return i;
    rc = sqlite3_bind_text64(st, i, v, n, SQLITE_TRANSIENT, SQLITE_UTF8);
    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "binding a parameter");
}

int ledger_bind_i64(struct ls_ledger *l, sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = param(l, st, name);
    int rc;

    if (i < 0)
        return i;
    rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "binding a parameter");
}

/* Binds an error message, redacted (ls_redact: no personal data or secrets
 * reach outbox.last_error, whichever path built it) and cut to
 * MAX_ERROR_BYTES on a UTF-8 boundary. */
int ledger_bind_error(struct ls_ledger *l, sqlite3_stmt *st, const char *error)
{
    char kept[MAX_ERROR_BYTES + 1];
    size_t n;

    if (!error)
        return ledger_bind_text(l, st, ":error", NULL);
    n = ls_redact(kept, sizeof(kept), error, strnlen(error, 4 * MAX_ERROR_BYTES));
    return ledger_bind_textn(l, st, ":error", kept, n);
}

/* Steps a statement that returns no rows to completion and resets it. */
int ledger_run(struct ls_ledger *l, sqlite3_stmt *st, const char *what)
{
    int rc;
    int err = 0;

    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = ledger_db_err(l, rc, what);
    ledger_reset(st);
    return err;
}

int ledger_bind(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args, size_t n)
{
    int err = 0;

    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    for (size_t i = 0; i < n && !err; i++) {
        const struct ledger_arg *a = &args[i];

        switch (a->kind) {
        case ARG_KIND_TEXT:
            err = ledger_bind_text(l, st, a->name, a->text);
            break;
        case ARG_KIND_STATIC:
            err = ledger_bind_static(l, st, a->name, a->text);
            break;
        case ARG_KIND_I64:
            err = ledger_bind_i64(l, st, a->name, a->i64);
            break;
        case ARG_KIND_ERROR:
            err = ledger_bind_error(l, st, a->text);
            break;
        }
    }
    if (err)
        ledger_reset(st);
    return err;
}

int ledger_exec(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args, size_t n,
                const char *what)
{
    int err = ledger_bind(l, st, args, n);

    return err ? err : ledger_run(l, st, what);
}

int ledger_row(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args, size_t n,
               const char *what, int *found)
{
    int err = ledger_bind(l, st, args, n);
    int rc;

    *found = 0;
    if (err)
        return err;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *found = 1;
    else if (rc != SQLITE_DONE)
        return ledger_db_err(l, rc, what);
    return LS_OK;
}

char *ledger_col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? ls_xstrdup((const char *)s) : NULL;
}

/* A savepoint makes a multi-statement operation atomic inside or outside a
 * caller's transaction. */
int ledger_op_begin(struct ls_ledger *l)
{
    return ledger_run(l, ledger_st(l, ST_SAVEPOINT), "starting a savepoint");
}

/* On error, undoes the operation without replacing the error message (after
 * an I/O error or a full disk SQLite may already have rolled back the whole
 * transaction, savepoint included). */
int ledger_op_end(struct ls_ledger *l, int err)
{
    if (err) {
        if (!sqlite3_get_autocommit(l->db)) {
            sqlite3_step(ledger_st(l, ST_ROLLBACK_TO));
            sqlite3_reset(ledger_st(l, ST_ROLLBACK_TO));
            sqlite3_step(ledger_st(l, ST_RELEASE));
            sqlite3_reset(ledger_st(l, ST_RELEASE));
        }
        return err;
    }
    return ledger_run(l, ledger_st(l, ST_RELEASE), "releasing a savepoint");
}
