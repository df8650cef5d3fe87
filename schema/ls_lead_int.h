/*
 * ls_lead_int.h - private to the lead model (ls_lead.c, ls_lead_customer.c,
 * ls_lead_hash.c): the few helpers its files share. The public interface is
 * ls_lead.h.
 */
#ifndef LS_LEAD_INT_H
#define LS_LEAD_INT_H

#include "ls_lead.h"

#include <stddef.h>

#include <openssl/evp.h>

/* Same values as the worker's LS_ENOMEM / LS_EINVAL (schema/ does not link
 * the worker). */
#define LEAD_ENOMEM (-2)
#define LEAD_EINVAL (-3)

/* A byte range of a larger string, not NUL-terminated. */
struct slice {
    const char *p;
    size_t n;
};

/* The customer fields, in the order of struct ls_customer. */
enum { CI_FIRST, CI_LAST, CI_EMAIL, CI_PHONE, CI_COUNTRY, CI_COMPANY, CI_TITLE, CI_N };

/* A lead and the block its strings live in: one allocation holds a row's
 * usual strings, a longer value gets a chunk of its own. All of it goes with
 * ls_lead_free. */
#define LEAD_STRINGS 1024

struct lead_chunk {
    struct lead_chunk *next;
    char data[];
};

struct lead_impl {
    struct ls_lead lead;
    struct lead_chunk *more; /* chunks beyond `strings` */
    size_t used;             /* bytes of `strings` taken */
    char strings[LEAD_STRINGS];
};

/* ls_lead.c: text helpers. */
int ls_lead__is_ws(unsigned char c);
struct slice ls_lead__trim(struct slice s);

static inline unsigned char ls_lead__ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

int ls_lead__slice_ieq(struct slice s, const char *word);
char *ls_lead__dup_utf8(const char *p, size_t n, size_t *out_n);
/* The same copy kept with the lead (freed by ls_lead_free); NULL on
 * allocation failure. */
char *ls_lead__strdup(struct ls_lead *lead, const char *p, size_t n);
struct slice ls_lead__prop_text(const struct azt_prop *p);

/* ls_lead_customer.c: CustomerInfo. */
char **ls_lead__ci_field(struct ls_customer *c, int i);
int ls_lead__parse_customer(const struct azt_prop *ci, struct ls_lead *lead);

/* ls_lead_hash.c: the lead id and the content hash. */
int ls_lead__compute_lead_id(EVP_MD_CTX *md, struct ls_lead *lead, enum ls_identity identity);
int ls_lead__compute_content_hash(EVP_MD_CTX *md, const struct azt_entity *e, struct ls_lead *lead);

#endif
