/* ls_sink.c - the sink registry and LEADSYNC_SINKS parsing. */
#include "ls_sink.h"

#include "ls_ledger.h"
#include "ls_log.h"
#include "ls_url.h"

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
extern const struct ls_sink_ops ls_sink_email_ops;
extern const struct ls_sink_ops ls_sink_teams_ops;
extern const struct ls_sink_ops ls_sink_slack_ops;

/* The one registry: a sink exists when it is listed here, one per line. */
/* clang-format off */
static const struct ls_sink_ops *const registry[] = {
    &ls_sink_jsonl_ops,
    &ls_sink_webhook_ops,
    &ls_sink_salesforce_ops,
    &ls_sink_dynamics_ops,
    &ls_sink_marketo_ops,
    &ls_sink_hubspot_ops,
    &ls_sink_web_to_lead_ops,
    &ls_sink_email_ops,
    &ls_sink_teams_ops,
    &ls_sink_slack_ops,
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

const struct ls_sink_ops *ls_sink_registered(size_t i)
{
    return i < LS_ARRAY_LEN(registry) ? registry[i] : NULL;
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

#define NAME_MAX_LEN 63

static int name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* KIND[:ARG] of a sink URL entry: the key, or NULL when the URL does not parse. */
static char *url_key(const struct ls_sink_ops *ops, const char *arg)
{
    char *disp = ls_url_display(arg);
    char *key = disp ? ls_xasprintf("%s:%s", ops->name, disp) : NULL;

    free(disp);
    return key;
}

char *ls_sink_key_of(const char *stored_id)
{
    const char *colon = strchr(stored_id, ':');
    char kind[64];
    const struct ls_sink_ops *ops;
    char *key = NULL;

    if (colon && (size_t)(colon - stored_id) < sizeof(kind)) {
        memcpy(kind, stored_id, (size_t)(colon - stored_id));
        kind[colon - stored_id] = '\0';
        ops = ls_sink_lookup(kind);
        if (ops && ops->url_arg)
            key = url_key(ops, colon + 1);
    }
    return key ? key : ls_xstrdup(stored_id);
}

/* One entry, trimmed and non-empty, into *s. */
static int parse_entry(const char *entry, struct ls_sink_spec *s)
{
    const char *eq = strchr(entry, '='), *colon = strchr(entry, ':');
    const char *spec = entry, *arg;
    size_t klen;
    char kind[64], what[128];
    int rc;

    memset(s, 0, sizeof(*s));
    if (eq && (!colon || eq < colon)) {
        if (!name_ok(entry, (size_t)(eq - entry)))
            return ls_error(LS_ECONFIG,
                            "LEADSYNC_SINKS: sink name '%.*s' must be 1-%d letters, digits, '_', "
                            "'-' or '.'",
                            (int)((eq - entry) > NAME_MAX_LEN ? NAME_MAX_LEN : eq - entry), entry,
                            NAME_MAX_LEN);
        spec = eq + 1;
        colon = strchr(spec, ':');
    }
    klen = colon ? (size_t)(colon - spec) : strlen(spec);
    arg = colon ? colon + 1 : "";
    if (klen == 0 || klen >= sizeof(kind))
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: malformed entry (no sink kind)");
    memcpy(kind, spec, klen);
    kind[klen] = '\0';
    s->ops = ls_sink_lookup(kind);
    if (!s->ops)
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: unknown sink '%s' (known: %s)", kind,
                        ls_sink_names());
    s->arg = ls_xstrdup(arg);
    if (s->ops->url_arg) {
        snprintf(what, sizeof(what), "LEADSYNC_SINKS: %s", kind);
        if (!*arg)
            return ls_error(LS_ECONFIG, "%s needs a URL (%s:https://...)", what, kind);
        rc = ls_url_check(arg, what, LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL);
        if (rc)
            return rc;
        s->key = url_key(s->ops, arg);
    } else {
        s->key =
            *arg ? ls_xasprintf("%s:%.*s", kind, (int)strcspn(arg, "?"), arg) : ls_xstrdup(kind);
    }
    s->id = spec != entry ? ls_xstrndup(entry, (size_t)(eq - entry)) : ls_xstrdup(s->key);
    return LS_OK;
}

int ls_sink_specs_parse(const char *list, struct ls_sink_spec **out, size_t *n)
{
    struct ls_sink_spec *specs = NULL;
    size_t count = 0, i;
    const char *p = list ? list : "";
    char *entry = NULL;
    int rc = LS_OK;

    *out = NULL;
    *n = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        free(entry);
        entry = trim_dup(p, len);
        p += len + (comma ? 1 : 0);
        if (!*entry)
            continue;
        specs = ls_xrealloc(specs, (count + 1) * sizeof(*specs));
        rc = parse_entry(entry, &specs[count++]);
        if (rc)
            goto done;
        for (i = 0; i + 1 < count; i++) {
            if (strcmp(specs[i].id, specs[count - 1].id) == 0) {
                rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: two sinks are named '%s'", specs[i].id);
                goto done;
            }
        }
    }
    if (count == 0) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS is empty: name at least one sink (%s)",
                      ls_sink_names());
        goto done;
    }
    *out = specs;
    *n = count;
    specs = NULL;
    count = 0;
