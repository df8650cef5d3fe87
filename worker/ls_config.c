/* ls_config.c - the configuration table and its loader. */
#include "ls_config.h"
#include "ls_http_server.h"
#include "ls_url.h"
#include "ls_sink.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
/* The program's own keys; each sink kind's keys are declared beside the sink
 * (its ls_sink_ops.conf), and the operations keys come last. */
static const struct ls_conf_entry core_entries[] = {
    {"LEADSYNC_CONNECTION_STRING", LS_CONF_STRING, NULL, LS_CONF_AT(connection_string), LS_CONF_SECRET, 0, 0, NULL,
     "Azure Storage connection string (AccountKey=, SharedAccessSignature= or UseDevelopmentStorage=true)",
     "AZURE_STORAGE_CONNECTION_STRING"},
    {"LEADSYNC_TABLE", LS_CONF_STRING, "MarketplaceLeads", LS_CONF_AT(table), 0, 0, 0, NULL,
     "table the marketplace writes leads to", NULL},
    {"LEADSYNC_STATE", LS_CONF_STRING, "./leadsync.db", LS_CONF_AT(state), 0, 0, 0, NULL,
     "SQLite ledger path (created 0600)", NULL},
    {"LEADSYNC_SINKS", LS_CONF_STRING, "jsonl:./leads.jsonl", LS_CONF_AT(sinks), 0, 0, 0, NULL,
     "comma-separated sinks, each [NAME=]KIND[:ARG]: jsonl:PATH, webhook:URL, salesforce, dynamics, marketo, hubspot, web_to_lead, email, teams:URL, slack:URL", NULL},
    {"LEADSYNC_ROUTES", LS_CONF_STRING, NULL, LS_CONF_AT(routes), 0, 0, 0, NULL,
     "JSON object: sink name -> {\"offer\"|\"source\"|\"action\"|\"stage\"|\"country\": [globs]}; a sink without a route gets every lead", NULL},
    {"LEADSYNC_ROUTES_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(routes_file), 0, 0, 0, NULL,
     "file holding LEADSYNC_ROUTES", NULL},
    {"LEADSYNC_OVERLAP_SECONDS", LS_CONF_INT, "300", LS_CONF_AT(overlap_seconds), 0, 0, 86400 * 30, NULL,
     "how far each window reaches back before the cursor", NULL},
    {"LEADSYNC_SETTLE_SECONDS", LS_CONF_INT, "15", LS_CONF_AT(settle_seconds), 0, 0, 86400, NULL,
     "how far behind the server's clock each window stops", NULL},
    {"LEADSYNC_POLL_SECONDS", LS_CONF_INT, "60", LS_CONF_AT(poll_seconds), 0, 1, 86400, NULL,
     "daemon poll interval", NULL},
    {"LEADSYNC_IDENTITY", LS_CONF_ENUM, "customer-offer", LS_CONF_AT(identity), 0, 0, 0, "customer-offer|row",
     "what a CRM record is keyed on", NULL},
    {"LEADSYNC_TEST_LEADS", LS_CONF_ENUM, "skip", LS_CONF_AT(test_leads), 0, 0, 0, "skip|deliver",
     "Microsoft MSFT_TEST_ validation leads: skip (log them) or deliver", NULL},
    {"LEADSYNC_LOG_FORMAT", LS_CONF_ENUM, "text", LS_CONF_AT(log_format), 0, 0, 0, "text|json",
     "log line format on stderr", NULL},
    {"LEADSYNC_LOG_LEVEL", LS_CONF_ENUM, "info", LS_CONF_AT(log_level), 0, 0, 0, "error|warn|info|debug",
     "log threshold", NULL},
    {"LEADSYNC_JOURNAL_MODE", LS_CONF_ENUM, "wal", LS_CONF_AT(journal_mode), 0, 0, 0, "wal|delete",
     "SQLite journal mode of the ledger (use delete on network filesystems)", NULL},
    {"LEADSYNC_PAGE_SIZE", LS_CONF_INT, "1000", LS_CONF_AT(page_size), 0, 1, 1000, NULL,
     "entities per table page ($top)", NULL},
    {"LEADSYNC_WINDOW_MAX_PAGES", LS_CONF_INT, "100000", LS_CONF_AT(window_max_pages), 0, 1, 1000000000,
     NULL, "pages one window may take before the run stops (the cursor stays)", NULL},
    {"LEADSYNC_WINDOW_MAX_SECONDS", LS_CONF_INT, "43200", LS_CONF_AT(window_max_seconds), 0, 1, 31536000,
     NULL, "seconds one window may take before the run stops (the cursor stays)", NULL},
    {"LEADSYNC_HTTP_TIMEOUT_SECONDS", LS_CONF_INT, "30", LS_CONF_AT(http_timeout_seconds), 0, 1, 600, NULL,
     "timeout of every HTTP request", NULL},
    {"LEADSYNC_PROGRESS_SECONDS", LS_CONF_INT, "5", LS_CONF_AT(progress_seconds), 0, 1, 3600, NULL,
     "interval of progress lines during a long catch-up", NULL},
    {"LEADSYNC_DELIVERY_MAX_ATTEMPTS", LS_CONF_INT, "8", LS_CONF_AT(delivery_max_attempts), 0, 1, 1000, NULL,
     "attempts before a delivery becomes a dead letter", NULL},
    {"LEADSYNC_DELIVERY_BACKOFF_BASE_MS", LS_CONF_INT, "1000", LS_CONF_AT(delivery_backoff_base_ms), 0, 1, 3600000, NULL,
     "first retry delay (doubles each attempt, with jitter)", NULL},
    {"LEADSYNC_DELIVERY_BACKOFF_CAP_MS", LS_CONF_INT, "300000", LS_CONF_AT(delivery_backoff_cap_ms), 0, 1, 86400000, NULL,
     "largest retry delay", NULL},
    {"LEADSYNC_DELIVERY_BREAKER", LS_CONF_INT, "10", LS_CONF_AT(delivery_breaker), 0, 0, 100000, NULL,
     "rejections of one kind in a row that pause a sink instead of making every lead a dead letter (0 = never)", NULL},
    {"LEADSYNC_DELIVERY_BATCH", LS_CONF_INT, "200", LS_CONF_AT(delivery_batch), 0, 1, 10000, NULL,
     "deliveries taken from the ledger per round", NULL},
    {"LEADSYNC_MAX_IN_FLIGHT", LS_CONF_INT, "16", LS_CONF_AT(max_in_flight), 0, 1, 256, NULL,
     "concurrent requests per HTTP sink", NULL},
    {"LEADSYNC_RATE_LIMIT", LS_CONF_INT, "0", LS_CONF_AT(rate_limit), 0, 0, 1000000, NULL,
     "deliveries per second per sink (0 = unlimited)", NULL},
    {"LEADSYNC_ONCE_MAX_WAIT_SECONDS", LS_CONF_INT, "60", LS_CONF_AT(once_max_wait_seconds), 0, 0, 86400, NULL,
     "run --once waits out a Retry-After up to this long, then exits 75 with work pending", NULL},
    {"LEADSYNC_STOP_GRACE_SECONDS", LS_CONF_INT, "7", LS_CONF_AT(stop_grace_seconds), 0, 0, 3600, NULL,
     "on SIGTERM, how long requests already sent may take to answer before the process stops (a second signal stops at once; unanswered deliveries go out next run)", NULL},
};

