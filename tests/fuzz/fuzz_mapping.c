/*
 * fuzz_mapping.c - the mapping file parser (worker/ls_mapping.c) on hostile
 * input: parsed alone and as an extension of the built-in Salesforce
 * mapping, then applied to a fixed lead. Checks beyond "no crash, no leak":
 * a parse either fails with a message or yields a mapping that applies to
 * an object.
 */
#include "ls_mapping.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ls_mapping *base;
    struct ls_mapping *m = NULL;
    json_t *lead, *rec = NULL;
    int pass;

    if (!base && ls_mapping_load("salesforce", NULL, &base) != 0)
        abort();
    lead = json_pack("{s:s,s:s,s:b,s:{s:s,s:s},s:{s:s}}", "leadId", "abc", "stage", "active",
                     "doNotContact", 1, "customer", "lastName", "D\xc3\xa9", "email", "", "extra",
                     "X", "y");
    for (pass = 0; pass < 2; pass++) {
        int rc = ls_mapping_parse("fuzz", (const char *)data, size, pass ? base : NULL, &m);

        if (rc) {
            check(m == NULL && ls_error_last()[0] != '\0');
            continue;
        }
        check(ls_mapping_apply(m, lead, &rec) == 0 && json_is_object(rec));
        json_decref(rec);
        rec = NULL;
        ls_mapping_free(m);
        m = NULL;
    }
    json_decref(lead);
    return 0;
}
