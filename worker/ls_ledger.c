/* ls_ledger.c - the SQLite ledger (see ls_ledger.h). */
#include "ls_ledger.h"

#include "ls_embed.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000
#define MAX_ERROR_BYTES 300

/* Runtime statements, prepared once at open. */
enum stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_META_GET,
    ST_META_SET,
    ST_META_DEL,
    ST_ROW_GET,
    ST_ROW_PUT,
    ST_LEAD_GET,
    ST_LEAD_PUT,
    ST_ENQUEUE,
    ST_COALESCE,
    ST_PENDING,
    ST_MARK_DELIVERED,
    ST_SINK_LEAD_PUT,
    ST_SINK_LEAD_GET,
    ST_NEXT_DUE,
    ST_PENDING_COUNT,
    ST_MARK_RETRY,
    ST_MARK_DEAD,
    ST_DEAD_SUPERSEDE,
    ST_DEAD_REQUEUE,
    ST_SINK_STATS,
    ST_DEAD_LETTERS,
    ST_PURGE,
    ST_ROW_COUNT,
    ST_RUN_START,
    ST_RUN_FINISH,
    ST_LAST_RUN,
    ST_INLINE_ADD,
    ST_INLINE_STATS,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT ls_op",
    [ST_RELEASE] = "RELEASE ls_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO ls_op",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = :key",
    [ST_META_SET] = "INSERT INTO meta (key, value) VALUES (:key, :value)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ST_META_DEL] = "DELETE FROM meta WHERE key = :key",
    [ST_ROW_GET] = "SELECT content_hash FROM rows"
                   " WHERE partition_key = :partition_key AND row_key = :row_key",
    [ST_ROW_PUT] = "INSERT INTO rows (partition_key, row_key, content_hash, timestamp, lead_id,"
                   " first_seen, last_seen)"
                   " VALUES (:partition_key, :row_key, :content_hash, :timestamp, :lead_id,"
                   " :now, :now)"
                   " ON CONFLICT (partition_key, row_key) DO UPDATE SET"
                   " content_hash = excluded.content_hash, timestamp = excluded.timestamp,"
                   " lead_id = excluded.lead_id, last_seen = excluded.last_seen",
    [ST_LEAD_GET] = "SELECT max_stage, dnc FROM leads WHERE lead_id = :lead_id",
    [ST_LEAD_PUT] = "INSERT INTO leads (lead_id, max_stage, dnc, first_seen, updated_at)"
                    " VALUES (:lead_id, :max_stage, :dnc, :now, :now)"
                    " ON CONFLICT (lead_id) DO UPDATE SET"
                    " max_stage = max(max_stage, excluded.max_stage), dnc = excluded.dnc,"
                    " updated_at = excluded.updated_at",
    [ST_ENQUEUE] = "INSERT OR IGNORE INTO outbox (sink, lead_id, delivery_id, payload, state,"
                   " attempts, created_at, updated_at, next_attempt_at)"
                   " VALUES (:sink, :lead_id, :delivery_id, :payload, 'pending', 0, :now, :now,"
                   " :now)",
    [ST_COALESCE] = "UPDATE outbox SET state = 'superseded', updated_at = :now"
                    " WHERE sink = :sink AND lead_id = :lead_id AND state = 'pending'"
                    " AND id < :id",
    /* The oldest pending of each lead, only when it is due: a lead whose
     * oldest pending waits for a retry holds back its newer states. */
    [ST_PENDING] = "SELECT o.id, o.sink, o.lead_id, o.delivery_id, o.payload, o.attempts,"
                   " o.created_at, o.next_attempt_at"
                   " FROM outbox AS o"
                   " WHERE o.sink = :sink AND o.state = 'pending' AND o.next_attempt_at <= :now"
                   " AND NOT EXISTS (SELECT 1 FROM outbox AS p"
                   " WHERE p.sink = o.sink AND p.lead_id = o.lead_id AND p.state = 'pending'"
                   " AND p.id < o.id)"
                   " ORDER BY o.next_attempt_at, o.id LIMIT :limit",
    [ST_MARK_DELIVERED] = "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
                          " last_status = :status, last_error = NULL, updated_at = :now"
                          " WHERE id = :id RETURNING sink, lead_id, delivery_id",
    [ST_SINK_LEAD_PUT] = "INSERT INTO sink_leads (sink, lead_id, first_delivered_at,"
                         " last_delivery_id) VALUES (:sink, :lead_id, :now, :delivery_id)"
                         " ON CONFLICT (sink, lead_id) DO UPDATE SET"
                         " last_delivery_id = excluded.last_delivery_id",
    [ST_SINK_LEAD_GET] = "SELECT 1 FROM sink_leads WHERE sink = :sink AND lead_id = :lead_id",
    [ST_NEXT_DUE] = "SELECT o.next_attempt_at FROM outbox AS o"
                    " WHERE o.sink = :sink AND o.state = 'pending'"
                    " AND NOT EXISTS (SELECT 1 FROM outbox AS p"
                    " WHERE p.sink = o.sink AND p.lead_id = o.lead_id AND p.state = 'pending'"
                    " AND p.id < o.id)"
                    " ORDER BY o.next_attempt_at, o.id LIMIT 1",
    /* Only the partial index of pending deliveries: without INDEXED BY the
     * planner walks every delivery of the sink in outbox_lead. */
    [ST_PENDING_COUNT] = "SELECT count(*) FROM outbox INDEXED BY outbox_pending"
                         " WHERE sink = :sink AND state = 'pending'",
    [ST_MARK_RETRY] = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = :next,"
                      " last_status = :status, last_error = :error, updated_at = :now"
                      " WHERE id = :id",
    /* Only a pending delivery becomes a dead letter; a superseded one stays
     * superseded (a newer state of the lead is queued). */
    [ST_MARK_DEAD] = "UPDATE outbox SET"
                     " state = CASE state WHEN 'pending' THEN 'dead' ELSE state END,"
                     " attempts = attempts + 1, last_status = :status, last_error = :error,"
                     " updated_at = :now WHERE id = :id",
    /* A dead letter older than a delivered state of the same lead would
     * overwrite the newer state: it is superseded instead of re-queued. */
    [ST_DEAD_SUPERSEDE] = "UPDATE outbox SET state = 'superseded', updated_at = :now"
                          " WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)"
                          " AND EXISTS (SELECT 1 FROM outbox AS n"
                          " WHERE n.sink = outbox.sink AND n.lead_id = outbox.lead_id"
                          " AND n.state = 'delivered' AND n.id > outbox.id)",
    [ST_DEAD_REQUEUE] = "UPDATE outbox SET state = 'pending', attempts = 0,"
                        " next_attempt_at = :now, updated_at = :now"
                        " WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)",
    /* Counts over the covering index outbox_lead, not the table: the
     * table's pages hold the payloads and are ~20 times as many to read. */
    [ST_SINK_STATS] = "SELECT o.sink,"
                      " sum(o.state = 'pending'), sum(o.state = 'delivered'),"
                      " sum(o.state = 'dead'), sum(o.state = 'superseded'),"
                      " (SELECT min(p.created_at) FROM outbox AS p INDEXED BY outbox_pending"
                      " WHERE p.sink = o.sink AND p.state = 'pending')"
                      " FROM outbox AS o INDEXED BY outbox_lead GROUP BY o.sink ORDER BY o.sink",
    [ST_DEAD_LETTERS] = "SELECT id, sink, lead_id, delivery_id, attempts, last_status,"
                        " last_error, updated_at FROM outbox"
                        " WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)"
                        " ORDER BY id LIMIT :limit",
    [ST_PURGE] = "UPDATE outbox SET payload = NULL"
                 " WHERE state IN ('delivered', 'superseded') AND updated_at < :before"
                 " AND payload IS NOT NULL",
    [ST_ROW_COUNT] = "SELECT (SELECT count(*) FROM rows), (SELECT count(*) FROM leads)",
    [ST_RUN_START] = "INSERT INTO runs (mode, started_at) VALUES (:mode, :now)",
    [ST_RUN_FINISH] = "UPDATE runs SET finished_at = :now, exit_code = :exit_code,"
                      " summary = :summary WHERE id = :id",
    [ST_LAST_RUN] = "SELECT started_at, finished_at, exit_code, summary FROM runs"
                    " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
    /* Inline sinks' delivered counts: meta keys "inline_delivered:<sink>". */
    [ST_INLINE_ADD] = "INSERT INTO meta (key, value) VALUES ('inline_delivered:' || :sink, :n)"
                      " ON CONFLICT (key) DO UPDATE SET"
                      " value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
    [ST_INLINE_STATS] = "SELECT substr(key, 18), CAST(value AS INTEGER) FROM meta"
                        " WHERE key >= 'inline_delivered:' AND key < 'inline_delivered;'"
                        " ORDER BY key",
};