static const struct ls_conf_entry ops_entries[] = {
    {"LEADSYNC_METRICS_ADDR", LS_CONF_STRING, NULL, LS_CONF_AT(metrics_addr), 0, 0, 0, NULL,
     "host:port for /healthz and /metrics in daemon mode; 127.0.0.1:9090 serves this host "
     "only, 0.0.0.0:9090 (or :9090) every interface (containers, where probes and Prometheus "
     "come from outside)", NULL},
    {"LEADSYNC_PUSHGATEWAY_URL", LS_CONF_STRING, NULL, LS_CONF_AT(pushgateway_url), LS_CONF_HTTP_URL, 0, 0, NULL,
     "Prometheus Pushgateway URL for one-shot runs", NULL},
    {"LEADSYNC_HEALTH_FAIL_SECONDS", LS_CONF_INT, "600", LS_CONF_AT(health_fail_seconds), 0, 1, 86400 * 7, NULL,
     "/healthz fails when the source, or every sink, has failed for longer than this", NULL},
    {"LEADSYNC_TABLE_ENDPOINT", LS_CONF_STRING, NULL, LS_CONF_AT(table_endpoint), 0, 0, 0, NULL,
     "table endpoint (https://ACCOUNT.table.core.windows.net) authenticated with Entra ID "
     "(workload identity, managed identity or AZURE_CLIENT_SECRET); instead of a connection string", NULL},
    {"LEADSYNC_TABLE_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(table_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for the table endpoint's TLS instead of the system's", NULL},
};
/* clang-format on */

