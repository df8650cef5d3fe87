/*
 * fuzz_ledger_lock.c - the ledger's lock file (its holder's pid and the
 * clean-close record that lets a writer skip the integrity check) through
 * ledger_lock_parse. Anything may have written that file.
 *
 * Checks beyond "no crash": a pid is 0 or positive; a valid record formats
 * with ledger_lock_format and parses back to the same pid and record, and
 * so does a record made from the input's bytes; an invalid one is all zero.
 */
#include "ls_ledger_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static int same(const struct file_record *a, const struct file_record *b)
{
    return a->valid == b->valid && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns && a->checked_at == b->checked_at;
}

static void round_trip(long pid, const struct file_record *r)
{
    char buf[256];
    struct file_record back;
    long pid2 = -1;
    int len = ledger_lock_format(pid, r, buf, sizeof(buf));

    check(len > 0);
    ledger_lock_parse(buf, (size_t)len, &pid2, &back);
    check(pid2 == pid && same(&back, r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct file_record zero = {0};
    struct file_record r, made;
    long pid = -1;

    ledger_lock_parse((const char *)data, size, &pid, &r);
    check(pid >= 0);
    check(r.valid ? 1 : same(&r, &zero));
    if (r.valid)
        round_trip(pid, &r);
    /* a record of arbitrary numbers survives the file */
    if (size >= sizeof(made.dev) * 2 + sizeof(long long) * 4 + sizeof(long)) {
        const uint8_t *p = data;
        long mpid;

        memset(&made, 0, sizeof(made));
        made.valid = 1;
        memcpy(&made.dev, p, sizeof(made.dev));
        memcpy(&made.ino, p += sizeof(made.dev), sizeof(made.ino));
        memcpy(&made.size, p += sizeof(made.ino), sizeof(made.size));
        memcpy(&made.mtime_s, p += sizeof(made.size), sizeof(made.mtime_s));
        memcpy(&made.mtime_ns, p += sizeof(made.mtime_s), sizeof(made.mtime_ns));
        memcpy(&made.checked_at, p += sizeof(made.mtime_ns), sizeof(made.checked_at));
        memcpy(&mpid, p + sizeof(made.checked_at), sizeof(mpid));
        if (mpid < 0)
            mpid = mpid == LONG_MIN ? 0 : -mpid;
        /* LLONG_MIN has no positive twin: the reader refuses it */
        if (made.size != LLONG_MIN && made.mtime_s != LLONG_MIN && made.mtime_ns != LLONG_MIN &&
            made.checked_at != LLONG_MIN)
            round_trip(mpid, &made);
    }
    return 0;
}