/* The ledger file as leadsync left it at its last clean close, and when it
 * was last checked in full (see "The integrity check" below). */
struct file_record {
    int valid;
    unsigned long long dev, ino;
    long long size, mtime_s, mtime_ns, checked_at;
};

struct ls_ledger {
    sqlite3 *db;
    char *path;
    int lock_fd;
    int readonly;
    int opened;              /* the open completed: a clean close may be recorded */
    int suspect;             /* SQLite reported damage or an I/O error: record nothing */
    int checked;             /* the integrity check ran on this open */
    long long checked_at;    /* when the last full check ran (epoch seconds) */
    struct file_record prev; /* what the lock file said when we took it */
    sqlite3_stmt *st[ST_COUNT];
};

/* Sets the last error for a failed SQLite call made while doing `what`. */
static int db_err(struct ls_ledger *l, int rc, const char *what)
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

static void reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int param(struct ls_ledger *l, sqlite3_stmt *st, const char *name)
{
    int i = sqlite3_bind_parameter_index(st, name);

    if (i == 0)
        ls_error(LS_ERROR, "ledger %s: internal: no parameter %s in \"%s\"", l->path, name,
                 sqlite3_sql(st));
    return i;
}

static int bind_text(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v)
{
    int i = param(l, st, name);
    int rc;

    if (i == 0)
        return LS_ERROR;
    rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? 0 : db_err(l, rc, "binding a parameter");
}