const struct ls_conf_entry *ls_conf_entry_at(size_t i, const char **sink)
{
    const struct ls_sink_ops *ops;
    size_t k;

    if (sink)
        *sink = NULL;
    if (i < LS_ARRAY_LEN(core_entries))
        return &core_entries[i];
    i -= LS_ARRAY_LEN(core_entries);
    for (k = 0; (ops = ls_sink_registered(k)) != NULL; k++) {
        if (i < ops->nconf) {
            if (sink)
                *sink = ops->name;
            return &ops->conf[i];
        }
        i -= ops->nconf;
    }
    return i < LS_ARRAY_LEN(ops_entries) ? &ops_entries[i] : NULL;
}

static const struct ls_conf_entry *find_entry(const char *env, size_t n)
{
    const struct ls_conf_entry *e;
    size_t i;

    for (i = 0; (e = ls_conf_entry_at(i, NULL)) != NULL; i++)
        if (strlen(e->env) == n && strncmp(e->env, env, n) == 0)
            return e;
    return NULL;
}

static int choice_ok(const char *choices, const char *v)
{
    const char *p = choices;
    size_t vl = strlen(v);

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);

        if (n == vl && strncmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

static int set_entry(struct ls_config *cfg, const struct ls_conf_entry *e, const char *value,
                     const char *origin)
{
    char *base = (char *)cfg;

    if (e->type == LS_CONF_INT) {
        char *end = NULL;
        long v;

        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0')
            return ls_error(LS_ECONFIG, "%s (%s): '%s' is not an integer", e->env, origin,
                            (e->flags & LS_CONF_SECRET) ? "***" : value);
        if (v < e->min || v > e->max)
            return ls_error(LS_ECONFIG, "%s (%s): %ld is outside %ld..%ld", e->env, origin, v,
                            e->min, e->max);
        *(long *)(base + e->offset) = v;
        return LS_OK;
    }
    if ((e->flags & (LS_CONF_URL | LS_CONF_HTTP_URL)) && *value &&
        ls_url_check(value, e->env,
                     LS_URL_HTTP | LS_URL_NO_USERINFO |
                         ((e->flags & LS_CONF_URL) ? LS_URL_TLS_ONLY : 0u),
                     NULL))
        return LS_ECONFIG; /* the message names the key, never the userinfo */
    if (e->type == LS_CONF_ENUM && !choice_ok(e->choices, value))
        return ls_error(LS_ECONFIG, "%s (%s): '%s' is not one of %s", e->env, origin, value,
                        e->choices);
    if (*(char **)(base + e->offset) && (e->flags & LS_CONF_SECRET))
        OPENSSL_cleanse(*(char **)(base + e->offset), strlen(*(char **)(base + e->offset)));
    free(*(char **)(base + e->offset));
    *(char **)(base + e->offset) = ls_xstrdup(value);
    return LS_OK;
}

int ls_config_set(struct ls_config *cfg, const char *env, const char *value, const char *origin)
{
    const struct ls_conf_entry *e = find_entry(env, strlen(env));

    if (!e)
        return ls_error(LS_ECONFIG, "unknown configuration key %s (%s)", env, origin);
    return set_entry(cfg, e, value, origin);
}

/* Reads a secret file: whole content, one trailing newline (or CRLF) stripped. */
static int read_secret_file(const char *env, const char *path, char **out)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    int rc = LS_OK;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        rc = ls_error(LS_ECONFIG, "%s_FILE: cannot read %s: %s", env, path, strerror(errno));
        goto done;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n > 1024 * 1024) {
            rc = ls_error(LS_ECONFIG, "%s_FILE: %s is larger than 1 MiB", env, path);
            goto done;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = ls_xrealloc(buf, cap);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    if (!buf)
        buf = ls_xstrdup("");
    buf[len] = '\0';
    /* a NUL would cut the value short without a word: a binary file is no secret text */
    if (memchr(buf, '\0', len)) {
        rc = ls_error(LS_ECONFIG, "%s_FILE: %s holds a NUL byte; expected text", env, path);
        goto done;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    *out = buf;
    buf = NULL;
done:
    if (buf)
        OPENSSL_cleanse(buf, len);
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

static const char *real_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* A description of a JSON load error that quotes none of the input. */
static const char *json_error_summary(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_cannot_open_file:
        return "cannot be read";
    case json_error_premature_end_of_input:
        return "ends too early";
    case json_error_duplicate_key:
        return "a key appears twice";
    case json_error_null_character:
        return "a NUL character";
    case json_error_invalid_utf8:
        return "not UTF-8";
    case json_error_stack_overflow:
        return "nested too deeply";
    case json_error_numeric_overflow:
        return "a number out of range";
    case json_error_end_of_input_expected:
        return "text after the top-level value";
    case json_error_null_byte_in_key:
        return "a NUL character in a key";
    default:
        return "JSON syntax error";
    }
}

static int load_file(struct ls_config *cfg, const char *file)
{
    json_error_t jerr;
    json_t *root = NULL;
    const char *key;
    json_t *val;
    int rc = LS_OK;

    root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson's text quotes the file near the error: it may be a secret */
        if (jerr.line < 1)
            rc = ls_error(LS_ECONFIG, "config file %s: %s", file, json_error_summary(&jerr));
        else
            rc = ls_error(LS_ECONFIG, "config file %s: line %d, column %d: %s", file, jerr.line,
                          jerr.column, json_error_summary(&jerr));
        goto done;
    }
    if (!json_is_object(root)) {
        rc = ls_error(LS_ECONFIG, "config file %s: the top level must be a JSON object", file);
        goto done;
    }
    json_object_foreach(root, key, val)
    {
        const struct ls_conf_entry *e = find_entry(key, strlen(key));
        char origin[512];
        char num[32];
        const char *text;

        snprintf(origin, sizeof(origin), "config file %s", file);
        if (strcmp(key, "routes") == 0)
            e = find_entry("LEADSYNC_ROUTES", strlen("LEADSYNC_ROUTES"));
        if (e && e->offset == LS_CONF_AT(routes) && json_is_object(val)) {
            char *routes = json_dumps(val, JSON_COMPACT);

            rc = routes ? set_entry(cfg, e, routes, origin)
                        : ls_error(LS_ENOMEM, "config file %s: out of memory", file);
            free(routes);
            if (rc)
                goto done;
            continue;
        }
        if (!e) {
            rc = ls_error(LS_ECONFIG, "config file %s: unknown key \"%s\"", file, key);
            goto done;
        }
        if (json_is_string(val)) {
            text = json_string_value(val);
        } else if (json_is_integer(val)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(val));
            text = num;
        } else {
            rc = ls_error(LS_ECONFIG, "config file %s: key \"%s\" must be a string or an integer",
                          file, key);
            goto done;
        }
        rc = set_entry(cfg, e, text, origin);
        if (rc)
            goto done;
    }
