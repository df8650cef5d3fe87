/*
 * fuzz_oauth.c - OAuth token answers (Salesforce, Dynamics, HubSpot and
 * Marketo token endpoints) through ls_oauth_parse, with and without
 * Salesforce's instance_url as the extra field.
 *
 * Checks beyond "no crash": a parse gives the answer's access_token as it
 * is, visible ASCII only (it goes into an Authorization header), an expiry
 * that is none or after now and within ten years, and an extra field that is
 * absent or not empty; a failure leaves nothing allocated.
 */
#include "ls_oauth.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static void one(const char *body, size_t len, const char *extra)
{
    const int64_t now = 1795485810000LL;
    struct ls_oauth_token t = {NULL, -1};
    char *ex = (char *)1;
    json_t *j;

    if (ls_oauth_parse(body, len, now, &t, extra, &ex) != 0) {
        check(t.value == NULL && t.expires_ms == 0 && ex == NULL);
        return;
    }
    check(t.value && ls_token_text_ok(t.value, strlen(t.value)));
    check(t.expires_ms == 0 ||
          (t.expires_ms > now && t.expires_ms < now + 10LL * 365 * 86400 * 1000));
    check(ex == NULL || (extra && *ex));
    j = json_loadb(body, len, 0, NULL);
    check(strcmp(json_string_value(json_object_get(j, "access_token")), t.value) == 0);
    json_decref(j);
    ls_secret_free(t.value);
    free(ex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one((const char *)data, size, NULL);
    one((const char *)data, size, "instance_url");
    return 0;
}
