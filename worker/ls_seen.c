/* ls_seen.c - a dry run's leads (see ls_seen.h): a hash table of lead ids. */
#include "ls_seen.h"

#include <stdlib.h>
#include <string.h>

struct seen_lead {
    char *lead_id; /* NULL: a free slot */
    int max_stage, dnc;
    struct ls_ledger_version newest;
};

struct ls_seen {
    struct seen_lead *slots;
    size_t cap, n; /* cap a power of two, at most 3/4 full */
};

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct seen_lead *slot_of(const struct ls_seen *s, const char *lead_id)
{
    size_t i = hash(lead_id) & (s->cap - 1);

    while (s->slots[i].lead_id && strcmp(s->slots[i].lead_id, lead_id) != 0)
        i = (i + 1) & (s->cap - 1);
    return &s->slots[i];
}

struct ls_seen *ls_seen_new(void)
{
    struct ls_seen *s = ls_xcalloc(1, sizeof(*s));

    s->cap = 256;
    s->slots = ls_xcalloc(s->cap, sizeof(*s->slots));
    return s;
}

void ls_seen_free(struct ls_seen *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->cap; i++) {
        free(s->slots[i].lead_id);
        ls_ledger_version_free(&s->slots[i].newest);
    }
    free(s->slots);
    free(s);
}

static void grow(struct ls_seen *s)
{
    struct seen_lead *old = s->slots;
    size_t oldcap = s->cap, i;

    s->cap *= 2;
    s->slots = ls_xcalloc(s->cap, sizeof(*s->slots));
    for (i = 0; i < oldcap; i++)
        if (old[i].lead_id)
            *slot_of(s, old[i].lead_id) = old[i];
    free(old);
}

int ls_seen_get(const struct ls_seen *s, const char *lead_id, int *max_stage, int *dnc,
                const struct ls_ledger_version **newest)
{
    const struct seen_lead *e = slot_of(s, lead_id);

    if (!e->lead_id)
        return 0;
    *max_stage = e->max_stage;
    *dnc = e->dnc;
    *newest = &e->newest;
    return 1;
}

static char *dup_or_null(const char *v)
{
    return v ? ls_xstrdup(v) : NULL;
}

void ls_seen_put(struct ls_seen *s, const char *lead_id, int max_stage, int dnc,
                 const struct ls_ledger_version *newest)
{
    struct seen_lead *e;

    if ((s->n + 1) * 4 > s->cap * 3)
        grow(s);
    e = slot_of(s, lead_id);
    if (!e->lead_id) {
        e->lead_id = ls_xstrdup(lead_id);
        s->n++;
    }
    e->max_stage = max_stage;
    e->dnc = dnc;
    if (!newest)
        return;
    ls_ledger_version_free(&e->newest);
    e->newest.timestamp = dup_or_null(newest->timestamp);
    e->newest.created_time = dup_or_null(newest->created_time);
    e->newest.partition_key = dup_or_null(newest->partition_key);
    e->newest.row_key = dup_or_null(newest->row_key);
}
