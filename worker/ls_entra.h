/*
 * ls_entra.h - Microsoft Entra ID tokens for the table, so no account key
 * needs to live on the pod. One credential is picked from the environment in
 * the order of the Azure SDKs' DefaultAzureCredential:
 *
 *   1. client secret      AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
 *   2. workload identity  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE
 *                         (the file is re-read for every token: it rotates)
 *   3. managed identity   IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service style),
 *                         else the instance metadata endpoint (IMDS) at
 *                         AZURE_POD_IDENTITY_AUTHORITY_HOST or 169.254.169.254;
 *                         AZURE_CLIENT_ID picks a user-assigned identity
 *
 * 1 and 2 post to AZURE_AUTHORITY_HOST (default
 * https://login.microsoftonline.com)/<tenant>/oauth2/v2.0/token with scope
 * https://storage.azure.com/.default. Tokens are cached and refreshed 5
 * minutes before they expire. Tokens, secrets and assertions never appear in
 * messages.
 */
#ifndef LS_ENTRA_H
#define LS_ENTRA_H

#include "ls_common.h"

#include "azt.h"

#include <stddef.h>
#include <time.h>

enum ls_entra_kind {
    LS_ENTRA_CLIENT_SECRET = 0,
    LS_ENTRA_WORKLOAD_IDENTITY,
    LS_ENTRA_APP_SERVICE_MI,
    LS_ENTRA_IMDS_MI,
};

struct ls_entra_opts {
    /* Reads the environment; NULL = getenv. */
    const char *(*getenv)(void *ctx, const char *name);
    /* Wall clock in seconds; NULL = time(). */
    time_t (*now)(void *ctx);
    void *ctx;
    long timeout_ms;        /* per token request; 0 = 10000 */
    long refresh_early_sec; /* 0 = 300 */
};

struct ls_entra;

LS_NODISCARD int ls_entra_create(const struct ls_entra_opts *opts, struct ls_entra **out);
void ls_entra_free(struct ls_entra *e);
enum ls_entra_kind ls_entra_kind_of(const struct ls_entra *e);
const char *ls_entra_kind_name(enum ls_entra_kind k);

/* The azt_token_source callback: ctx is a struct ls_entra *. Returns 0 or a
 * negative LS_ code; *token malloc'd. */
int ls_entra_get_token(void *ctx, int force_refresh, char **token, time_t *expires_at);

/* A token source backed by one credential for the life of the process (freed
 * at exit); the credential is picked from the environment on first use. */
LS_NODISCARD int ls_entra_process_source(long timeout_ms, struct azt_token_source *out);

/* Pure: parses a token response (v2.0 "expires_in", or managed identity's
 * "expires_on" as a number or a string of unix seconds). */
LS_NODISCARD int ls_entra_parse_token(const char *body, size_t len, time_t now, char **token,
                                      time_t *expires_at);

#endif /* LS_ENTRA_H */