static int bind_textn(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v,
                      size_t n)
{
    int i = param(l, st, name);
    int rc;

    if (i == 0)
        return LS_ERROR;
    rc = sqlite3_bind_text64(st, i, v, n, SQLITE_TRANSIENT, SQLITE_UTF8);
    return rc == SQLITE_OK ? 0 : db_err(l, rc, "binding a parameter");
}

static int bind_i64(struct ls_ledger *l, sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = param(l, st, name);
    int rc;

    if (i == 0)
        return LS_ERROR;
    rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? 0 : db_err(l, rc, "binding a parameter");
}

/* Binds an error message, cut to MAX_ERROR_BYTES on a UTF-8 boundary. */
static int bind_error(struct ls_ledger *l, sqlite3_stmt *st, const char *error)
{
    size_t n;

    if (!error)
        return bind_text(l, st, ":error", NULL);
    n = strnlen(error, MAX_ERROR_BYTES + 1);
    if (n > MAX_ERROR_BYTES) {
        n = MAX_ERROR_BYTES;
        while (n > 0 && ((unsigned char)error[n] & 0xc0) == 0x80)
            n--;
    }
    return bind_textn(l, st, ":error", error, n);
}

/* Steps a statement that returns no rows to completion and resets it. */
static int run(struct ls_ledger *l, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int err = 0;

    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = db_err(l, rc, what);
    reset(st);
    return err;
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? ls_xstrdup((const char *)s) : NULL;
}

