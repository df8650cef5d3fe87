/*
 * sink_jsonl.c - the JSONL file sink (worker/README.md, The contract): one
 * JSON object per line, the webhook body plus "deliveryId", appended and
 * fsynced once per delivered batch. The file is created 0600 (personal data).
 *
 * Crash safety: a crash can leave a half-written last line. On open, an
 * incomplete tail (bytes after the last '\n') is cut off; the deliveries it
 * held are still pending in the ledger and are written again whole, with the
 * same deliveryId.
 *
 * Beside `leadsync forget`: forget rewrites the file (a new one renamed over
 * it) holding an exclusive flock on it. Each batch takes that lock on the
 * file the path names at that moment, reopening the path when it no longer
 * names the file this sink holds, so no line goes to a replaced, unlinked
 * file and none is written while forget reads.
 */
#include "ls_lead.h"
#include "ls_log.h"
#include "ls_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct jsonl {
    char *path;
    int fd;
    dev_t dev; /* the file fd holds, noted when it is opened */
    ino_t ino;
};

/* Cuts the file back to just after its last newline. */
static int cut_partial_tail(int fd, const char *path)
{
    struct stat st;
    off_t end, pos;
    char buf[4096];

    if (fstat(fd, &st) != 0)
        return ls_error(LS_EIO, "jsonl %s: fstat: %s", path, strerror(errno));
    end = st.st_size;
    pos = end;
    while (pos > 0) {
        size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        ssize_t got = pread(fd, buf, chunk, pos - (off_t)chunk);
        ssize_t i;

        if (got != (ssize_t)chunk)
            return ls_error(LS_EIO, "jsonl %s: read: %s", path, strerror(errno));
        for (i = got - 1; i >= 0; i--) {
            if (buf[i] == '\n') {
                off_t keep = pos - (off_t)chunk + i + 1;

                if (keep == end)
                    return LS_OK;
                LS_WARN("sink:jsonl", "cut an incomplete last line (%lld bytes) from %s",
                        (long long)(end - keep), path);
                if (ftruncate(fd, keep) != 0 || fsync(fd) != 0)
                    return ls_error(LS_EIO, "jsonl %s: truncate: %s", path, strerror(errno));
                return LS_OK;
            }
        }
        pos -= (off_t)chunk;
    }
    if (end > 0) {
        LS_WARN("sink:jsonl", "cut an incomplete only line (%lld bytes) from %s", (long long)end,
                path);
        if (ftruncate(fd, 0) != 0 || fsync(fd) != 0)
            return ls_error(LS_EIO, "jsonl %s: truncate: %s", path, strerror(errno));
    }
    return LS_OK;
}

/* A regular file owned by us, mode 0600 (a file made 0644 earlier is fixed);
 * its identity is noted beside the descriptor. */
