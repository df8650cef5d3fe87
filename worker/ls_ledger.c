/* ls_ledger.c - the ledger file: open and close, the writer lock, the
 * integrity record, migrations, transactions and meta (see ls_ledger.h; the
 * other parts are listed in ls_ledger_int.h). */
#include "ls_ledger_int.h"

#include "ls_embed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file part's statements: transactions, savepoints and meta. */
const struct ls_ledger_sql ls_ledger_file_sql[] = {
    {ST_BEGIN, "BEGIN IMMEDIATE"},
    {ST_COMMIT, "COMMIT"},
    {ST_ROLLBACK, "ROLLBACK"},
    {ST_SAVEPOINT, "SAVEPOINT ls_op"},
    {ST_RELEASE, "RELEASE ls_op"},
    {ST_ROLLBACK_TO, "ROLLBACK TO ls_op"},
    {ST_META_GET, "SELECT value FROM meta WHERE key = :key"},
    {ST_META_SET, "INSERT INTO meta (key, value) VALUES (:key, :value)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
    {ST_META_DEL, "DELETE FROM meta WHERE key = :key"},
    {ST_COUNT, NULL},
};

static int exec(struct ls_ledger *l, const char *s, const char *what)
{
    int rc = sqlite3_exec(l->db, s, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, what);
}

/* Single-row integer pragma such as user_version. */
static int pragma_int(struct ls_ledger *l, const char *s, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;
    int err = 0;

    rc = sqlite3_prepare_v2(l->db, s, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        err = ledger_db_err(l, rc, "reading the schema version");
        goto done;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = ledger_db_err(l, rc, "reading the schema version");
        goto done;
    }
    *out = sqlite3_column_int64(st, 0);
done:
    sqlite3_finalize(st);
    return err;
}

/* The error for a ledger file that open(O_NOFOLLOW) refused. */
static int open_error(const char *path)
{
    if (errno == ELOOP)
        return ls_error(LS_EIO,
                        "%s is a symbolic link: refusing to follow it (the ledger and its "
                        "-wal/-shm files must be regular files)",
                        path);
    return ls_error(LS_EIO, "cannot open %s: %s", path, strerror(errno));
}

/* Checks that an open file is a regular file of ours and strips group and
 * other permissions from it. */
static int fix_mode(int fd, const char *path)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0)
        return ls_error(LS_EIO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ls_error(LS_EIO, "%s is not a regular file", path);
    if (sb.st_uid != geteuid())
        return ls_error(LS_EIO, "%s belongs to uid %ld, not to this user (uid %ld)", path,
                        (long)sb.st_uid, (long)geteuid());
    if ((sb.st_mode & 077) != 0 && fchmod(fd, sb.st_mode & 0700) != 0)
        return ls_error(LS_EIO, "cannot restrict the permissions of %s: %s", path, strerror(errno));
    return 0;
}

/* Restricts <path><suffix> to the owner when it exists. */
static int fix_mode_if_exists(const char *path, const char *suffix)
{
    char *p = ls_xasprintf("%s%s", path, suffix);
    int fd = -1;
    int err = 0;

    fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT)
            err = open_error(p);
        goto done;
    }
    err = fix_mode(fd, p);
done:
    if (fd >= 0)
        close(fd);
    free(p);
    return err;
}

/*
 * The integrity check (PRAGMA quick_check) reads the whole file: on a large
 * ledger it is most of a CronJob tick that finds nothing new. A writer skips
 * it when the file is exactly as leadsync left it at its last clean close -
 * same device, inode, size and modification time, no write-ahead or rollback
 * journal - and the last full check is less than CHECK_EVERY_S old. The lock
 * file's second line records that state at each clean close:
 *     clean <dev> <ino> <size> <mtime_s> <mtime_ns> <checked_at>
 * Anything else (a crash, an error, the file touched by anything but
 * leadsync, a clock that went back) means a full check.
 */
#define CHECK_EVERY_S (24 * 3600)

/* A decimal number at *p, optionally signed (signed_ok), ended by a blank,
 * a line end or the end of the text, no larger than the type it goes into:
 * 0 and *p moved past it, -1 when malformed or out of range. */