done:
    json_decref(root);
    return rc;
}

/* LEADSYNC_ROUTES_FILE into cfg->routes; both at once is an error. */
static int load_routes_file(struct ls_config *cfg)
{
    char *text = NULL;
    int rc;

    if (!cfg->routes_file || !*cfg->routes_file)
        return LS_OK;
    if (cfg->routes && *cfg->routes)
        return ls_error(LS_ECONFIG, "LEADSYNC_ROUTES and LEADSYNC_ROUTES_FILE are both set: "
                                    "use one");
    rc = read_secret_file("LEADSYNC_ROUTES", cfg->routes_file, &text);
    if (rc == LS_OK) {
        free(cfg->routes);
        cfg->routes = text;
    }
    return rc;
}

/* Checks the environment for LEADSYNC_* names that are not configuration. */
static int check_unknown_env(char *const *envp)
{
    size_t i;

    if (!envp)
        return LS_OK;
    for (i = 0; envp[i]; i++) {
        const char *kv = envp[i];
        const char *eq = strchr(kv, '=');
        size_t n = eq ? (size_t)(eq - kv) : strlen(kv);

        if (n < 9 || strncmp(kv, "LEADSYNC_", 9) != 0)
            continue;
        if (n >= 14 && strncmp(kv, "LEADSYNC_TEST_", 14) == 0 && !find_entry(kv, n))
            continue; /* reserved for the test harness */
        if (find_entry(kv, n))
            continue;
        if (n > 5 && strncmp(kv + n - 5, "_FILE", 5) == 0) {
            const struct ls_conf_entry *e = find_entry(kv, n - 5);

            if (e && (e->flags & LS_CONF_SECRET))
                continue;
        }
        return ls_error(LS_ECONFIG, "unknown environment variable %.*s (see leadsync --help)",
                        (int)n, kv);
    }
    return LS_OK;
}