static int own_private_file(struct jsonl *j)
{
    struct stat st;

    if (fstat(j->fd, &st) != 0)
        return ls_error(LS_EIO, "jsonl sink: cannot stat %s: %s", j->path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ls_error(LS_ECONFIG, "jsonl sink: %s is not a regular file", j->path);
    if (st.st_uid != geteuid())
        return ls_error(LS_ECONFIG, "jsonl sink: %s belongs to another user (uid %ld)", j->path,
                        (long)st.st_uid);
    if ((st.st_mode & 0777) != 0600 && fchmod(j->fd, 0600) != 0)
        return ls_error(LS_EIO, "jsonl sink: cannot make %s private: %s", j->path, strerror(errno));
    j->dev = st.st_dev;
    j->ino = st.st_ino;
    return LS_OK;
}

/* The directory path is in: "." when it names none. */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* A file that does not exist yet: its directory must take it. */
static int dir_writable(const char *path)
{
    char dir[4096];

    dir_of(path, dir, sizeof(dir));
    if (access(dir, W_OK | X_OK) != 0)
        return ls_error(
            errno == EACCES || errno == ENOENT || errno == ENOTDIR ? LS_ECONFIG : LS_EIO,
            "jsonl sink: cannot create %s: %s (directory %s)", path, strerror(errno), dir);
    return LS_OK;
}

/* The new file's directory entry, made durable with its first lines. */
static void fsync_dir(const char *path)
{
    char dir[4096];
    int fd;

    dir_of(path, dir, sizeof(dir));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Opens the file; with create=0 a missing file is not an error (*fd -1).
 * Leads are personal data: never through a symlink to somewhere else, only
 * into a regular file of our own, readable by us alone. */
static int open_file(struct jsonl *j, int create)
{
    int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
    int rc;

    j->fd = open(j->path, flags, 0600);
    if (j->fd < 0 && errno == ENOENT && !create)
        return LS_OK;
    if (j->fd < 0)
        return ls_error(errno == EACCES || errno == ENOENT || errno == EISDIR || errno == ELOOP
                            ? LS_ECONFIG
                            : LS_EIO,
                        "jsonl sink: cannot open %s: %s%s", j->path, strerror(errno),
                        errno == ELOOP ? " (a symlink is refused)" : "");
    if (create)
        fsync_dir(j->path);
    rc = own_private_file(j);
    if (rc) {
        close(j->fd);
        j->fd = -1;
    }
    return rc;
}

/* The file is opened here when it exists (its incomplete tail cut off) and
 * created on the first delivery: `check`, or a run with nothing to write,
 * leaves no empty file behind. A directory that cannot take it fails now. */
static int jsonl_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct jsonl *j = NULL;
    int rc = LS_OK;

    (void)cfg;
    if (!arg || !*arg)
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: jsonl needs a path (jsonl:PATH)");
    j = ls_xcalloc(1, sizeof(*j));
    j->path = ls_xstrdup(arg);
    rc = open_file(j, 0);
    if (rc == LS_OK && j->fd < 0)
        rc = dir_writable(j->path);
    if (rc == LS_OK && j->fd >= 0)
        rc = cut_partial_tail(j->fd, j->path);
    if (rc)
        goto done;
    *ctx = j;
    j = NULL;
done:
    if (j) {
        if (j->fd >= 0)
            close(j->fd);
        free(j->path);
        free(j);
    }
    return rc;
}

/* 1 when the path still names the file j holds (not replaced, not removed). */
static int names_held(const struct jsonl *j)
{
    struct stat now;

    return lstat(j->path, &now) == 0 && now.st_dev == j->dev && now.st_ino == j->ino;
}

/* Opens (creating) the file when needed and takes its lock; a file replaced
 * meanwhile (forget) is dropped for the one the path names now, with any
 * incomplete tail cut off. */
static int lock_current(struct jsonl *j)
{
    int tries, rc;

    for (tries = 0; tries < 16; tries++) {
        int reopened = j->fd < 0;

        if (j->fd < 0 && (rc = open_file(j, 1)) != LS_OK)
            return rc;
        while (flock(j->fd, LOCK_EX) != 0)
            if (errno != EINTR)
                return ls_error(LS_EIO, "jsonl %s: lock: %s", j->path, strerror(errno));
        if (names_held(j))
            return reopened ? cut_partial_tail(j->fd, j->path) : LS_OK;
        LS_INFO("sink:jsonl", "%s was replaced (forget): appending to the new file", j->path);
        close(j->fd); /* releases the lock */
        j->fd = -1;
    }
    return ls_error(LS_EIO, "jsonl %s: the file keeps being replaced", j->path);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void buf_add(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = ls_xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* A delivery id as a JSON string: "msg_" + hex needs no escaping; anything
 * else goes through jansson. NULL when it cannot be encoded. */
static char *json_quoted(const char *s)
{
    size_t n = strlen(s), i;
    char *q;
    json_t *v;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-'))
            break;
    }
    if (i < n) {
        v = json_string(s);
        q = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        return q;
    }
    q = ls_xmalloc(n + 3);
    q[0] = '"';
    memcpy(q + 1, s, n);
    q[n + 1] = '"';
    q[n + 2] = '\0';
    return q;
}

/*
 * The line is the contract's body plus deliveryId, built around the stored
 * payload text (wants_text: the engine does not parse it). It is the same
 * bytes as json_dumps(JSON_COMPACT) of that body: the payload is itself a
 * compact jansson dump, which a load and a dump give back unchanged.
 */
static int jsonl_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                         struct ls_sink_result *results)
{
    static const char did[] = ",\"deliveryId\":";
    struct jsonl *j = ctx;
    const char *prefix;
    char *buf = NULL;
    size_t len = 0, cap = 0, i;
    int err = 0;

    for (i = 0; i < n; i++) {
        char *id = items[i].payload ? json_quoted(items[i].delivery_id) : NULL;

        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        if (!id) {
            results[i].outcome = LS_SINK_REJECT;
            snprintf(results[i].error, sizeof(results[i].error), "lead is not serializable");
            continue;
        }
        prefix = ls_lead_envelope_prefix(items[i].created);
        buf_add(&buf, &len, &cap, prefix, strlen(prefix));
        buf_add(&buf, &len, &cap, items[i].payload, strlen(items[i].payload));
        buf_add(&buf, &len, &cap, did, sizeof(did) - 1);
        buf_add(&buf, &len, &cap, id, strlen(id));
        buf_add(&buf, &len, &cap, "}\n", 2);
        free(id);
        results[i].outcome = LS_SINK_OK;
    }
    if (len && (err = lock_current(j)) != LS_OK) {
        free(buf);
        for (i = 0; i < n; i++) {
            if (results[i].outcome != LS_SINK_OK)
                continue;
            /* a directory gone or not ours stops the sink (78); else retry */
            results[i].outcome = err == LS_ECONFIG ? LS_SINK_FATAL : LS_SINK_RETRY;
            snprintf(results[i].error, sizeof(results[i].error), "%s", ls_error_last());
        }
        return LS_OK;
    }
    if (len && ls_crashpoint_due("sink-partial")) {
        /* the crash tests: die in the middle of a line */
        (void)write_all(j->fd, buf, len / 2 + 1);
        (void)fsync(j->fd);
        ls_crashpoint("sink-partial-now");
        kill(getpid(), SIGKILL);
    }
    if (len && (write_all(j->fd, buf, len) != 0 || fsync(j->fd) != 0))
        err = errno;
    else if (len)
        ls_crashpoint("sink-written");
    free(buf);
    if (err) {
        for (i = 0; i < n; i++) {
            if (results[i].outcome != LS_SINK_OK)
                continue;
            results[i].outcome = LS_SINK_RETRY;
            snprintf(results[i].error, sizeof(results[i].error), "write %s: %s", j->path,
                     strerror(err));
        }
        /* Leave no half batch behind: the retried lines are written whole. */
        (void)cut_partial_tail(j->fd, j->path);
    }
    if (len)
        (void)flock(j->fd, LOCK_UN);
    return LS_OK;
}

static int jsonl_check(void *ctx, char *msg, size_t msglen)
{
    struct jsonl *j = ctx;

    if (j->fd < 0) {
        snprintf(msg, msglen, "%s will be created on the first delivery", j->path);
        return LS_OK;
    }
    if (access(j->path, W_OK) != 0) {
        snprintf(msg, msglen, "%s is not writable: %s", j->path, strerror(errno));
        return LS_EIO;
    }
    snprintf(msg, msglen, "appending to %s", j->path);
    return LS_OK;
}

static void jsonl_destroy(void *ctx)
{
    struct jsonl *j = ctx;

    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

const struct ls_sink_ops ls_sink_jsonl_ops = {
    .name = "jsonl",
    .coalesce = 0, /* an audit file: every row version is written */
    .wants_text = 1,
    .deliver_inline = 1, /* write + fsync before the page commits (ls_sink.h) */
    .create = jsonl_create,
    .deliver = jsonl_deliver,
    .check = jsonl_check,
    .destroy = jsonl_destroy,
};
