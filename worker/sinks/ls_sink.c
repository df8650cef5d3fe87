/* ls_sink.c - the sink registry and LEADSYNC_SINKS parsing. */
#include "ls_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct ls_sink_ops ls_sink_jsonl_ops;
extern const struct ls_sink_ops ls_sink_webhook_ops;
extern const struct ls_sink_ops ls_sink_marketo_ops;
extern const struct ls_sink_ops ls_sink_hubspot_ops;
extern const struct ls_sink_ops ls_sink_web_to_lead_ops;
extern const struct ls_sink_ops ls_sink_salesforce_ops;
extern const struct ls_sink_ops ls_sink_dynamics_ops;

/* The one registry: a sink exists when it is listed here, one per line. */
/* clang-format off */
static const struct ls_sink_ops *const registry[] = {
    &ls_sink_jsonl_ops,
    &ls_sink_webhook_ops,
    &ls_sink_marketo_ops,
    &ls_sink_hubspot_ops,
    &ls_sink_web_to_lead_ops,
    &ls_sink_salesforce_ops,
    &ls_sink_dynamics_ops,
};
/* clang-format on */

const struct ls_sink_ops *ls_sink_lookup(const char *name)
{
    size_t i;

    for (i = 0; i < LS_ARRAY_LEN(registry); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const char *ls_sink_names(void)
{
    static char names[256];
    size_t i, off = 0;

    if (names[0])
        return names;
    for (i = 0; i < LS_ARRAY_LEN(registry) && off < sizeof(names) - 1; i++) {
        int n =
            snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "", registry[i]->name);

        if (n < 0)
            break;
        off += (size_t)n;
    }
    return names;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return ls_xstrndup(s, n);
}

int ls_sinks_create(const struct ls_config *cfg, struct ls_sink **out, size_t *n)
{
    struct ls_sink *sinks = NULL;
    size_t count = 0, i;
    const char *p = cfg->sinks ? cfg->sinks : "";
    char *entry = NULL;
    int rc = LS_OK;

    *out = NULL;
    *n = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const struct ls_sink_ops *ops;
        char *colon, *q;
        const char *arg;
        char name[64];

        free(entry);
        entry = trim_dup(p, len);
        p += len + (comma ? 1 : 0);
        if (!*entry)
            continue;
        colon = strchr(entry, ':');
        if (colon && (size_t)(colon - entry) < sizeof(name)) {
            memcpy(name, entry, (size_t)(colon - entry));
            name[colon - entry] = '\0';
            arg = colon + 1;
        } else if (!colon && strlen(entry) < sizeof(name)) {
            memcpy(name, entry, strlen(entry) + 1);
            arg = "";
        } else {
            rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: malformed entry (sink name too long)");
            goto done;
        }
        ops = ls_sink_lookup(name);
        if (!ops) {
            rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: unknown sink '%s' (known: %s)", name,
                          ls_sink_names());
            goto done;
        }
        q = strchr(entry, '?');
        if (q)
            *q = '\0'; /* the ledger name never carries a query string (tokens) */
        for (i = 0; i < count; i++) {
            if (strcmp(sinks[i].id, entry) == 0) {
                rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: sink '%s' is listed twice", entry);
                goto done;
            }
        }
        if (q)
            *q = '?';
        sinks = ls_xrealloc(sinks, (count + 1) * sizeof(*sinks));
        memset(&sinks[count], 0, sizeof(sinks[count]));
        sinks[count].ops = ops;
        sinks[count].id = ls_xstrdup(entry);
        q = strchr(sinks[count].id, '?');
        if (q)
            *q = '\0';
        count++;
        rc = ops->create(arg, cfg, &sinks[count - 1].ctx);
        if (rc)
            goto done;
    }
    if (count == 0) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS is empty: name at least one sink (%s)",
                      ls_sink_names());
        goto done;
    }
    *out = sinks;
    *n = count;
    sinks = NULL;
    count = 0;
done:
    free(entry);
    ls_sinks_destroy(sinks, count);
    return rc;
}

void ls_sinks_destroy(struct ls_sink *sinks, size_t n)
{
    size_t i;

    if (!sinks)
        return;
    for (i = 0; i < n; i++) {
        if (sinks[i].ops && sinks[i].ctx)
            sinks[i].ops->destroy(sinks[i].ctx);
        free(sinks[i].id);
    }
    free(sinks);
}
