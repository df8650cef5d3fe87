/* ls_table.c - the table client from the configuration, and its errors. */
#include "ls_table.h"

#include "ls_entra.h"
#include "ls_log.h"
#include "ls_redact.h"

#include "azt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An Azure Storage account key: 512 bits. */
#define ACCOUNT_KEY_BYTES 64
/* Table names a "not found" message lists at most. */
#define LIST_MAX 10

extern volatile sig_atomic_t ls_stop_requested;

static int cancel_cb(void *ctx)
{
    (void)ctx;
    return ls_stop_requested != 0;
}

static int quoted(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && (s[0] == '"' || s[0] == '\'' || s[n - 1] == '"' || s[n - 1] == '\'');
}

int ls_table_precheck(const char *cs, const char *table)
{
    struct azt_conn *conn = NULL;
    int rc = LS_OK;

    if (!azt_table_name_valid(table))
        return ls_error(LS_ECONFIG,
                        "LEADSYNC_TABLE '%s' is not a table name: 3 to 63 letters and digits, "
                        "starting with a letter (the marketplace's is MarketplaceLeads)",
                        table);
    if (!cs)
        return LS_OK;
    if (quoted(cs))
        return ls_error(LS_ECONFIG, "LEADSYNC_CONNECTION_STRING is wrapped in quotes: remove the "
                                    "surrounding quotes (an env file or Secret keeps them as part "
                                    "of the value)");
    if (azt_conn_parse(cs, strlen(cs), &conn) != AZT_OK)
        return ls_error(LS_ECONFIG, "LEADSYNC_CONNECTION_STRING: %s", azt_error_last());
    if (!conn->key && !conn->sas)
        rc = ls_error(LS_ECONFIG,
                      "LEADSYNC_CONNECTION_STRING has no AccountKey= and no "
                      "SharedAccessSignature=: copy the whole connection string from the storage "
                      "account's Access keys, or set LEADSYNC_TABLE_ENDPOINT instead to sign in "
                      "with Entra ID");
    else if (conn->key && conn->key_len != ACCOUNT_KEY_BYTES)
        rc = ls_error(LS_ECONFIG,
                      "LEADSYNC_CONNECTION_STRING: the AccountKey is %zu bytes, a storage "
                      "account key is %d (88 base64 characters): copy key1 or key2 whole",
                      conn->key_len, ACCOUNT_KEY_BYTES);
    azt_conn_free(conn);
    return rc;
}

int ls_open_table_client(const struct ls_config *cfg, struct azt_client **out)
{
    const char *cs =
        cfg->connection_string && *cfg->connection_string ? cfg->connection_string : NULL;
    struct azt_conn *conn = NULL;
    struct azt_client_opts o;
    struct azt_token_source ts;
    char *text = NULL;
    int rc;

    *out = NULL;
    rc = ls_config_require_source(cfg);
    if (rc == LS_OK)
        rc = ls_table_precheck(cs, cfg->table);
    if (rc)
        return rc;
    /* Entra ID only when asked for: LEADSYNC_TABLE_ENDPOINT without a
     * connection string (ls_table_precheck refuses a key-less one). */
    text = cs ? ls_xstrdup(cs) : ls_xasprintf("TableEndpoint=%s", cfg->table_endpoint);
    rc = azt_conn_parse(text, strlen(text), &conn);
    free(text);
    if (rc)
        return ls_error(LS_ECONFIG, "%s: %s",
                        cs ? "LEADSYNC_CONNECTION_STRING" : "LEADSYNC_TABLE_ENDPOINT",
                        azt_error_last());
    memset(&o, 0, sizeof(o));
    o.auth = conn->sas ? AZT_AUTH_SAS : AZT_AUTH_SHAREDKEY;
    if (!conn->key && !conn->sas) {
        rc = ls_entra_process_source(cfg->http_timeout_seconds * 1000, &ts);
        if (rc) {
            azt_conn_free(conn);
            return rc;
        }
        o.auth = AZT_AUTH_BEARER;
        o.token_source = &ts;
    }
    o.request_timeout_ms = cfg->http_timeout_seconds * 1000;
    o.connect_timeout_ms = o.request_timeout_ms < 10000 ? o.request_timeout_ms : 10000;
    o.ca_file = cfg->table_ca_file && *cfg->table_ca_file ? cfg->table_ca_file : NULL;
    o.log = ls_log_azt;
    o.log_ctx = (void *)"azure";
    o.cancel = cancel_cb;
    rc = azt_client_create(conn, &o, out);
    azt_conn_free(conn);
    if (rc)
        return ls_error(LS_ECONFIG, "table client: %s", azt_error_last());
    return LS_OK;
}