static int exec(struct ls_ledger *l, const char *s, const char *what)
{
    int rc = sqlite3_exec(l->db, s, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : db_err(l, rc, what);
}

/* Single-row integer pragma such as user_version. */
static int pragma_int(struct ls_ledger *l, const char *s, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;
    int err = 0;

    rc = sqlite3_prepare_v2(l->db, s, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        err = db_err(l, rc, "reading the schema version");
        goto done;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = db_err(l, rc, "reading the schema version");
        goto done;
    }
    *out = sqlite3_column_int64(st, 0);
done:
    sqlite3_finalize(st);
    return err;
}

/* Strips group and other permissions from an open file. */
static int fix_mode(int fd, const char *path)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0)
        return ls_error(LS_EIO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ls_error(LS_EIO, "%s is not a regular file", path);
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
            err = ls_error(LS_EIO, "cannot open %s: %s", p, strerror(errno));
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

static void read_record(int fd, struct file_record *r)
{
    char buf[256];
    const char *line;
    ssize_t n;

    memset(r, 0, sizeof(*r));
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    line = strchr(buf, '\n');
    if (line && sscanf(line + 1, "clean %llu %llu %lld %lld %lld %lld", &r->dev, &r->ino, &r->size,
                       &r->mtime_s, &r->mtime_ns, &r->checked_at) == 6)
        r->valid = 1;
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
    len = snprintf(buf, sizeof(buf), "%ld\nclean %llu %llu %lld %lld %lld %lld\n", (long)getpid(),
                   r.dev, r.ino, r.size, r.mtime_s, r.mtime_ns, l->checked_at);
    if (len > 0 && (size_t)len < sizeof(buf) && pwrite(l->lock_fd, buf, (size_t)len, 0) == len)
        (void)!ftruncate(l->lock_fd, len);
}

/* Takes the exclusive writer lock on <path>.lock and writes our pid into it. */
static int take_lock(struct ls_ledger *l)
{
    char *lock_path = ls_xasprintf("%s.lock", l->path);
    char buf[32];
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
        n = pread(l->lock_fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            pid = strtol(buf, NULL, 10);
        }
        if (pid > 0)
            err = ls_error(LS_ELOCKED, "ledger %s is in use by another leadsync process (pid %ld)",
                           l->path, pid);
        else
            err = ls_error(LS_ELOCKED, "ledger %s is in use by another leadsync process", l->path);
        goto done;
    }
    read_record(l->lock_fd, &l->prev);
    len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(l->lock_fd, 0) != 0 || pwrite(l->lock_fd, buf, (size_t)len, 0) != len) {
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

    fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ls_error(LS_EIO, "cannot open ledger %s: %s", l->path, strerror(errno));
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
    if (l->readonly) {
        if (version == 0)
            return ls_error(LS_EDB, "ledger %s is empty: run leadsync sync first", l->path);
        if (version < known)
            return ls_error(LS_EDB,
                            "ledger schema %" PRId64 " of %s is older than this leadsync (%d); "
                            "run leadsync sync once to upgrade it",
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
        err = db_err(l, rc, "checking its integrity");
        goto done;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = db_err(l, rc, "checking its integrity");
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
        err = db_err(l, rc, "setting the journal mode");
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
done:
    sqlite3_finalize(st);
    return err;
}

int ls_ledger_open(const struct ls_ledger_opts *opts, struct ls_ledger **out)
{
    struct ls_ledger *l = NULL;
    struct stat sb;
    int64_t version = 0;
    int flags;
    int rc;
    int err = 0;

    *out = NULL;
    if (!opts || !opts->path || !*opts->path)
        return ls_error(LS_EINVAL, "ledger: no path given");
    l = ls_xcalloc(1, sizeof(*l));
    l->lock_fd = -1;
    l->readonly = opts->readonly;
    l->path = ls_xstrdup(opts->path);

    if (l->readonly) {
        if (stat(l->path, &sb) != 0) {
            err = ls_error(errno == ENOENT ? LS_EDB : LS_EIO, "cannot open ledger %s: %s", l->path,
                           strerror(errno));
            goto done;
        }
        flags = SQLITE_OPEN_READONLY;
    } else {
        err = take_lock(l);
        if (!err)
            err = prepare_file(l);
        if (err)
            goto done;
        flags = SQLITE_OPEN_READWRITE;
    }
    rc = sqlite3_open_v2(l->path, &l->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = db_err(l, rc, "opening");
        goto done;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, BUSY_TIMEOUT_MS);
    err = check_schema(l, &version);
    if (!err && !l->readonly) {
        long long now_s = (long long)(ls_now_ms() / 1000);

        l->checked_at = now_s; /* a new ledger: nothing to check yet */
        if (version > 0 && unchanged_since_clean_close(l, now_s)) {
            l->checked_at = l->prev.checked_at;
        } else if (version > 0) {
            err = check_integrity(l);
            l->checked = 1;
        }
    }
    if (err)
        goto done;
    if (!l->readonly) {
        err = set_pragmas(l, opts->wal);
        if (!err)
            err = migrate(l, version);
        if (err)
            goto done;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(l->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->st[i], NULL);
        if (rc != SQLITE_OK) {
            err = db_err(l, rc, "preparing statements");
            goto done;
        }
    }
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
    return run(l, l->st[ST_BEGIN], "starting a transaction");
}

int ls_ledger_commit(struct ls_ledger *l)
{
    return run(l, l->st[ST_COMMIT], "committing");
}

/* Leaves the last error message alone: callers roll back after an error. */
void ls_ledger_rollback(struct ls_ledger *l)
{
    if (l && !sqlite3_get_autocommit(l->db)) {
        sqlite3_step(l->st[ST_ROLLBACK]);
        sqlite3_reset(l->st[ST_ROLLBACK]);
    }
}

/* A savepoint makes a multi-statement operation atomic inside or outside a
 * caller's transaction. */
static int op_begin(struct ls_ledger *l)
{
    return run(l, l->st[ST_SAVEPOINT], "starting a savepoint");
}

/* On error, undoes the operation without replacing the error message (after
 * an I/O error or a full disk SQLite may already have rolled back the whole
 * transaction, savepoint included). */
static int op_end(struct ls_ledger *l, int err)
{
    if (err) {
        if (!sqlite3_get_autocommit(l->db)) {
            sqlite3_step(l->st[ST_ROLLBACK_TO]);
            sqlite3_reset(l->st[ST_ROLLBACK_TO]);
            sqlite3_step(l->st[ST_RELEASE]);
            sqlite3_reset(l->st[ST_RELEASE]);
        }
        return err;
    }
    return run(l, l->st[ST_RELEASE], "releasing a savepoint");
}

int ls_ledger_meta_get(struct ls_ledger *l, const char *key, char **value)
{
    sqlite3_stmt *st = l->st[ST_META_GET];
    int rc;
    int err;

    *value = NULL;
    err = bind_text(l, st, ":key", key);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = col_strdup(st, 0);
    else if (rc != SQLITE_DONE)
        err = db_err(l, rc, "reading meta");
done:
    reset(st);
    return err;
}

int ls_ledger_meta_set(struct ls_ledger *l, const char *key, const char *value)
{
    sqlite3_stmt *st = l->st[value ? ST_META_SET : ST_META_DEL];
    int err;

    err = bind_text(l, st, ":key", key);
    if (!err && value)
        err = bind_text(l, st, ":value", value);
    if (err) {
        reset(st);
        return err;
    }
    return run(l, st, "writing meta");
}

int ls_ledger_row_get(struct ls_ledger *l, const char *pk, const char *rk, char hash[65],
                      int *found)
{
    sqlite3_stmt *st = l->st[ST_ROW_GET];
    const unsigned char *h;
    int rc;
    int err;

    *found = 0;
    hash[0] = '\0';
    err = bind_text(l, st, ":partition_key", pk);
    if (!err)
        err = bind_text(l, st, ":row_key", rk);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        h = sqlite3_column_text(st, 0);
        snprintf(hash, 65, "%s", h ? (const char *)h : "");
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "reading a row");
    }
done:
    reset(st);
    return err;
}

