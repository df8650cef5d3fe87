/*
 * ls_forget.c - `leadsync forget --email ADDRESS [--dry-run]`, a data
 * subject's erasure request.
 *
 * The person's leads are the lead ids (1) of the stored leads that carry
 * the address (lead bodies, dead letters' included), (2) the address gives
 * with each offer the ledger knows (the default identity), and (3) of the
 * lines of the configured JSONL files that carry it. The ledger then forgets
 * their personal data (ls_ledger_forget_lead) and each JSONL file is rewritten
 * without those lines: a new file beside it, fsynced, renamed over it. It
 * works beside a running daemon: the ledger is opened beside the lock's
 * holder, and each file is read and replaced under an exclusive flock on it,
 * the lock the JSONL sink takes for each batch (it then appends to the new
 * file). The ledger's write transaction is taken before the files' locks, as
 * a run does; the files are rewritten before the ledger commits, and a crash
 * in between leaves a rerun to finish the job. What leadsync cannot erase
 * (the records in CRMs and receivers, the marketplace's own table rows) is
 * listed.
 */
#include "ls_cmd.h"
#include "ls_ledger.h"
#include "ls_lead.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct ids {
    char **v;
    size_t n, cap;
};

static void ids_add(struct ids *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], id) == 0)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = ls_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = ls_xstrdup(id);
}

/* Trimmed of ASCII whitespace and lower-cased (ASCII), as lead ids use it. */
static char *normalize_email(const char *s)
{
    size_t n;
    char *out;

    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    out = ls_xstrndup(s, n);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

/* The lead id of a JSONL line when it carries the email; NULL otherwise. */
static char *line_match(const char *line, size_t len, const char *email)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    json_t *lead = json_object_get(o, "lead");
    const char *e = json_string_value(json_object_get(json_object_get(lead, "customer"), "email"));
    const char *id = json_string_value(json_object_get(lead, "leadId"));
    char *norm = e ? normalize_email(e) : NULL;
    char *out = NULL;

    if (norm && strcmp(norm, email) == 0)
        out = ls_xstrdup(id ? id : "");
    free(norm);
    json_decref(o);
    return out;
}

/* Syncs the directory holding path, so a rename in it is durable. */
static int sync_dir(const char *path)
{
    char *copy = ls_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;

    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

/* Copies path without the person's lines into tmp (when tmp is not NULL). */
static int filter_file(FILE *in, FILE *out, const char *email, struct ids *ids, long *removed)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;

    while ((len = getline(&line, &cap, in)) > 0) {
        char *id = line_match(line, (size_t)len, email);

        if (id) {
            if (*id)
                ids_add(ids, id);
            (*removed)++;
            free(id);
        } else if (out && fwrite(line, 1, (size_t)len, out) != (size_t)len) {
            rc = -1;
            break;
        }
    }
    free(line);
    return rc || ferror(in) ? -1 : 0;
}

/* Opens path to read under an exclusive flock, the JSONL sink's per-batch
 * lock: nothing is appended until it is closed. A file replaced while we
 * waited is dropped for the one the path names now. NULL with errno set. */
static FILE *open_locked(const char *path)
{
    for (int tries = 0; tries < 16; tries++) {
        FILE *f = fopen(path, "re");
        struct stat held, now;
        int err;

        if (!f)
            return NULL;
        while ((err = flock(fileno(f), LOCK_EX)) != 0 && errno == EINTR)
            ;
        if (err) {
            err = errno;
            fclose(f);
            errno = err;
            return NULL;
        }
        if (fstat(fileno(f), &held) == 0 && lstat(path, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino)
            return f;
        fclose(f); /* replaced meanwhile: take the new one */
    }
    errno = EAGAIN;
    return NULL;
}

/* Creates a temporary file beside path, unique (two forgets at once each
 * have their own; a leftover is never reused), mode 0600 until it takes the
 * original's. *tmp is its name, NULL when none was created. */
static FILE *open_temp(const char *path, int in_fd, char **tmp)
{
    char *name = ls_xasprintf("%s.forget.XXXXXX", path);
    int fd = mkstemp(name), err;
    struct stat sb;
    FILE *out = NULL;

    *tmp = NULL;
    if (fd < 0) {
        err = errno;
        free(name);
        errno = err;
        return NULL;
    }
    *tmp = name;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fstat(in_fd, &sb) == 0 &&
        fchmod(fd, sb.st_mode & 07777) == 0)
        out = fdopen(fd, "w");
    if (!out) {
        err = errno;
        close(fd);
        errno = err;
    }
    return out;
}

