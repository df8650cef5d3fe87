/*
 * ls_config.h - configuration: one declarative table of every key, its
 * environment variable, type, default and help; the program's keys are in
 * ls_config.c, each sink kind declares its own beside the sink.
 *
 * Sources, later ones winning: the defaults, a JSON file (--config FILE, keys
 * are the environment variable names, e.g. {"LEADSYNC_TABLE": "Leads"}), the
 * environment, then command-line flags. Unknown keys are errors naming the
 * key: in the file, and LEADSYNC_* variables in the environment
 * (LEADSYNC_TEST_* is reserved for the test harness and ignored). Secrets can
 * come from files: KEY_FILE=/path reads the value from that file (trailing
 * newline stripped). Secret values never appear in messages.
 */
#ifndef LS_CONFIG_H
#define LS_CONFIG_H

#include "ls_common.h"

#include <stddef.h>
#include <stdio.h>

enum ls_conf_type { LS_CONF_STRING = 0, LS_CONF_INT, LS_CONF_ENUM };

enum {
    LS_CONF_SECRET = 1 << 0,  /* never printed; *_FILE accepted */
    LS_CONF_URL = 1 << 1,     /* an http(s) URL: https unless the host is loopback, no
                               * user:password@ (ls_url_check); refused when set */
    LS_CONF_HTTP_URL = 1 << 2 /* an http or https URL with a host, no user:password@; plain
                               * http anywhere (in-cluster services such as a Pushgateway) */
};

struct ls_conf_entry {
    const char *env; /* LEADSYNC_TABLE */
    enum ls_conf_type type;
    const char *def; /* default as text, NULL for none */
    size_t offset;   /* into struct ls_config: char * for STRING/ENUM, long for INT */
    unsigned flags;
    long min, max;       /* INT bounds */
    const char *choices; /* ENUM: "a|b|c" */
    const char *help;
    const char *alias; /* a second variable read when env is unset, or NULL */
};

struct ls_config {
    char *connection_string;
    char *table;
    char *state;
    char *sinks;
    char *routes;      /* JSON text (ls_route.h) */
    char *routes_file; /* read into routes at load */
    char *webhook_secret;
    long overlap_seconds;
    long settle_seconds;
    long poll_seconds;
    char *identity;     /* customer-offer | row */
    char *test_leads;   /* skip | deliver */
    char *log_format;   /* text | json */
    char *log_level;    /* error | warn | info | debug */
    char *journal_mode; /* wal | delete */
    long page_size;
    long window_max_pages; /* a window over these stops the run, the cursor stays */
    long window_max_seconds;
    long http_timeout_seconds;
    long progress_seconds;
    /* delivery */
    long delivery_max_attempts;
    long delivery_backoff_base_ms;
    long delivery_backoff_cap_ms;
    long delivery_batch;
    long delivery_breaker;
    long max_in_flight;
    long rate_limit; /* deliveries per second per sink, 0 = unlimited */
    long once_max_wait_seconds;
    long stop_grace_seconds;
    char *webhook_format;  /* json | marketplace */
    char *webhook_headers; /* "Name: value\nName2: value2" or ";"-separated */
    char *webhook_ca_file;
    long webhook_timeout_seconds;
    /* salesforce (sink_salesforce.c) */
    char *salesforce_auth; /* client_credentials | jwt */
    char *salesforce_login_url;
    char *salesforce_token_url;
    char *salesforce_instance_url;
    char *salesforce_api_version;
    char *salesforce_client_id;
    char *salesforce_client_secret;
    char *salesforce_username;
    char *salesforce_private_key;
    char *salesforce_audience;
    char *salesforce_external_id_field;
    char *salesforce_mapping;
    char *salesforce_ca_file;
    long salesforce_batch;
    long salesforce_limit_pause_seconds;
    /* dynamics (sink_dynamics.c) */
    char *dynamics_url;
    char *dynamics_api_base;
    char *dynamics_authority_url;
    char *dynamics_token_url;
    char *dynamics_scope;
    char *dynamics_tenant_id;
    char *dynamics_client_id;
    char *dynamics_client_secret;
    char *dynamics_certificate;
    char *dynamics_private_key;
    char *dynamics_key_field;
    char *dynamics_mapping;
    char *dynamics_ca_file;
    long dynamics_batch;
    /* marketo (sink_marketo.c) */
    char *marketo_base_url;
    char *marketo_client_id;
    char *marketo_client_secret;
    char *marketo_lookup_field;
    char *marketo_partition;
    char *marketo_mapping;
    char *marketo_ca_file;
    long marketo_batch;
    long marketo_throttle_seconds;
    /* hubspot (sink_hubspot.c) */
    char *hubspot_base_url;
    char *hubspot_token;
    char *hubspot_id_property;
    char *hubspot_offers_property;
    char *hubspot_mapping;
    char *hubspot_ca_file;
    long hubspot_batch;
    /* Salesforce Web-to-Lead (sink_web_to_lead.c) */
    char *web_to_lead_url;
    char *web_to_lead_oid;
    long web_to_lead_daily_limit;
    char *web_to_lead_mapping;
    char *web_to_lead_ca_file;
    /* notifications (sink_email.c, sink_chat.c) */
    char *email_url;
    char *email_from;
    char *email_to; /* comma-separated */
    char *email_username;
    char *email_password;
    char *email_ca_file;
    char *teams_ca_file;
    char *slack_ca_file;
    /* operations */
    char *metrics_addr;
    char *pushgateway_url;
    long health_fail_seconds;
    /* Entra ID (no account key on the pod) */
    char *table_endpoint;
    char *table_ca_file;
};

/* The offset of a field of struct ls_config, for the tables. */
#define LS_CONF_AT(field) offsetof(struct ls_config, field)

/*
 * The table in sections: the program's own keys, then each sink kind's keys,
 * declared beside the sink (its ls_sink_ops.conf) in registry order, then the
 * operations keys. Key i of the whole table, NULL past the last, for the
 * loader, --help, docs and tests; *sink (when not NULL) gets the sink kind the
 * key configures, NULL for the program's own keys.
 */
const struct ls_conf_entry *ls_conf_entry_at(size_t i, const char **sink);

/* Source of environment values (tests inject their own). */
typedef const char *(*ls_getenv_fn)(void *ctx, const char *name);

/*
 * Loads the configuration into *cfg (zeroed first). file may be NULL. envp is
 * the environment as "NAME=value" strings (NULL-terminated), used to find
 * unknown LEADSYNC_* names; getenv_fn reads values (NULL: getenv). Returns 0
 * or LS_ECONFIG with a message naming the key and the problem.
 */
LS_NODISCARD int ls_config_load(struct ls_config *cfg, const char *file, char *const *envp,
                                ls_getenv_fn getenv_fn, void *ctx);
/* Sets one key by environment name from text (flags use this). */
LS_NODISCARD int ls_config_set(struct ls_config *cfg, const char *env, const char *value,
                               const char *origin);
/* Checks that the connection string is present. */
LS_NODISCARD int ls_config_require_source(const struct ls_config *cfg);
void ls_config_dispose(struct ls_config *cfg);
/* Prints every key with its value (secrets as "(set)"/"(unset)"). */
void ls_config_dump(const struct ls_config *cfg, FILE *out);

#endif /* LS_CONFIG_H */