static int read_number(const char **p, const char *end, int signed_ok, unsigned long long *mag,
                       int *neg)
{
    const char *q = *p;
    unsigned long long lim = signed_ok ? (unsigned long long)LLONG_MAX : ULLONG_MAX;

    *mag = 0;
    *neg = signed_ok && q < end && *q == '-';
    q += *neg;
    if (q == end || *q < '0' || *q > '9')
        return -1;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (*mag > (lim - (unsigned long long)(*q - '0')) / 10)
            return -1;
        *mag = *mag * 10 + (unsigned long long)(*q - '0');
    }
    if (q < end && *q != ' ' && *q != '\n')
        return -1;
    *p = q;
    return 0;
}

void ledger_lock_parse(const char *text, size_t n, long *pid, struct file_record *r)
{
    const char *end = text + n, *p = text, *nl = memchr(text, '\n', n);
    const char *line_end = nl ? nl : end;
    unsigned long long v[6];
    int neg[6], i;

    memset(r, 0, sizeof(*r));
    *pid = 0;
    if (read_number(&p, line_end, 0, &v[0], &neg[0]) == 0 && p == line_end &&
        v[0] <= (unsigned long long)LONG_MAX)
        *pid = (long)v[0];
    if (!nl || (size_t)(end - nl - 1) < 6 || memcmp(nl + 1, "clean ", 6) != 0)
        return;
    p = nl + 7;
    for (i = 0; i < 6; i++) {
        if (i > 0 && (p == end || *p++ != ' '))
            return;
        /* dev and ino are unsigned, the rest signed */
        if (read_number(&p, end, i >= 2, &v[i], &neg[i]) != 0)
            return;
    }
    if (p == end || *p != '\n' || p + 1 != end)
        return;
    r->dev = v[0];
    r->ino = v[1];
    r->size = neg[2] ? -(long long)v[2] : (long long)v[2];
    r->mtime_s = neg[3] ? -(long long)v[3] : (long long)v[3];
    r->mtime_ns = neg[4] ? -(long long)v[4] : (long long)v[4];
    r->checked_at = neg[5] ? -(long long)v[5] : (long long)v[5];
    r->valid = 1;
}

int ledger_lock_format(long pid, const struct file_record *r, char *buf, size_t cap)
{
    int len;

    if (r && r->valid)
        len = snprintf(buf, cap, "%ld\nclean %llu %llu %lld %lld %lld %lld\n", pid, r->dev, r->ino,
                       r->size, r->mtime_s, r->mtime_ns, r->checked_at);
    else
        len = snprintf(buf, cap, "%ld\n", pid);
    return len > 0 && (size_t)len < cap ? len : -1;
}

static void read_record(int fd, struct file_record *r)
{
    char buf[256];
    ssize_t n;
    long pid;

    memset(r, 0, sizeof(*r));
    n = pread(fd, buf, sizeof(buf), 0);
    if (n > 0)
        ledger_lock_parse(buf, (size_t)n, &pid, r);
}

/* 1 when <path><suffix> exists and is not empty. */
static int journal_present(const char *path, const char *suffix)
{
    char *p = ls_xasprintf("%s%s", path, suffix);
    struct stat sb;
    int present = stat(p, &sb) == 0 && sb.st_size > 0;

    free(p);
    return present;
}

/* The ledger file's state into *r; 0 when it cannot be read or a write-ahead
 * or rollback journal is left beside it (the file alone is not the ledger). */
static int file_state(const char *path, struct file_record *r)
{
    struct stat sb;

    if (stat(path, &sb) != 0 || journal_present(path, "-wal") || journal_present(path, "-journal"))
        return 0;
    r->dev = (unsigned long long)sb.st_dev;
    r->ino = (unsigned long long)sb.st_ino;
    r->size = (long long)sb.st_size;
    r->mtime_s = (long long)sb.st_mtim.tv_sec;
    r->mtime_ns = (long long)sb.st_mtim.tv_nsec;
    return 1;
}

/* 1 when the file is as the last clean close left it and its last full
 * check is recent. */
static int unchanged_since_clean_close(const struct ls_ledger *l, long long now_s)
{
    struct file_record cur;

    return l->prev.valid && file_state(l->path, &cur) && cur.dev == l->prev.dev &&
           cur.ino == l->prev.ino && cur.size == l->prev.size && cur.mtime_s == l->prev.mtime_s &&
           cur.mtime_ns == l->prev.mtime_ns && l->prev.checked_at <= now_s &&
           now_s - l->prev.checked_at < CHECK_EVERY_S;
}