int ls_ledger_row_put(struct ls_ledger *l, const char *pk, const char *rk, const char *hash,
                      const char *timestamp, const char *lead_id, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_ROW_PUT];
    int err;

    err = bind_text(l, st, ":partition_key", pk);
    if (!err)
        err = bind_text(l, st, ":row_key", rk);
    if (!err)
        err = bind_text(l, st, ":content_hash", hash);
    if (!err)
        err = bind_text(l, st, ":timestamp", timestamp);
    if (!err)
        err = bind_text(l, st, ":lead_id", lead_id);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        return err;
    }
    return run(l, st, "recording a row");
}

int ls_ledger_lead_get(struct ls_ledger *l, const char *lead_id, int *max_stage, int *dnc,
                       int *found)
{
    sqlite3_stmt *st = l->st[ST_LEAD_GET];
    int rc;
    int err;

    *found = 0;
    *max_stage = 0;
    *dnc = 0;
    err = bind_text(l, st, ":lead_id", lead_id);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *max_stage = sqlite3_column_int(st, 0);
        *dnc = sqlite3_column_int(st, 1);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "reading a lead");
    }
done:
    reset(st);
    return err;
}

int ls_ledger_lead_put(struct ls_ledger *l, const char *lead_id, int max_stage, int dnc,
                       int64_t now)
{
    sqlite3_stmt *st = l->st[ST_LEAD_PUT];
    int err;

    err = bind_text(l, st, ":lead_id", lead_id);
    if (!err)
        err = bind_i64(l, st, ":max_stage", max_stage);
    if (!err)
        err = bind_i64(l, st, ":dnc", dnc ? 1 : 0);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        return err;
    }
    return run(l, st, "recording a lead");
}

int ls_ledger_enqueue(struct ls_ledger *l, const char *sink, const char *lead_id,
                      const char *delivery_id, const char *payload, int coalesce, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_ENQUEUE];
    sqlite3_stmt *co = l->st[ST_COALESCE];
    int64_t id;
    int err;

    if (!sink || !lead_id || !delivery_id || !payload)
        return ls_error(LS_EINVAL, "ledger: enqueue needs a sink, lead, delivery id and payload");
    err = op_begin(l);
    if (err)
        return err;
    err = bind_text(l, st, ":sink", sink);
    if (!err)
        err = bind_text(l, st, ":lead_id", lead_id);
    if (!err)
        err = bind_text(l, st, ":delivery_id", delivery_id);
    if (!err)
        err = bind_text(l, st, ":payload", payload);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        goto done;
    }
    err = run(l, st, "enqueueing a delivery");
    /* changes() == 0: this (sink, delivery_id) is already known, in any state. */
    if (err || !coalesce || sqlite3_changes(l->db) == 0)
        goto done;
    id = sqlite3_last_insert_rowid(l->db);
    err = bind_text(l, co, ":sink", sink);
    if (!err)
        err = bind_text(l, co, ":lead_id", lead_id);
    if (!err)
        err = bind_i64(l, co, ":id", id);
    if (!err)
        err = bind_i64(l, co, ":now", now);
    if (err) {
        reset(co);
        goto done;
    }
    err = run(l, co, "coalescing deliveries");
done:
    return op_end(l, err);
}

void ls_deliveries_free(struct ls_delivery *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].sink);
        free(d[i].lead_id);
        free(d[i].delivery_id);
        free(d[i].payload);
    }
    free(d);
}

