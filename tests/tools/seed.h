/*
 * seed.h - what leadsync-seed's commands share: the marketplace row, its
 * deterministic generator and its entity JSON (seed.c), and the loopback
 * table service over the generated rows (seed_serve.c).
 */
#ifndef LS_SEED_H
#define LS_SEED_H

#include <jansson.h>
#include <stdint.h>

struct customer {
    const char *first;
    const char *last;
    const char *email;
    const char *phone;
    const char *country;
    const char *company;
    const char *title;
};

/*
 * One marketplace row. LeadSource is "source-action|offer" unless
 * lead_source is set. CustomerInfo is the JSON text of cust unless
 * customer_raw is set (then written verbatim, e.g. malformed). extras adds
 * properties the lead model does not name, some of them typed.
 */
struct lead_row {
    const char *tag; /* demo rows: a stable name the RowKey derives from */
    const char *pk;
    const char *rk; /* NULL: derived from tag */
    const char *source;
    const char *action;
    const char *offer;
    const char *offer_title;
    struct customer cust;
    const char *description;
    const char *created;
    const char *customer_raw;
    const char *lead_source;
    int extras;
};

struct seed_opts {
    const char *command;
    const char *conn_string;
    const char *table;
    long n;
    long partitions;
    uint64_t seed;
    long start;
    long customers; /* 0: one customer per row */
    long revision;
    long jobs;
    const char *filter;
    long port; /* serve: 0 picks a free one */
    long age;  /* serve: seconds between the newest row's Timestamp and the start */
};

enum gen_kind { GEN_BULK = 0, GEN_TIES = 1 };

/* A generated row and the text its pointers refer to. */
struct gen_row {
    struct lead_row row;
    char pk[32];
    char rk[37];
    char email[128];
    char phone[32];
    char created[40];
    char description[200];
};

/* Row i of a synthetic load. The customer (names, company, offer) derives
 * from (seed, customer index), the row (keys, action, time) from (seed, i);
 * row i goes to partition i % partitions. */
void seed_gen_row(enum gen_kind kind, uint64_t seed, long i, long partitions, long customers,
                  long revision, struct gen_row *g);

/* Row i's RowKey alone (what seed_gen_row puts in g->rk), cheaply. */
void seed_row_key(enum gen_kind kind, uint64_t seed, long i, char out[37]);

/* The entity's properties as a JSON object, PartitionKey and RowKey first,
 * as the seeder writes them; NULL (after saying why) when it cannot be built. */
json_t *seed_row_object(const struct lead_row *r, const char *rk);

/* serve: answers table queries over bulk rows K..K+N-1 until SIGINT/SIGTERM. */
int seed_serve(const struct seed_opts *o);

#endif /* LS_SEED_H */