/* After a clean close: the pid line and the file's state. Best effort - a
 * record that is missing or wrong only costs a full check next time. */
static void write_record(const struct ls_ledger *l)
{
    struct file_record r;
    char buf[256];
    int len;

    if (!file_state(l->path, &r))
        return;
    r.checked_at = l->checked_at;
    r.valid = 1;
    len = ledger_lock_format((long)getpid(), &r, buf, sizeof(buf));
    if (len > 0 && pwrite(l->lock_fd, buf, (size_t)len, 0) == len)
        (void)!ftruncate(l->lock_fd, len);
}

/* Takes the exclusive writer lock on <path>.lock and writes our pid into it. */
static int take_lock(struct ls_ledger *l)
{
    char *lock_path = ls_xasprintf("%s.lock", l->path);
    struct file_record held;
    char buf[256];
    ssize_t n;
    long pid = 0;
    int len;
    int err = 0;

    l->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->lock_fd < 0) {
        err = ls_error(LS_EIO, "cannot open ledger lock %s: %s", lock_path, strerror(errno));
        goto done;
    }
    err = fix_mode(l->lock_fd, lock_path);
    if (err)
        goto done;
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            err = ls_error(LS_EIO, "cannot lock %s: %s", lock_path, strerror(errno));
            goto done;
        }
        n = pread(l->lock_fd, buf, sizeof(buf), 0);
        if (n > 0)
            ledger_lock_parse(buf, (size_t)n, &pid, &held);
        if (pid > 0)
            err = ls_error(LS_ELOCKED, "ledger %s is in use by another leadsync process (pid %ld)",
                           l->path, pid);
        else
            err = ls_error(LS_ELOCKED, "ledger %s is in use by another leadsync process", l->path);
        goto done;
    }
    read_record(l->lock_fd, &l->prev);
    len = ledger_lock_format((long)getpid(), NULL, buf, sizeof(buf));
    if (len < 0 || ftruncate(l->lock_fd, 0) != 0 ||
        pwrite(l->lock_fd, buf, (size_t)len, 0) != len) {
        err = ls_error(LS_EIO, "cannot write %s: %s", lock_path, strerror(errno));
        goto done;
    }
done:
    if (err && l->lock_fd >= 0) {
        close(l->lock_fd);
        l->lock_fd = -1;
    }
    free(lock_path);
    return err;
}

/* Creates the database file 0600, or restricts an existing one (and its
 * -wal/-shm files) to the owner. */
static int prepare_file(struct ls_ledger *l)
{
    int fd;
    int err;

    fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return open_error(l->path);
    err = fix_mode(fd, l->path);
    close(fd);
    if (!err)
        err = fix_mode_if_exists(l->path, "-wal");
    if (!err)
        err = fix_mode_if_exists(l->path, "-shm");
    return err;
}

/* The migration number from "NNN_name.sql"; -1 when malformed. */
static int migration_number(const char *name)
{
    int v = 0;
    int digits = 0;

    for (; *name >= '0' && *name <= '9' && digits < 6; name++, digits++)
        v = v * 10 + (*name - '0');
    return digits > 0 && *name == '_' ? v : -1;
}

/* The schema version this binary knows: the number of the last migration. */
static int known_version(void)
{
    int v = 0;

    for (size_t i = 0; ls_migrations[i].name; i++)
        v = migration_number(ls_migrations[i].name);
    return v;
}

static int migrate(struct ls_ledger *l, int64_t version)
{
    char buf[64];
    char *what = NULL;
    int expect = 1;
    int num;
    int err = 0;

    for (size_t i = 0; ls_migrations[i].name; i++, expect++) {
        num = migration_number(ls_migrations[i].name);
        if (num != expect) {
            err = ls_error(LS_ERROR, "internal: migration %s is out of sequence",
                           ls_migrations[i].name);
            goto done;
        }
        if (num <= version)
            continue;
        free(what);
        what = ls_xasprintf("applying migration %s", ls_migrations[i].name);
        err = exec(l, "BEGIN IMMEDIATE", what);
        if (err)
            goto done;
        snprintf(buf, sizeof(buf), "PRAGMA user_version = %d", num);
        err = exec(l, ls_migrations[i].data, what);
        if (!err)
            err = exec(l, buf, what);
        if (!err)
            err = exec(l, "COMMIT", what);
        if (err) {
            sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
            goto done;
        }
    }
done:
    free(what);
    return err;
}