/* LIMIT value for a caller's limit: 0 means no limit. */
static int64_t sql_limit(size_t limit)
{
    return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

int ls_ledger_pending(struct ls_ledger *l, const char *sink, int64_t now, size_t limit,
                      struct ls_delivery **out, size_t *n)
{
    sqlite3_stmt *st = l->st[ST_PENDING];
    struct ls_delivery *d = NULL;
    struct ls_delivery *e;
    size_t cnt = 0;
    size_t cap = 0;
    int rc;
    int err;

    *out = NULL;
    *n = 0;
    err = bind_text(l, st, ":sink", sink);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (!err)
        err = bind_i64(l, st, ":limit", sql_limit(limit));
    if (err)
        goto done;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            d = ls_xrealloc(d, cap * sizeof(*d));
        }
        e = &d[cnt++];
        e->id = sqlite3_column_int64(st, 0);
        e->sink = col_strdup(st, 1);
        e->lead_id = col_strdup(st, 2);
        e->delivery_id = col_strdup(st, 3);
        e->payload = col_strdup(st, 4);
        e->attempts = sqlite3_column_int(st, 5);
        e->created_at = sqlite3_column_int64(st, 6);
        e->next_attempt_at = sqlite3_column_int64(st, 7);
    }
    if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "listing pending deliveries");
        goto done;
    }
    *out = d;
    *n = cnt;
    d = NULL;
    cnt = 0;
done:
    reset(st);
    ls_deliveries_free(d, cnt);
    return err;
}

static int no_delivery(struct ls_ledger *l, int64_t id)
{
    return ls_error(LS_EINVAL, "ledger %s: no delivery with id %" PRId64, l->path, id);
}

int ls_ledger_mark_delivered(struct ls_ledger *l, int64_t id, int status, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_MARK_DELIVERED];
    sqlite3_stmt *sl = l->st[ST_SINK_LEAD_PUT];
    char *sink = NULL;
    char *lead_id = NULL;
    char *delivery_id = NULL;
    int found = 0;
    int rc;
    int err;

    err = op_begin(l);
    if (err)
        return err;
    err = bind_i64(l, st, ":id", id);
    if (!err)
        err = bind_i64(l, st, ":status", status);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sink = col_strdup(st, 0);
        lead_id = col_strdup(st, 1);
        delivery_id = col_strdup(st, 2);
        found = 1;
    }
    reset(st);
    if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "marking a delivery delivered");
        goto done;
    }
    if (!found) {
        err = no_delivery(l, id);
        goto done;
    }
    err = bind_text(l, sl, ":sink", sink);
    if (!err)
        err = bind_text(l, sl, ":lead_id", lead_id);
    if (!err)
        err = bind_text(l, sl, ":delivery_id", delivery_id);
    if (!err)
        err = bind_i64(l, sl, ":now", now);
    if (err) {
        reset(sl);
        goto done;
    }
    err = run(l, sl, "recording a delivered lead");
done:
    free(sink);
    free(lead_id);
    free(delivery_id);
    return op_end(l, err);
}

static int mark_failed(struct ls_ledger *l, enum stmt which, int64_t id, const int64_t *next,
                       int status, const char *error, int64_t now, const char *what)
{
    sqlite3_stmt *st = l->st[which];
    int err;

    err = bind_i64(l, st, ":id", id);
    if (!err && next)
        err = bind_i64(l, st, ":next", *next);
    if (!err)
        err = bind_i64(l, st, ":status", status);
    if (!err)
        err = bind_error(l, st, error);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        return err;
    }
    err = run(l, st, what);
    if (!err && sqlite3_changes(l->db) == 0)
        err = no_delivery(l, id);
    return err;
}

int ls_ledger_mark_retry(struct ls_ledger *l, int64_t id, int64_t next_attempt_at, int status,
                         const char *error, int64_t now)
{
    return mark_failed(l, ST_MARK_RETRY, id, &next_attempt_at, status, error, now,
                       "scheduling a retry");
}

int ls_ledger_mark_dead(struct ls_ledger *l, int64_t id, int status, const char *error, int64_t now)
{
    return mark_failed(l, ST_MARK_DEAD, id, NULL, status, error, now, "parking a dead letter");
}

int ls_ledger_sink_lead_delivered(struct ls_ledger *l, const char *sink, const char *lead_id,
                                  int *delivered)
{
    sqlite3_stmt *st = l->st[ST_SINK_LEAD_GET];
    int rc;
    int err;

    *delivered = 0;
    err = bind_text(l, st, ":sink", sink);
    if (!err)
        err = bind_text(l, st, ":lead_id", lead_id);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *delivered = 1;
    else if (rc != SQLITE_DONE)
        err = db_err(l, rc, "reading delivered leads");
done:
    reset(st);
    return err;
}

