/*
 * ls_mapping.h - field mappings: how a lead object (the contract's "lead",
 * schema/ls_lead.h ls_lead_json) becomes a CRM record (a flat JSON object of
 * the CRM's field names). Shared by every CRM sink.
 *
 * Each CRM has a default mapping embedded at build time
 * (schema/mapping/<crm>.json). A user file (e.g.
 * LEADSYNC_SALESFORCE_MAPPING=/path.json) extends it: its entries replace the
 * default's entry of the same name, null removes one. Both are validated when
 * the sink starts; errors name the file, the key and the problem.
 *
 * Format (a JSON object; unknown keys are errors):
 *
 *   {
 *     "object": "Lead",                     optional: the CRM object (informational)
 *     "fields": {                           the record: target field -> spec
 *       "FirstName": "customer.firstName",  shorthand for {"from": "customer.firstName"}
 *       "Company": {"from": "customer.company", "fallback": "[not provided]",
 *                   "maxLength": 255},
 *       "LeadSource": {"const": "Microsoft Marketplace"},
 *       "Subject__c": {"template": "Marketplace lead: {offerTitle}"},
 *       "Stage__c": {"from": "stage", "map": {"active": "Customer", "*": "Prospect"}},
 *       "Phone": null                       (user file only) drop a default field
 *     },
 *     "doNotContact": {                     constants set when the lead is DNC
 *       "DoNotCall": true
 *     }
 *   }
 *
 * A spec object has exactly one source:
 *   "from"      a path, or an array of paths (the first non-empty value wins)
 *   "const"     any JSON value, sent as is
 *   "template"  text with {path} placeholders ("{{" and "}}" are literal braces)
 * and optionally:
 *   "map"       object: source value (as text) -> JSON value; "*" catches the rest,
 *               otherwise an unmapped value passes through
 *   "fallback"  JSON value used when the result is empty or missing
 *   "maxLength" integer 1..1000000: strings are cut to this many UTF-16 code
 *               units, the way Salesforce, Dataverse and Web-to-Lead count a
 *               field's length (a character beyond U+FFFF, such as an emoji,
 *               counts 2); a character that does not fit whole is dropped
 * customer.email is sent normalized: trimmed, its domain lower-cased.
 * Empty strings are not sent (an update never blanks a CRM field) unless a
 * fallback applies.
 *
 * Paths name lead fields: leadId, partitionKey, rowKey, timestamp, source,
 * action, offerId, offerTitle, stage, doNotContact, isTest, description,
 * createdTime, customer.{firstName,lastName,email,phone,country,company,title},
 * extra.<Property> (any unknown marketplace property, as received).
 */
#ifndef LS_MAPPING_H
#define LS_MAPPING_H

#include "ls_common.h"

#include <jansson.h>
#include <stddef.h>

struct ls_mapping;

/*
 * Loads the built-in mapping of crm ("salesforce", "dynamics", ...) and, when
 * user_path is set and non-empty, extends it with that file. Returns 0, or
 * LS_ECONFIG with a message naming the file, the key and the problem.
 */
LS_NODISCARD int ls_mapping_load(const char *crm, const char *user_path, struct ls_mapping **out);

/*
 * Parses and validates one mapping text (p, len; not NUL-terminated) named
 * name in messages; when base is set, the result is base extended by it
 * (base is not changed). Returns 0 or LS_ECONFIG.
 */
LS_NODISCARD int ls_mapping_parse(const char *name, const char *p, size_t len,
                                  const struct ls_mapping *base, struct ls_mapping **out);

/*
 * Builds the CRM record of one lead object: a new JSON object with every
 * mapped field that has a value, plus the doNotContact constants when the
 * lead's doNotContact is true. Returns 0 or LS_EINVAL (lead is not an object).
 */
LS_NODISCARD int ls_mapping_apply(const struct ls_mapping *m, const json_t *lead, json_t **out);

/* 1 when the mapping writes field (in "fields" or "doNotContact"). */
int ls_mapping_targets(const struct ls_mapping *m, const char *field);

/* The "object" value, or "" when unset. */
const char *ls_mapping_object(const struct ls_mapping *m);

/* The value of a lead path ("customer.email"); borrowed, NULL when absent. */
json_t *ls_mapping_lookup(const json_t *lead, const char *path);

void ls_mapping_free(struct ls_mapping *m);

#endif /* LS_MAPPING_H */