/* Checks the file is a SQLite database with a schema we can use. */
static int check_schema(struct ls_ledger *l, int64_t *out)
{
    int64_t version = 0;
    int64_t tables = 0;
    int known = known_version();
    int err;

    err = pragma_int(l, "PRAGMA user_version", &version);
    if (err)
        return err;
    if (version > known)
        return ls_error(LS_EDB,
                        "ledger schema %" PRId64 " is newer than this leadsync (%d); "
                        "upgrade leadsync (%s)",
                        version, known, l->path);
    if (version == 0) {
        err = pragma_int(l, "SELECT count(*) FROM sqlite_schema", &tables);
        if (err)
            return err;
        if (tables > 0)
            return ls_error(LS_EDB,
                            "ledger %s is not a valid leadsync ledger: it is a SQLite "
                            "database of another program",
                            l->path);
    }
    if (l->readonly || l->shared) {
        if (version == 0)
            return ls_error(LS_EDB, "ledger %s is empty: run 'leadsync run --once' first", l->path);
        if (version < known)
            return ls_error(LS_EDB,
                            "ledger schema %" PRId64 " of %s is older than this leadsync (%d); "
                            "run 'leadsync run --once' to upgrade it",
                            version, l->path, known);
    }
    *out = version;
    return 0;
}

/* A writer reads every page once before trusting the file: SQLite notices
 * damage only on the pages a statement happens to touch, so without this a
 * run could go on over a ledger whose outbox or rows are half garbage. */
static int check_integrity(struct ls_ledger *l)
{
    sqlite3_stmt *st = NULL;
    const char *verdict;
    int rc;
    int err = 0;

    rc = sqlite3_prepare_v2(l->db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        err = ledger_db_err(l, rc, "checking its integrity");
        goto done;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = ledger_db_err(l, rc, "checking its integrity");
        goto done;
    }
    verdict = (const char *)sqlite3_column_text(st, 0);
    if (verdict && strrchr(verdict, '\n'))
        verdict = strrchr(verdict, '\n') + 1; /* past "*** in database main ***" */
    if (!verdict || strcmp(verdict, "ok") != 0)
        err = ls_error(LS_EDB, "ledger %s is not a valid leadsync ledger: %.200s", l->path,
                       verdict ? verdict : "integrity check failed");
done:
    sqlite3_finalize(st);
    return err;
}

static int set_pragmas(struct ls_ledger *l, int wal)
{
    sqlite3_stmt *st = NULL;
    const char *want = wal ? "wal" : "delete";
    const unsigned char *got;
    int rc;
    int err = 0;

    rc = sqlite3_prepare_v2(
        l->db, wal ? "PRAGMA journal_mode = WAL" : "PRAGMA journal_mode = DELETE", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = ledger_db_err(l, rc, "setting the journal mode");
        goto done;
    }
    got = sqlite3_column_text(st, 0);
    if (!got || strcmp((const char *)got, want) != 0) {
        err = ls_error(LS_EDB, "ledger %s: cannot set journal_mode=%s (got %s)", l->path, want,
                       got ? (const char *)got : "nothing");
        goto done;
    }
    /* WAL: NORMAL (see ls_ledger.h, "Durability"). DELETE: FULL. */
    err = exec(l, wal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
               "setting synchronous");
    if (!err)
        err = exec(l, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    /* 512 KiB of page cache instead of 2 MiB: the writes are key lookups
     * and appends, the OS page cache holds the rest. */
    if (!err)
        err = exec(l, "PRAGMA cache_size = -512", "setting the cache size");
    /* A checkpoint every 4,000 pages of WAL (16 MiB) instead of 1,000: a
     * page of 1,000 new rows rewrites ~1,000 pages of the hash-keyed leads
     * table, and each checkpoint copies a page once however many commits
     * rewrote it (100k rows: a fifth fewer reads and writes). The WAL stays
     * within one 32 KiB block of its index; after a checkpoint the file is
     * cut back to 16 MiB. */
    if (!err && wal)
        err = exec(l, "PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 16777216",
                   "setting the checkpoint interval");
done:
    sqlite3_finalize(st);
    return err;
}

static const struct ls_ledger_sql *const parts[] = {ls_ledger_file_sql, ls_ledger_sync_sql,
                                                    ls_ledger_outbox_sql, ls_ledger_runs_sql,
                                                    ls_ledger_posts_sql};

/* Prepares statement id (ledger_st). */
sqlite3_stmt *ledger_prepare(struct ls_ledger *l, enum ls_ledger_stmt id)
{
    const struct ls_ledger_sql *s;
    int rc;

    for (size_t p = 0; p < LS_ARRAY_LEN(parts); p++) {
        for (s = parts[p]; s->sql; s++) {
            if (s->id != id)
                continue;
            rc = sqlite3_prepare_v3(l->db, s->sql, -1, SQLITE_PREPARE_PERSISTENT, &l->st[id], NULL);
            if (rc != SQLITE_OK)
                ledger_db_err(l, rc, "preparing a statement");
            return l->st[id];
        }
    }
    ls_error(LS_ERROR, "ledger %s: internal: statement %d has no SQL", l->path, (int)id);
    return NULL;
}

/* The file part's statements (transactions, savepoints, meta) are prepared
 * at open, so undoing a transaction never waits on a prepare; the others on
 * first use: a run that finds nothing new uses a handful of the ~50, and
 * parsing them all cost a sixth of its instructions. */
static int prepare_file_statements(struct ls_ledger *l)
{
    for (const struct ls_ledger_sql *s = ls_ledger_file_sql; s->sql; s++)
        if (!ledger_prepare(l, s->id))
            return LS_EDB;
    return 0;
}

int ls_ledger_prepare_all(struct ls_ledger *l)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (!ledger_st(l, (enum ls_ledger_stmt)i))
            return LS_EDB;
    return 0;
}