int ls_config_load(struct ls_config *cfg, const char *file, char *const *envp,
                   ls_getenv_fn getenv_fn, void *ctx)
{
    const struct ls_conf_entry *e;
    size_t i;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    if (!getenv_fn)
        getenv_fn = real_getenv;
    for (i = 0; (e = ls_conf_entry_at(i, NULL)) != NULL; i++) {

        if (e->def && (rc = set_entry(cfg, e, e->def, "default")) != LS_OK)
            return rc;
    }
    if (file && (rc = load_file(cfg, file)) != LS_OK)
        return rc;
    if ((rc = check_unknown_env(envp)) != LS_OK)
        return rc;
    for (i = 0; (e = ls_conf_entry_at(i, NULL)) != NULL; i++) {
        const char *v = getenv_fn(ctx, e->env);

        if ((!v || !*v) && (e->flags & LS_CONF_SECRET)) {
            char name[128];
            const char *path;

            snprintf(name, sizeof(name), "%s_FILE", e->env);
            path = getenv_fn(ctx, name);
            if (path && *path) {
                char *secret = NULL;

                if ((rc = read_secret_file(e->env, path, &secret)) != LS_OK)
                    return rc;
                rc = set_entry(cfg, e, secret, "file");
                OPENSSL_cleanse(secret, strlen(secret));
                free(secret);
                if (rc)
                    return rc;
                continue;
            }
        }
        if ((!v || !*v) && e->alias)
            v = getenv_fn(ctx, e->alias);
        if (v && *v && (rc = set_entry(cfg, e, v, "environment")) != LS_OK)
            return rc;
    }
    if (cfg->metrics_addr && *cfg->metrics_addr) {
        /* checked before anything runs, not first when the daemon listens */
        char host[256];
        int port;

        if ((rc = ls_http_parse_addr(cfg->metrics_addr, host, sizeof(host), &port)) != LS_OK)
            return rc;
    }
    return load_routes_file(cfg);
}

int ls_config_require_source(const struct ls_config *cfg)
{
    if ((!cfg->connection_string || !*cfg->connection_string) &&
        (!cfg->table_endpoint || !*cfg->table_endpoint))
        return ls_error(LS_ECONFIG,
                        "LEADSYNC_CONNECTION_STRING is not set (nor "
                        "AZURE_STORAGE_CONNECTION_STRING, nor LEADSYNC_TABLE_ENDPOINT); for "
                        "a local Azurite use UseDevelopmentStorage=true");
    return LS_OK;
}

void ls_config_dispose(struct ls_config *cfg)
{
    const struct ls_conf_entry *e;
    size_t i;

    for (i = 0; (e = ls_conf_entry_at(i, NULL)) != NULL; i++) {

        if (e->type != LS_CONF_INT) {
            char **p = (char **)((char *)cfg + e->offset);

            /* the connection string, keys and tokens leave no copy behind */
            if (*p && (e->flags & LS_CONF_SECRET))
                OPENSSL_cleanse(*p, strlen(*p));
            free(*p);
            *p = NULL;
        }
    }
}

void ls_config_dump(const struct ls_config *cfg, FILE *out)
{
    const struct ls_conf_entry *e;
    size_t i;

    for (i = 0; (e = ls_conf_entry_at(i, NULL)) != NULL; i++) {
        const char *base = (const char *)cfg;

        if (e->type == LS_CONF_INT) {
            fprintf(out, "%s=%ld\n", e->env, *(const long *)(base + e->offset));
        } else {
            const char *v = *(char *const *)(base + e->offset);

            if (e->flags & LS_CONF_SECRET)
                fprintf(out, "%s=%s\n", e->env, v ? "(set)" : "(unset)");
            else
                fprintf(out, "%s=%s\n", e->env, v ? v : "");
        }
    }
}
