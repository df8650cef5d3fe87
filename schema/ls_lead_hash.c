/*
 * ls_lead_hash.c - the lead's two SHA-256 digests: the lead id (who the
 * customer is) and the content hash (what the row says).
 */
#include "ls_lead_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char hexd[] = "0123456789abcdef";

static const EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md)
        sha256_md = EVP_sha256(); /* looked up at each use, as before */
}

/* EVP_sha256() makes OpenSSL 3 look the algorithm up again at every
 * EVP_DigestInit_ex (about 3% of a sync's CPU): fetched once here and kept
 * for the life of the process. */
const EVP_MD *ls_lead_sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hexd[d[i] >> 4];
        out[2 * i + 1] = hexd[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int upd(EVP_MD_CTX *md, const void *p, size_t n)
{
    return n == 0 || EVP_DigestUpdate(md, p, n) == 1;
}

/* lead_id: "co\0" lower(trim(email)) "\0" offer, or "row\0" PK "\0" RK. */
int ls_lead__compute_lead_id(EVP_MD_CTX *md, struct ls_lead *lead, enum ls_identity identity)
{
    struct slice email = {lead->customer.email, strlen(lead->customer.email)};
    unsigned char d[EVP_MAX_MD_SIZE], chunk[256];
    unsigned int dn = 0;
    size_t i, k;
    int ok;

    email = ls_lead__trim(email);
    if (EVP_DigestInit_ex(md, ls_lead_sha256(), NULL) != 1)
        return LEAD_ENOMEM;
    if (identity == LS_IDENTITY_CUSTOMER_OFFER && email.n) {
        ok = upd(md, "co", 3);
        for (i = 0; ok && i < email.n; i += k) {
            for (k = 0; k < sizeof(chunk) && i + k < email.n; k++)
                chunk[k] = ls_lead__ascii_lower((unsigned char)email.p[i + k]);
            ok = upd(md, chunk, k);
        }
        ok = ok && upd(md, "", 1) && upd(md, lead->offer_id, strlen(lead->offer_id));
    } else {
        ok = upd(md, "row", 4) && upd(md, lead->partition_key, strlen(lead->partition_key) + 1) &&
             upd(md, lead->row_key, strlen(lead->row_key));
    }
    if (!ok || EVP_DigestFinal_ex(md, d, &dn) != 1 || dn < 8)
        return LEAD_ENOMEM;
    to_hex(d, 8, lead->lead_id);
    return 0;
}

int ls_lead_id_for(const char *email, const char *offer_id, char out[17])
{
    struct ls_lead lead = {0};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc;

    lead.customer.email = (char *)(uintptr_t)email;
    lead.offer_id = (char *)(uintptr_t)offer_id;
    lead.partition_key = lead.row_key = (char *)(uintptr_t) "";
    rc = md ? ls_lead__compute_lead_id(md, &lead, LS_IDENTITY_CUSTOMER_OFFER) : LEAD_ENOMEM;
    EVP_MD_CTX_free(md);
    if (rc == 0)
        memcpy(out, lead.lead_id, sizeof(lead.lead_id));
    return rc;
}

/* The content hash's input, built in one buffer and hashed in one update
 * (52 small updates per row cost more than the hashing itself). */
struct hash_input {
    unsigned char small[2048];
    unsigned char *p;
    size_t len, cap;
};

static int put_field(struct hash_input *h, const char *p, size_t n)
{
    size_t need = h->len + 8 + n;
    int i;

    if (need < n)
        return -1;
    if (need > h->cap) {
        size_t cap = h->cap * 2 > need ? h->cap * 2 : need;
        unsigned char *q = h->p == h->small ? malloc(cap) : realloc(h->p, cap);

        if (!q)
            return -1;
        if (h->p == h->small)
            memcpy(q, h->small, h->len);
        h->p = q;
        h->cap = cap;
    }
    for (i = 0; i < 8; i++)
        h->p[h->len++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    if (n)
        memcpy(h->p + h->len, p, n);
    h->len += n;
    return 0;
}

/* Sorts v[0..n) by name. An insertion sort: a row has a dozen properties
 * and they usually arrive in order, so this is about one comparison each
 * where qsort took three through a function pointer. Stable, as glibc's
 * qsort (a merge sort) is. */
static void sort_by_name(const struct azt_prop **v, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        const struct azt_prop *p = v[i];

        for (j = i; j > 0 && strcmp(v[j - 1]->name, p->name) > 0; j--)
            v[j] = v[j - 1];
        v[j] = p;
    }
}

static int excluded_from_hash(const char *name)
{
    return strcmp(name, "Timestamp") == 0 || strcmp(name, "odata.etag") == 0;
}

static const char *edm_name(enum azt_type t)
{
    switch (t) {
    case AZT_TYPE_INT32:
        return "Edm.Int32";
    case AZT_TYPE_INT64:
        return "Edm.Int64";
    case AZT_TYPE_DOUBLE:
        return "Edm.Double";
    case AZT_TYPE_BOOL:
        return "Edm.Boolean";
    case AZT_TYPE_DATETIME:
        return "Edm.DateTime";
    case AZT_TYPE_GUID:
        return "Edm.Guid";
    case AZT_TYPE_BINARY:
        return "Edm.Binary";
    case AZT_TYPE_STRING:
    default:
        return "Edm.String";
    }
}

/*
 * content_hash: SHA-256 over the sorted properties (PartitionKey and RowKey
 * included when present, Timestamp and ETag excluded), each as
 * len(name) name len(type) type len(text) text with 8-byte big-endian
 * lengths; the type is the EDM name so the hash does not depend on enum
 * values.
 */
int ls_lead__compute_content_hash(EVP_MD_CTX *md, const struct azt_entity *e, struct ls_lead *lead)
{
    const struct azt_prop *small[32];
    const struct azt_prop **v = small;
    struct hash_input h;
    struct azt_prop keys[2];
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    size_t n = 0, i;
    int ok = 1, rc = 0;

    memset(keys, 0, sizeof(keys));
    h.p = h.small;
    h.len = 0;
    h.cap = sizeof(h.small);
    if (e->nprops + 2 > ARRAY_LEN(small)) {
        v = malloc((e->nprops + 2) * sizeof(*v));
        if (!v)
            return LEAD_ENOMEM;
    }
    if (e->partition_key) {
        keys[0].name = "PartitionKey";
        keys[0].text = e->partition_key;
        keys[0].text_len = strlen(e->partition_key);
        v[n++] = &keys[0];
    }
    if (e->row_key) {
        keys[1].name = "RowKey";
        keys[1].text = e->row_key;
        keys[1].text_len = strlen(e->row_key);
        v[n++] = &keys[1];
    }
    for (i = 0; i < e->nprops; i++) {
        const struct azt_prop *p = &e->props[i];

        if (p->name && !excluded_from_hash(p->name))
            v[n++] = p;
    }
    sort_by_name(v, n);
    for (i = 0; ok && i < n; i++) {
        const char *type = edm_name(v[i]->type);
        struct slice t = ls_lead__prop_text(v[i]);

        ok = put_field(&h, v[i]->name, strlen(v[i]->name)) == 0 &&
             put_field(&h, type, strlen(type)) == 0 && put_field(&h, t.p, t.n) == 0;
    }
    if (!ok || EVP_DigestInit_ex(md, ls_lead_sha256(), NULL) != 1 || !upd(md, h.p, h.len) ||
        EVP_DigestFinal_ex(md, d, &dn) != 1 || dn != 32) {
        rc = LEAD_ENOMEM;
        goto done;
    }
    to_hex(d, 32, lead->content_hash);
done:
    if (h.p != h.small)
        free(h.p);
    if (v != small)
        free(v);
    return rc;
}