done:
    free(entry);
    ls_sink_specs_free(specs, count);
    return rc;
}

void ls_sink_specs_free(struct ls_sink_spec *specs, size_t n)
{
    size_t i;

    for (i = 0; specs && i < n; i++) {
        free(specs[i].id);
        free(specs[i].key);
        free(specs[i].arg);
    }
    free(specs);
}

const struct ls_sink_spec *ls_sink_owner_of(const char *stored, const struct ls_sink_spec *specs,
                                            size_t n)
{
    const struct ls_sink_spec *found = NULL;
    char *key = ls_sink_key_of(stored);
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(specs[i].key, key) != 0)
            continue;
        if (found) {
            found = NULL;
            break;
        }
        found = &specs[i];
    }
    free(key);
    return found;
}

static int attach_specs(struct ls_ledger *l, const struct ls_sink_spec *specs, size_t n)
{
    char **ids = NULL;
    size_t nids = 0, i, k;
    int rc;

    rc = ls_ledger_sink_ids(l, &ids, &nids);
    for (i = 0; rc == LS_OK && i < nids; i++) {
        const struct ls_sink_spec *to;

        for (k = 0; k < n && strcmp(specs[k].id, ids[i]) != 0; k++)
            ;
        if (k < n || !(to = ls_sink_owner_of(ids[i], specs, n)))
            continue;
        rc = ls_ledger_sink_rename(l, ids[i], to->id);
        if (rc == LS_OK)
            LS_INFO("ledger", "deliveries of sink %s (%s) are now under its configured name",
                    to->id, to->key);
    }
    for (k = 0; rc == LS_OK && k < n; k++)
        rc = ls_ledger_sink_register(l, specs[k].id, specs[k].ops->name);
    for (i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    return rc;
}

int ls_sinks_attach(struct ls_ledger *l, const char *list)
{
    struct ls_sink_spec *specs = NULL;
    size_t n = 0;
    int rc = ls_sink_specs_parse(list, &specs, &n);

    if (rc == LS_OK)
        rc = ls_ledger_begin(l);
    if (rc == LS_OK) {
        rc = attach_specs(l, specs, n);
        if (rc)
            ls_ledger_rollback(l);
        else
            rc = ls_ledger_commit(l);
    }
    ls_sink_specs_free(specs, n);
    return rc;
}

/* The routes of sinks[0..n) from the configuration. */
static int load_routes(const struct ls_config *cfg, struct ls_sink *sinks, size_t n)
{
    const char **ids = ls_xcalloc(n, sizeof(*ids));
    struct ls_route **routes = ls_xcalloc(n, sizeof(*routes));
    size_t i;
    int rc;

    for (i = 0; i < n; i++)
        ids[i] = sinks[i].id;
    rc = ls_routes_parse(cfg->routes,
                         cfg->routes_file && *cfg->routes_file ? "LEADSYNC_ROUTES_FILE"
                                                               : "LEADSYNC_ROUTES",
                         ids, n, routes);
    for (i = 0; rc == LS_OK && i < n; i++)
        sinks[i].route = routes[i];
    free(routes);
    free(ids);
    return rc;
}

static int sinks_build(const struct ls_config *cfg, int create, struct ls_sink **out, size_t *n)
{
    struct ls_sink_spec *specs = NULL;
    struct ls_sink *sinks = NULL;
    size_t nspecs = 0, count;
    int rc;

    *out = NULL;
    *n = 0;
    rc = ls_sink_specs_parse(cfg->sinks, &specs, &nspecs);
    if (rc)
        return rc;
    sinks = ls_xcalloc(nspecs, sizeof(*sinks));
    for (count = 0; count < nspecs; count++) {
        sinks[count].ops = specs[count].ops;
        sinks[count].id = specs[count].id;
        sinks[count].key = specs[count].key;
        specs[count].id = specs[count].key = NULL;
    }
    rc = load_routes(cfg, sinks, count);
    for (count = 0; rc == LS_OK && create && count < nspecs; count++)
        rc = sinks[count].ops->create(specs[count].arg, cfg, &sinks[count].ctx);
    if (rc == LS_OK) {
        *out = sinks;
        *n = nspecs;
        sinks = NULL;
    }
    ls_sink_specs_free(specs, nspecs);
    ls_sinks_destroy(sinks, nspecs);
    return rc;
}

int ls_sinks_create(const struct ls_config *cfg, struct ls_sink **out, size_t *n)
{
    return sinks_build(cfg, 1, out, n);
}

int ls_sinks_plan(const struct ls_config *cfg, struct ls_sink **out, size_t *n)
{
    return sinks_build(cfg, 0, out, n);
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
        free(sinks[i].key);
        ls_route_free(sinks[i].route);
    }
    free(sinks);
}