/* 1 when path's directory cannot be written (a read-only mount) and no
 * -shm file exists, so SQLite could not create one to read a WAL ledger. */
static int readonly_media(const char *path)
{
    char *dir = ls_xstrdup(path), *slash = strrchr(dir, '/');
    char *shm = ls_xasprintf("%s-shm", path);
    int ro;

    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    ro = access(slash ? dir : ".", W_OK) != 0 && access(shm, F_OK) != 0;
    free(dir);
    free(shm);
    return ro;
}

/* Opens the ledger as immutable (no -shm, no locks): for a ledger on a
 * read-only mount, which no process can be writing through that mount. */
static int open_immutable(struct ls_ledger *l)
{
    size_t n = strlen(l->path), i, o = 0;
    char *uri = ls_xmalloc(n * 3 + 32);
    int rc;

    o += (size_t)snprintf(uri, 8, "file:");
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)l->path[i];

        if (ch == '%' || ch == '?' || ch == '#')
            o += (size_t)snprintf(uri + o, 4, "%%%02X", ch);
        else
            uri[o++] = (char)ch;
    }
    snprintf(uri + o, 16, "?immutable=1");
    rc = sqlite3_open_v2(uri, &l->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                         NULL);
    free(uri);
    if (rc != SQLITE_OK)
        return ledger_db_err(l, rc, "opening (read-only media)");
    return LS_OK;
}

/* Before SQLite opens the file: a reader checks it exists (and opens read-only
 * media as immutable); a writer takes the lock (or, with opts->share, works
 * beside the holder) and prepares the file. *flags: the SQLite open mode. */
static int open_file(struct ls_ledger *l, const struct ls_ledger_opts *opts, int *flags)
{
    struct stat sb;
    int err;

    if (l->readonly) {
        *flags = SQLITE_OPEN_READONLY;
        if (stat(l->path, &sb) != 0)
            return ls_error(errno == ENOENT ? LS_EDB : LS_EIO, "cannot open ledger %s: %s", l->path,
                            strerror(errno));
        return readonly_media(l->path) ? open_immutable(l) : LS_OK;
    }
    *flags = SQLITE_OPEN_READWRITE;
    err = take_lock(l);
    if (err == LS_ELOCKED && opts->share) {
        l->shared = 1; /* the daemon runs: edit beside it */
        return LS_OK;
    }
    return err ? err : prepare_file(l);
}

/* The integrity check a writer makes on open, unless the ledger is new or was
 * closed cleanly and has not changed since (l->checked says whether it ran). */
