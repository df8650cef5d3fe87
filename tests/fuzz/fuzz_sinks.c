/* fuzz_sinks.c - LEADSYNC_SINKS lists through ls_sink_specs_parse, and a
 * stored sink id through ls_sink_key_of. */
#include "ls_sink.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* KIND:scheme://host[:port]/path: no query, no '@' before the path. */
static int authority_clean(const char *key)
{
    const char *auth = strstr(key, "://");
    const char *path;

    if (!auth || strchr(key, '?') || strchr(key, '#'))
        return 0;
    auth += 3;
    path = strchr(auth, '/');
    return path && memchr(auth, '@', (size_t)(path - auth)) == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct ls_sink_spec *s = NULL;
    size_t n = 0, i;
    char *key;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (ls_sink_specs_parse(text, &s, &n) == 0) {
        /* Whatever parsed names each sink once, never with a query or userinfo. */
        if (n == 0)
            abort();
        for (i = 0; i < n; i++) {
            if (!s[i].ops || !s[i].id[0] || !s[i].key[0] || !s[i].arg)
                abort();
            if (s[i].ops->url_arg && !authority_clean(s[i].key))
                abort();
            if (i > 0 && strcmp(s[i].id, s[i - 1].id) == 0)
                abort();
        }
    } else if (s || n) {
        abort();
    }
    ls_sink_specs_free(s, n);
    key = ls_sink_key_of(text);
    if (!key)
        abort();
    free(key);
    free(text);
    return 0;
}
