/*
 * ls_table.h - the marketplace's table as the commands meet it: a client
 * from the configuration, checked before any request (quotes around the
 * connection string, a missing or short AccountKey, an invalid table name),
 * and one classification of the table's errors into the contract's codes
 * with messages that say what to fix.
 */
#ifndef LS_TABLE_H
#define LS_TABLE_H

#include "ls_common.h"
#include "ls_config.h"

struct azt_client;

/* A client for cfg's table: the connection string's AccountKey or SAS, or
 * Entra ID when only LEADSYNC_TABLE_ENDPOINT is set. Sends nothing. */
LS_NODISCARD int ls_open_table_client(const struct ls_config *cfg, struct azt_client **out);

/*
 * The ls_err for azt_rc, a failed request on table: a missing table and a
 * certificate that does not verify are LS_ECONFIG (the message lists the
 * account's tables when the credentials may list them, or names
 * LEADSYNC_TABLE_CA_FILE), refused credentials LS_EAUTH, an unreachable or
 * throttled service LS_EUNAVAIL, any other status the service answers
 * (400 InvalidInput...) LS_ECONFIG naming it; the rest as ls_from_azt.
 */
int ls_table_error(struct azt_client *client, const char *table, int azt_rc);

/* Asks table for one row (a key no row has): 0 when the table answers, else its error as
 * ls_table_error classifies it. */
LS_NODISCARD int ls_table_probe(struct azt_client *client, const char *table);

/* The checks ls_open_table_client makes before any request, for tests:
 * connection string cs (NULL when unset) and table name. */
LS_NODISCARD int ls_table_precheck(const char *cs, const char *table);

#endif /* LS_TABLE_H */