/* "; the account has A, B, C" or how to find out, appended to msg. */
static void list_tables(struct azt_client *client, char *msg, size_t cap)
{
    char **names = NULL;
    size_t n = 0, i, len = strlen(msg);

    if (azt_table_list(client, &names, &n) != AZT_OK) {
        snprintf(msg + len, cap - len,
                 "; these credentials may not list the account's tables: check the name in the "
                 "Azure portal (Storage browser, Tables)");
        return;
    }
    if (n == 0)
        snprintf(msg + len, cap - len, "; the account has no tables yet");
    for (i = 0; i < n && i < LIST_MAX && len < cap; i++) {
        snprintf(msg + len, cap - len, "%s%s", i ? ", " : "; the account has: ", names[i]);
        len += strlen(msg + len);
    }
    if (n > LIST_MAX && len < cap)
        snprintf(msg + len, cap - len, " and %zu more", n - LIST_MAX);
    azt_table_list_free(names, n);
}

int ls_table_error(struct azt_client *client, const char *table, int azt_rc)
{
    char msg[1024];

    ls_redact(msg, sizeof(msg), azt_error_last(), strlen(azt_error_last()));
    switch (azt_rc) {
    case AZT_ENOTFOUND: {
        char more[768] = "";

        list_tables(client, more, sizeof(more));
        return ls_error(LS_ECONFIG, "table %s not found (LEADSYNC_TABLE)%s", table, more);
    }
    case AZT_ETLS:
        return ls_error(LS_ECONFIG,
                        "%s: if the table endpoint uses a private CA, set LEADSYNC_TABLE_CA_FILE "
                        "to its PEM bundle; never turn verification off",
                        msg);
    case AZT_EAUTH:
        return ls_error(LS_EAUTH,
                        "%s: the table refused the credentials (check the AccountKey, or the "
                        "SAS's expiry and its read permission on %s, or the identity's role)",
                        msg, table);
    case AZT_ENET:
        return ls_error(LS_EUNAVAIL,
                        "%s: check the table endpoint and the network (a later run retries)", msg);
    case AZT_ETHROTTLED:
        return ls_error(LS_EUNAVAIL, "%s: the table service is busy (a later run retries)", msg);
    case AZT_EHTTP:
        /* A status leadsync has no meaning for (400 InvalidInput, 405, ...):
         * a rerun gets the same answer. */
        return ls_error(LS_ECONFIG,
                        "%s: the table service refused the request; check that "
                        "LEADSYNC_CONNECTION_STRING (or LEADSYNC_TABLE_ENDPOINT) names a Table "
                        "service endpoint and LEADSYNC_TABLE the table",
                        msg);
    default:
        return ls_from_azt(azt_rc);
    }
}

int ls_table_probe(struct azt_client *client, const char *table)
{
    struct azt_iter *it = NULL;
    struct azt_page *page = NULL;
    struct azt_query q = {0};
    int rc;

    /* a point query for a key no row has: the table answers, nothing is read */
    q.filter = "PartitionKey eq '' and RowKey eq ''";
    q.select = "PartitionKey";
    q.top = 1;
    rc = azt_query_open(client, table, &q, &it);
    if (rc == AZT_OK)
        rc = azt_iter_next(it, &page);
    if (rc < 0)
        rc = ls_table_error(client, table, rc);
    else
        rc = LS_OK;
    azt_page_free(page);
    azt_iter_free(it);
    return rc;
}
