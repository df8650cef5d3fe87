/*
 * ls_lead.h - the lead model: a marketplace table entity -> a normalized lead
 * (worker/README.md, The lead model), and the lead's JSON bodies (worker/README.md, The contract).
 *
 * Why: every sink speaks in terms of one normalized lead. The normalization
 * is pure (no I/O, no clock), so it is tested on fixed entities, and it never
 * fails on bad data: a malformed CustomerInfo or LeadSource yields a lead with
 * what could be parsed and a `problems` bit set for the caller to log and count.
 */
#ifndef LS_LEAD_H
#define LS_LEAD_H

#include "azt.h"

#include <jansson.h>

/* Funnel stage ranks; a lead's stage never goes down. DNC outranks all and
 * is sticky. */
enum ls_stage {
    LS_STAGE_UNKNOWN = 0,
    LS_STAGE_INITIAL_INTEREST = 1, /* PLT ("Contact me") */
    LS_STAGE_TRIAL = 2,            /* StartTestDrive */
    LS_STAGE_ACTIVE = 3,           /* INS ("Get it now"), Create (portal) */
    LS_STAGE_DO_NOT_CONTACT = 4,   /* DNC */
};

/* "initial-interest", "trial", "active", "do-not-contact", "unknown" */
const char *ls_stage_name(enum ls_stage s);

enum ls_identity {
    LS_IDENTITY_CUSTOMER_OFFER = 0, /* lower(trim(email)) + offer id; row keys when no email */
    LS_IDENTITY_ROW,                /* PartitionKey + RowKey */
};

/* Problem bits: the row was usable but something in it was not. */
enum ls_lead_problem {
    LS_LEAD_CUSTOMERINFO_MISSING = 1 << 0,
    LS_LEAD_CUSTOMERINFO_MALFORMED = 1 << 1, /* not JSON, not an object, or a non-string field */
    LS_LEAD_LEADSOURCE_MALFORMED = 1 << 2,   /* no '|' or no '-' */
    LS_LEAD_ACTION_UNKNOWN = 1 << 3,
    LS_LEAD_KEYS_MISSING = 1 << 4, /* no PartitionKey or RowKey */
    LS_LEAD_NUL_IN_VALUE = 1 << 5, /* a NUL inside a string: a cut address; not to deliver */
};

struct ls_customer {
    char *first_name, *last_name, *email, *phone, *country, *company, *title;
};

/* A normalized lead. Every string is non-NULL (possibly ""). */
struct ls_lead {
    char *partition_key, *row_key, *timestamp;
    char *source;      /* "SPZA", "AzureMarketplace", "AzurePortal", "TestDrive", ... as written */
    char *action;      /* the row's ActionCode, else the action from LeadSource */
    char *offer_id;    /* "publisher.offer" from LeadSource */
    char *offer_title; /* OfferDisplayName */
    char *description;
    char *created_time;
    struct ls_customer customer;
    enum ls_stage stage;   /* of this row alone */
    int is_test;           /* a Microsoft validation lead (MSFT_TEST_ in its values) */
    char lead_id[17];      /* 16 hex chars */
    char content_hash[65]; /* SHA-256 hex of the entity's content, Timestamp/ETag excluded */
    unsigned problems;     /* enum ls_lead_problem bits */
    json_t *extra; /* object: every property the model does not name, typed values as text */
};

/* Builds a lead from an entity. Never fails on bad data; returns LS-style 0
 * on success, negative only on allocation failure. */
int ls_lead_from_entity(const struct azt_entity *e, enum ls_identity identity,
                        struct ls_lead **out);
void ls_lead_free(struct ls_lead *lead);

/*
 * The contract's "lead" object (worker/README.md, The contract): leadId, partitionKey,
 * rowKey, timestamp, source, action, offerId, offerTitle, stage, doNotContact,
 * isTest, customer{...}, description, createdTime, extra{...}. `stage` is the
 * effective (highest so far) stage and `dnc` the sticky flag. New reference.
 * The outbox stores this object; sinks build their bodies from it.
 */
/* The lead id a customer's email and an offer id get under the default
 * identity (customer-offer), as ls_lead_from_entity computes it; `forget`
 * uses it to find a person's leads. 0, or negative on allocation failure. */
int ls_lead_id_for(const char *email, const char *offer_id, char out[17]);

json_t *ls_lead_json(const struct ls_lead *lead, enum ls_stage stage, int dnc);

/* {"type":"lead.created"|"lead.updated","lead":<lead_obj>}. lead_obj is
 * borrowed (incref'd into the result). New reference. */
json_t *ls_lead_envelope(json_t *lead_obj, int created);

/* The same envelope as text, up to the lead: {"type":"lead.created","lead":
 * - a sink that holds the lead as compact JSON text appends it and "}". */
const char *ls_lead_envelope_prefix(int created);

/* The marketplace's own HTTPS-endpoint payload built from a lead object:
 * {"UserDetails":{FirstName,LastName,Email,Phone,Country,Company,Title},
 *  "LeadSource":"Source-Action|Offer","ActionCode":...,"OfferTitle":...,
 *  "Description":...}. New reference. */
json_t *ls_lead_marketplace_body(const json_t *lead_obj);

/* SHA-256 as the lead model uses it, fetched from OpenSSL once (see
 * ls_lead_hash.c); never NULL. For the other hashes of a sync. */
const struct evp_md_st *ls_lead_sha256(void);

#endif /* LS_LEAD_H */