int ls_ledger_pending_count(struct ls_ledger *l, const char *sink, int64_t *n)
{
    sqlite3_stmt *st = l->st[ST_PENDING_COUNT];
    int rc;
    int err;

    *n = 0;
    err = bind_text(l, st, ":sink", sink);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        err = db_err(l, rc, "counting pending deliveries");
done:
    reset(st);
    return err;
}

int ls_ledger_next_due(struct ls_ledger *l, const char *sink, int64_t *at, int *found)
{
    sqlite3_stmt *st = l->st[ST_NEXT_DUE];
    int rc;
    int err;

    *at = 0;
    *found = 0;
    err = bind_text(l, st, ":sink", sink);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *at = sqlite3_column_int64(st, 0);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "finding the next due delivery");
    }
done:
    reset(st);
    return err;
}

int ls_ledger_retry_dead(struct ls_ledger *l, const char *sink, int64_t now, size_t *n)
{
    sqlite3_stmt *sup = l->st[ST_DEAD_SUPERSEDE];
    sqlite3_stmt *req = l->st[ST_DEAD_REQUEUE];
    int err;

    *n = 0;
    err = op_begin(l);
    if (err)
        return err;
    err = bind_text(l, sup, ":sink", sink);
    if (!err)
        err = bind_i64(l, sup, ":now", now);
    if (err) {
        reset(sup);
        goto done;
    }
    err = run(l, sup, "superseding stale dead letters");
    if (err)
        goto done;
    err = bind_text(l, req, ":sink", sink);
    if (!err)
        err = bind_i64(l, req, ":now", now);
    if (err) {
        reset(req);
        goto done;
    }
    err = run(l, req, "re-queueing dead letters");
    if (!err)
        *n = (size_t)sqlite3_changes(l->db);
done:
    err = op_end(l, err);
    if (err)
        *n = 0;
    return err;
}

int ls_ledger_inline_delivered(struct ls_ledger *l, const char *sink, int64_t n)
{
    sqlite3_stmt *st = l->st[ST_INLINE_ADD];
    int err;

    if (n == 0)
        return LS_OK;
    err = bind_text(l, st, ":sink", sink);
    if (!err)
        err = bind_i64(l, st, ":n", n);
    if (err) {
        reset(st);
        return err;
    }
    return run(l, st, "counting inline deliveries");
}

/* Adds the inline sinks' counters to *s (cnt entries of cap), new entries
 * for sinks the outbox never saw. */
static int merge_inline_stats(struct ls_ledger *l, struct ls_sink_stats **s, size_t *cnt,
                              size_t *cap)
{
    sqlite3_stmt *st = l->st[ST_INLINE_STATS];
    struct ls_sink_stats *e;
    const unsigned char *name;
    size_t i;
    int rc;
    int err = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        name = sqlite3_column_text(st, 0);
        if (!name)
            continue;
        e = NULL;
        for (i = 0; i < *cnt; i++) {
            if (strcmp((*s)[i].sink, (const char *)name) == 0) {
                e = &(*s)[i];
                break;
            }
        }
        if (!e) {
            if (*cnt == *cap) {
                *cap = *cap ? *cap * 2 : 8;
                *s = ls_xrealloc(*s, *cap * sizeof(**s));
            }
            e = &(*s)[(*cnt)++];
            memset(e, 0, sizeof(*e));
            snprintf(e->sink, sizeof(e->sink), "%s", (const char *)name);
        }
        e->delivered += sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        err = db_err(l, rc, "reading inline delivery counts");
    reset(st);
    return err;
}

int ls_ledger_sink_stats(struct ls_ledger *l, struct ls_sink_stats **out, size_t *n)
{
    sqlite3_stmt *st = l->st[ST_SINK_STATS];
    struct ls_sink_stats *s = NULL;
    struct ls_sink_stats *e;
    const unsigned char *name;
    size_t cnt = 0;
    size_t cap = 0;
    int rc;
    int err = 0;

    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            s = ls_xrealloc(s, cap * sizeof(*s));
        }
        e = &s[cnt++];
        memset(e, 0, sizeof(*e));
        name = sqlite3_column_text(st, 0);
        snprintf(e->sink, sizeof(e->sink), "%s", name ? (const char *)name : "");
        e->pending = sqlite3_column_int64(st, 1);
        e->delivered = sqlite3_column_int64(st, 2);
        e->dead = sqlite3_column_int64(st, 3);
        e->superseded = sqlite3_column_int64(st, 4);
        e->oldest_pending_at = sqlite3_column_int64(st, 5); /* NULL reads as 0 */
    }
    if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "counting deliveries");
        goto done;
    }
    err = merge_inline_stats(l, &s, &cnt, &cap);
    if (err)
        goto done;
    *out = s;
    *n = cnt;
    s = NULL;