/* Rewrites one JSONL file without the person's lines; *removed = how many.
 * The lock is held until the new file has replaced it. */
static int rewrite_jsonl(const char *path, const char *email, int dry_run, struct ids *ids,
                         long *removed)
{
    FILE *in = open_locked(path), *out = NULL;
    char *tmp = NULL;
    int rc = 0;

    *removed = 0;
    if (!in) {
        if (errno != ENOENT)
            rc = ls_error(LS_EIO, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if (!dry_run && !(out = open_temp(path, fileno(in), &tmp))) {
        rc = ls_error(LS_EIO, "cannot write a new file beside %s: %s", path, strerror(errno));
        goto done;
    }
    if (filter_file(in, out, email, ids, removed))
        rc = ls_error(LS_EIO, "cannot rewrite %s: %s", path, strerror(errno));
    if (!rc && out && (fflush(out) != 0 || fsync(fileno(out)) != 0))
        rc = ls_error(LS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (out && fclose(out) != 0 && !rc)
        rc = ls_error(LS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    out = NULL;
    if (!rc && tmp && *removed > 0) {
        int renamed = rename(tmp, path) == 0;

        if (renamed) {
            free(tmp);
            tmp = NULL; /* it is the file now: nothing to remove */
        }
        if (!renamed || sync_dir(path) != 0)
            rc = ls_error(LS_EIO, "cannot replace %s: %s", path, strerror(errno));
    }
done:
    if (out)
        fclose(out);
    if (tmp)
        unlink(tmp); /* not renamed: an error, or nothing to remove */
    if (in)
        fclose(in); /* the lock goes after the temporary file */
    free(tmp);
    return rc;
}

/* The JSONL files of LEADSYNC_SINKS ("jsonl:PATH", "NAME=jsonl:PATH"). */
static void jsonl_paths(const char *sinks, struct ids *paths)
{
    char *copy = ls_xstrdup(sinks ? sinks : ""), *save = NULL;

    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        char *eq, *colon;

        while (*e == ' ')
            e++;
        eq = strchr(e, '=');
        colon = strchr(e, ':');
        if (eq && (!colon || eq < colon))
            e = eq + 1;
        if (strncmp(e, "jsonl:", 6) == 0 && e[6])
            ids_add(paths, e + 6);
    }
    free(copy);
}

/* The person's lead ids from the ledger: stored leads, then email + offer. */
static int ledger_ids(struct ls_ledger *l, const char *email, struct ids *ids)
{
    char **v = NULL, **offers = NULL;
    size_t n = 0, noffers = 0;
    char id[17];
    int rc, max_stage, dnc, found;

    rc = ls_ledger_leads_by_email(l, email, &v, &n);
    for (size_t i = 0; !rc && i < n; i++)
        ids_add(ids, v[i]);
    if (!rc)
        rc = ls_ledger_offers(l, &offers, &noffers);
    for (size_t i = 0; !rc && i < noffers; i++) {
        if (ls_lead_id_for(email, offers[i], id) != 0) {
            rc = ls_error(LS_ENOMEM, "cannot compute a lead id");
            break;
        }
        rc = ls_ledger_lead_get(l, id, &max_stage, &dnc, NULL, &found);
        if (!rc && found)
            ids_add(ids, id);
    }
    ls_ledger_strings_free(v, n);
    ls_ledger_strings_free(offers, noffers);
    return rc;
}

/* What leadsync cannot erase: copies in receivers and the table's rows. */
static int print_left(struct ls_ledger *l, const struct ls_config *cfg, const struct ids *ids)
{
    char **v = NULL;
    size_t n = 0;
    int rc = 0, header = 0;

    for (size_t i = 0; !rc && i < ids->n; i++) {
        for (int pass = 0; !rc && pass < 2; pass++) {
            rc = pass ? ls_ledger_lead_rows(l, ids->v[i], &v, &n)
                      : ls_ledger_lead_sinks(l, ids->v[i], &v, &n);
            for (size_t k = 0; !rc && k < n; k++) {
                if (!header++)
                    printf("cannot erase (delete these where they are kept):\n");
                if (pass)
                    printf("  table %s: the row %s (the marketplace's own copy: delete it "
                           "in Azure)\n",
                           cfg->table, v[k]);
                else
                    printf("  sink %s: the record keyed by lead id %s\n", v[k], ids->v[i]);
            }
            ls_ledger_strings_free(v, n);
            v = NULL;
            n = 0;
        }
    }
    if (!rc && !header)
        printf("nothing delivered to a CRM or receiver, no table row known\n");
    return rc;
}

static void print_counts(const struct ls_forget_counts *c, int dry_run)
{
    const char *verb = dry_run ? "would erase" : "erased";

    printf("%s: %lld stored lead bodies, %lld error excerpts, %lld countries of rows; %s %lld "
           "pending deliveries or dead letters\n",
           verb, (long long)c->payloads, (long long)c->errors, (long long)c->countries,
           dry_run ? "would cancel" : "cancelled", (long long)c->cancelled);
}

/* Finds every lead of the person: the ledger's, then the JSONL files' (a dry pass). */
static int find_leads(struct ls_ledger *l, const char *email, const struct ids *paths,
                      struct ids *ids, long *lines)
{
    long n;
    int rc = ledger_ids(l, email, ids);

    *lines = 0;
    for (size_t i = 0; !rc && i < paths->n; i++) {
        rc = rewrite_jsonl(paths->v[i], email, 1, ids, &n);
        *lines += n;
    }
    return rc;
}

static int erase(struct ls_ledger *l, const char *email, const struct ids *paths,
                 const struct ids *ids, int dry_run)
{
    struct ls_forget_counts c = {0};
    struct ids scratch = {0};
    long n;
    int rc;

    rc = ls_ledger_forget_begin(l);
    for (size_t i = 0; !rc && i < ids->n; i++)
        rc = ls_ledger_forget_lead(l, ids->v[i], dry_run, &c);
    for (size_t i = 0; !rc && i < paths->n; i++) {
        rc = rewrite_jsonl(paths->v[i], email, dry_run, &scratch, &n);
        if (!rc && n)
            printf("%s %ld line%s of %s\n", dry_run ? "would remove" : "removed", n,
                   n == 1 ? "" : "s", paths->v[i]);
    }
    if (rc || dry_run)
        ls_ledger_rollback(l);
    else
        rc = ls_ledger_forget_commit(l);
    if (!rc || rc == LS_EUNAVAIL) /* committed; only the WAL waits for a rerun */
        print_counts(&c, dry_run);
    for (size_t i = 0; i < scratch.n; i++)
        free(scratch.v[i]);
    free(scratch.v);
    return rc;
}

static void ids_free(struct ids *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

int ls_cmd_forget(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    const char *address = a->email ? a->email : "";
    int dry_run = a->dry_run;
    struct ls_ledger_opts lo = {0};
    struct ls_ledger *l = NULL;
    struct ids ids = {0}, paths = {0};
    char *email = normalize_email(address);
    long lines = 0;
    int rc;

    *exit_code = LS_EXIT_OK;
    if (!*email || !strchr(email, '@')) {
        rc = ls_error(LS_EUSAGE, "forget: '%s' is not an email address", address);
        goto done;
    }
    lo.path = cfg->state;
    lo.wal = strcmp(cfg->journal_mode, "wal") == 0;
    lo.share = 1; /* beside a running daemon (the JSONL files have their own lock) */
    rc = ls_ledger_open(&lo, &l);
    if (rc)
        goto done;
    jsonl_paths(cfg->sinks, &paths);
    rc = find_leads(l, email, &paths, &ids, &lines);
    if (rc)
        goto done;
    printf("%s: %zu lead%s in the ledger or the JSONL files (%ld JSONL line%s)%s\n", email, ids.n,
           ids.n == 1 ? "" : "s", lines, lines == 1 ? "" : "s",
           dry_run ? "; dry run, nothing changed" : "");
    rc = print_left(l, cfg, &ids);
    if (!rc)
        rc = erase(l, email, &paths, &ids, dry_run);
done:
    ls_ledger_close(l);
    ids_free(&ids);
    ids_free(&paths);
    free(email);
    return rc;
}