static int check_on_open(struct ls_ledger *l, int64_t version)
{
    long long now_s = (long long)(ls_now_ms() / 1000);

    l->checked_at = now_s; /* a new ledger: nothing to check yet */
    if (version > 0 && unchanged_since_clean_close(l, now_s)) {
        l->checked_at = l->prev.checked_at;
        return LS_OK;
    }
    if (version == 0)
        return LS_OK;
    l->checked = 1;
    return check_integrity(l);
}

/* Per-connection settings: beside a running holder only what is per
 * connection (the holder set the journal mode); a writer its pragmas and the
 * migrations; a reader nothing. */
static int configure(struct ls_ledger *l, const struct ls_ledger_opts *opts, int64_t version)
{
    int err;

    if (l->shared) {
        err = exec(l, "PRAGMA synchronous = FULL", "setting synchronous");
        return err ? err : exec(l, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    }
    if (l->readonly)
        return LS_OK;
    err = set_pragmas(l, opts->wal);
    return err ? err : migrate(l, version);
}

int ls_ledger_open(const struct ls_ledger_opts *opts, struct ls_ledger **out)
{
    struct ls_ledger *l = NULL;
    int64_t version = 0;
    int flags = 0;
    int rc;
    int err = 0;

    *out = NULL;
    if (!opts || !opts->path || !*opts->path)
        return ls_error(LS_EINVAL, "ledger: no path given");
    l = ls_xcalloc(1, sizeof(*l));
    l->lock_fd = -1;
    l->readonly = opts->readonly;
    l->path = ls_xstrdup(opts->path);

    err = open_file(l, opts, &flags);
    if (err)
        goto done;
    rc = l->db ? SQLITE_OK : sqlite3_open_v2(l->path, &l->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = ledger_db_err(l, rc, "opening");
        goto done;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, LEDGER_BUSY_TIMEOUT_MS);
    err = check_schema(l, &version);
    if (!err && !l->readonly && !l->shared)
        err = check_on_open(l, version);
    if (!err)
        err = configure(l, opts, version);
    if (!err)
        err = prepare_file_statements(l);
    if (err)
        goto done;
    l->opened = 1;
    *out = l;
    l = NULL;
done:
    ls_ledger_close(l);
    return err;
}

int ls_ledger_checked_on_open(const struct ls_ledger *l)
{
    return l ? l->checked : 0;
}

void ls_ledger_close(struct ls_ledger *l)
{
    if (!l)
        return;
    ledger_leads_drop(l);
    free(l->puts.v);
    free(l->puts.slot);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(l->st[i]);
    if (l->db && !sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    if (sqlite3_close(l->db) == SQLITE_OK && l->opened && !l->suspect && l->lock_fd >= 0)
        write_record(l);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    free(l->path);
    free(l);
}

int ls_ledger_begin(struct ls_ledger *l)
{
    return ledger_run(l, ledger_st(l, ST_BEGIN), "starting a transaction");
}

int ls_ledger_commit(struct ls_ledger *l)
{
    int err = ledger_leads_flush(l);

    return err ? err : ledger_run(l, ledger_st(l, ST_COMMIT), "committing");
}

/* Leaves the last error message alone: callers roll back after an error. */
void ls_ledger_rollback(struct ls_ledger *l)
{
    if (l)
        ledger_leads_drop(l);
    if (l && !sqlite3_get_autocommit(l->db)) {
        sqlite3_step(ledger_st(l, ST_ROLLBACK));
        sqlite3_reset(ledger_st(l, ST_ROLLBACK));
    }
}

int ls_ledger_meta_get(struct ls_ledger *l, const char *key, char **value)
{
    sqlite3_stmt *st = ledger_st(l, ST_META_GET);
    int rc;
    int err;

    *value = NULL;
    err = ledger_bind_text(l, st, ":key", key);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = ledger_col_strdup(st, 0);
    else if (rc != SQLITE_DONE)
        err = ledger_db_err(l, rc, "reading meta");
done:
    ledger_reset(st);
    return err;
}

int ls_ledger_meta_set(struct ls_ledger *l, const char *key, const char *value)
{
    sqlite3_stmt *st = ledger_st(l, value ? ST_META_SET : ST_META_DEL);
    int err;

    err = ledger_bind_text(l, st, ":key", key);
    if (!err && value)
        err = ledger_bind_text(l, st, ":value", value);
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "writing meta");
}
