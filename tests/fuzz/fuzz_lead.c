/*
 * fuzz_lead.c - the lead model on hostile row values. The input is split on
 * 0xFF bytes (never valid UTF-8) into CustomerInfo, LeadSource, ActionCode
 * and Description; the rest of the row is fixed. Every piece is handed over
 * as received, invalid UTF-8 and embedded NULs included.
 *
 * Checks beyond "no crash, no leak": the lead builds, every string is set,
 * lead_id is 16 hex digits, and all three JSON bodies build and serialize.
 */
#include "ls_lead.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NPARTS 4

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_lead(const struct ls_lead *lead)
{
    const char *s[] = {lead->partition_key,
                       lead->row_key,
                       lead->timestamp,
                       lead->source,
                       lead->action,
                       lead->offer_id,
                       lead->offer_title,
                       lead->description,
                       lead->created_time,
                       lead->customer.first_name,
                       lead->customer.last_name,
                       lead->customer.email,
                       lead->customer.phone,
                       lead->customer.country,
                       lead->customer.company,
                       lead->customer.title};
    size_t i;

    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        check(s[i] != NULL);
    check(strlen(lead->lead_id) == 16 && strspn(lead->lead_id, "0123456789abcdef") == 16);
    check(strlen(lead->content_hash) == 64);
    check(json_is_object(lead->extra));
}

static void run(const struct azt_entity *e, enum ls_identity identity)
{
    struct ls_lead *lead = NULL;
    json_t *obj = NULL, *env = NULL, *mkt = NULL;
    char *text = NULL;

    check(ls_lead_from_entity(e, identity, &lead) == 0);
    check_lead(lead);
    obj = ls_lead_json(lead, lead->stage, lead->stage == LS_STAGE_DO_NOT_CONTACT);
    check(obj != NULL);
    env = ls_lead_envelope(obj, 1);
    mkt = ls_lead_marketplace_body(obj);
    check(env != NULL && mkt != NULL);
    text = json_dumps(env, JSON_COMPACT);
    check(text != NULL);
    free(text);
    text = json_dumps(mkt, JSON_COMPACT);
    check(text != NULL);
    free(text);
    json_decref(mkt);
    json_decref(env);
    json_decref(obj);
    ls_lead_free(lead);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[NPARTS] = {"CustomerInfo", "LeadSource", "ActionCode",
                                              "Description"};
    struct azt_prop props[NPARTS + 2];
    struct azt_entity e;
    const char *p = (const char *)data;
    const char *end = p + size, *sep;
    char *copy[NPARTS] = {NULL};
    size_t n, i, np = 0;

    memset(&e, 0, sizeof(e));
    memset(props, 0, sizeof(props));
    for (i = 0; i < NPARTS && p <= end; i++) {
        sep = i + 1 < NPARTS ? memchr(p, 0xFF, (size_t)(end - p)) : NULL;
        n = sep ? (size_t)(sep - p) : (size_t)(end - p);
        /* a private NUL-terminated copy, so overreads are caught */
        copy[i] = malloc(n + 1);
        check(copy[i] != NULL);
        if (n)
            memcpy(copy[i], p, n);
        copy[i][n] = '\0';
        props[np].name = names[i];
        props[np].type = AZT_TYPE_STRING;
        props[np].text = copy[i];
        props[np].text_len = n;
        np++;
        if (!sep)
            break;
        p = sep + 1;
    }
    /* the ActionCode text again as a typed extra property */
    if (np > 2) {
        props[np].name = "Extra\xff";
        props[np].type = AZT_TYPE_INT64;
        props[np].text = props[2].text;
        props[np].text_len = props[2].text_len;
        np++;
    }
    props[np].name = "OfferDisplayName";
    props[np].type = AZT_TYPE_STRING;
    props[np].text = "Contoso CRM Connector";
    props[np].text_len = strlen(props[np].text);
    np++;

    e.partition_key = size % 3 ? "11:2F24:2F2026" : NULL;
    e.row_key = "6a1f0c2e";
    e.timestamp = "2026-11-24T02:03:34.5663250Z";
    e.props = props;
    e.nprops = np;
    run(&e, LS_IDENTITY_CUSTOMER_OFFER);
    run(&e, LS_IDENTITY_ROW);
    for (i = 0; i < NPARTS; i++)
        free(copy[i]);
    return 0;
}
