/*
 * fuzz_webhook_headers.c - LEADSYNC_WEBHOOK_HEADERS values through
 * ls_webhook_headers_parse.
 *
 * Checks beyond "no crash": every entry is "Name: value" with a token name
 * that is not one the sink sets and a value without control characters
 * (tab aside) or leading blanks, never more entries than separators allow;
 * the entries joined by newlines parse back to the same list; a refusal
 * leaves nothing behind and says why.
 */
#include "ls_webhook.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_entry(const char *e)
{
    const char *colon = strchr(e, ':');
    const char *p;

    check(colon && colon > e && colon[1] == ' ' && colon[2] != ' ' && colon[2] != '\t');
    for (p = e; p < colon; p++)
        check(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p));
    check(strncasecmp(e, "content-type:", 13) != 0 && strncasecmp(e, "webhook-id:", 11) != 0 &&
          strncasecmp(e, "user-agent:", 11) != 0 && strncasecmp(e, "host:", 5) != 0);
    for (p = colon + 1; *p; p++)
        check((unsigned char)*p >= 0x20 || *p == '\t');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1), *joined;
    char **h = NULL, **again = NULL;
    size_t n = 99, n2 = 0, i, len = 0, seps = 0;

    check(spec != NULL);
    memcpy(spec, data, size);
    spec[size] = '\0';
    if (ls_webhook_headers_parse(spec, &h, &n) != 0) {
        check(h == NULL && n == 0 && ls_error_last()[0]);
        free(spec);
        return 0;
    }
    for (i = 0; spec[i]; i++)
        seps += spec[i] == '\n' || spec[i] == ';';
    check(n <= seps + 1);
    for (i = 0; i < n; i++) {
        check_entry(h[i]);
        len += strlen(h[i]) + 1;
    }
    /* written one per line, the list reads back the same */
    joined = malloc(len + 1);
    check(joined != NULL);
    for (len = 0, i = 0; i < n; i++) {
        memcpy(joined + len, h[i], strlen(h[i]));
        len += strlen(h[i]);
        joined[len++] = '\n';
    }
    joined[len] = '\0';
    check(ls_webhook_headers_parse(joined, &again, &n2) == 0 && n2 == n);
    for (i = 0; i < n; i++)
        check(strcmp(h[i], again[i]) == 0);
    ls_webhook_headers_free(again, n2);
    ls_webhook_headers_free(h, n);
    free(joined);
    free(spec);
    return 0;
}