done:
    reset(st);
    free(s);
    return err;
}

void ls_dead_letters_free(struct ls_dead_letter *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].sink);
        free(d[i].lead_id);
        free(d[i].delivery_id);
        free(d[i].last_error);
    }
    free(d);
}

int ls_ledger_dead_letters(struct ls_ledger *l, const char *sink, size_t limit,
                           struct ls_dead_letter **out, size_t *n)
{
    sqlite3_stmt *st = l->st[ST_DEAD_LETTERS];
    struct ls_dead_letter *d = NULL;
    struct ls_dead_letter *e;
    size_t cnt = 0;
    size_t cap = 0;
    int rc;
    int err;

    *out = NULL;
    *n = 0;
    err = bind_text(l, st, ":sink", sink);
    if (!err)
        err = bind_i64(l, st, ":limit", sql_limit(limit));
    if (err)
        goto done;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            d = ls_xrealloc(d, cap * sizeof(*d));
        }
        e = &d[cnt++];
        e->id = sqlite3_column_int64(st, 0);
        e->sink = col_strdup(st, 1);
        e->lead_id = col_strdup(st, 2);
        e->delivery_id = col_strdup(st, 3);
        e->attempts = sqlite3_column_int(st, 4);
        e->last_status = sqlite3_column_int(st, 5);
        e->last_error = col_strdup(st, 6);
        e->updated_at = sqlite3_column_int64(st, 7);
    }
    if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "listing dead letters");
        goto done;
    }
    *out = d;
    *n = cnt;
    d = NULL;
    cnt = 0;
done:
    reset(st);
    ls_dead_letters_free(d, cnt);
    return err;
}

int ls_ledger_purge(struct ls_ledger *l, int64_t before, size_t *n)
{
    sqlite3_stmt *st = l->st[ST_PURGE];
    int err;

    *n = 0;
    err = bind_i64(l, st, ":before", before);
    if (err) {
        reset(st);
        return err;
    }
    err = run(l, st, "purging payloads");
    if (!err)
        *n = (size_t)sqlite3_changes(l->db);
    return err;
}

int ls_ledger_row_count(struct ls_ledger *l, int64_t *rows, int64_t *leads)
{
    sqlite3_stmt *st = l->st[ST_ROW_COUNT];
    int rc;
    int err = 0;

    *rows = 0;
    *leads = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *rows = sqlite3_column_int64(st, 0);
        *leads = sqlite3_column_int64(st, 1);
    } else {
        err = db_err(l, rc, "counting rows");
    }
    reset(st);
    return err;
}

int ls_ledger_run_start(struct ls_ledger *l, const char *mode, int64_t now, int64_t *run_id)
{
    sqlite3_stmt *st = l->st[ST_RUN_START];
    int err;

    *run_id = 0;
    err = bind_text(l, st, ":mode", mode ? mode : "");
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        return err;
    }
    err = run(l, st, "recording a run");
    if (!err)
        *run_id = sqlite3_last_insert_rowid(l->db);
    return err;
}

int ls_ledger_run_finish(struct ls_ledger *l, int64_t run_id, int exit_code,
                         const char *summary_json, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_RUN_FINISH];
    int err;

    err = bind_i64(l, st, ":id", run_id);
    if (!err)
        err = bind_i64(l, st, ":exit_code", exit_code);
    if (!err)
        err = bind_text(l, st, ":summary", summary_json);
    if (!err)
        err = bind_i64(l, st, ":now", now);
    if (err) {
        reset(st);
        return err;
    }
    err = run(l, st, "finishing a run");
    if (!err && sqlite3_changes(l->db) == 0)
        err = ls_error(LS_EINVAL, "ledger %s: no run with id %" PRId64, l->path, run_id);
    return err;
}

int ls_ledger_last_run(struct ls_ledger *l, int64_t *started_at, int64_t *finished_at,
                       int *exit_code, char **summary_json)
{
    sqlite3_stmt *st = l->st[ST_LAST_RUN];
    int rc;
    int err = 0;

    *started_at = 0;
    *finished_at = 0;
    *exit_code = 0;
    *summary_json = NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *started_at = sqlite3_column_int64(st, 0);
        *finished_at = sqlite3_column_int64(st, 1);
        *exit_code = sqlite3_column_int(st, 2);
        *summary_json = col_strdup(st, 3);
    } else if (rc != SQLITE_DONE) {
        err = db_err(l, rc, "reading the last run");
    }
    reset(st);
    return err;
}
