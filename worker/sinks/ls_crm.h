/*
 * ls_crm.h - what the CRM sinks (Salesforce, Dynamics 365, and the ones to
 * come) share: RS256 JSON Web Tokens for OAuth assertions, and one blocking
 * HTTPS request at a time over a kept-alive curl handle with the sink's CA
 * file and timeout, keeping the few response headers CRMs signal with.
 *
 * Requests go out one after another from the delivery thread, so a token
 * refresh can never race another: refreshes are serialized by construction.
 */
#ifndef LS_CRM_H
#define LS_CRM_H

#include "ls_common.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* base64url without padding (RFC 7515 section 2). malloc'd. */
char *ls_b64url(const unsigned char *p, size_t len);

/*
 * Builds header.claims.signature with RS256 (RSASSA-PKCS1-v1_5, SHA-256)
 * using the PEM private key key_pem (PKCS#1 or PKCS#8, unencrypted). header
 * and claims are serialized compactly, keys in insertion order. Returns 0,
 * or LS_ECONFIG when the key is not a usable RSA private key (the message
 * never quotes the key).
 */
LS_NODISCARD int ls_jwt_rs256(const json_t *header, const json_t *claims, const char *key_pem,
                              char **out);

/* The x5t of a PEM certificate: base64url of its DER's SHA-1. LS_ECONFIG
 * when cert_pem holds no certificate. */
LS_NODISCARD int ls_jwt_x5t(const char *cert_pem, char **out);

/* A random RFC 4122 version-4 UUID text (jti, batch boundaries). */
void ls_crm_uuid(char out[37]);

struct ls_crm_http;

struct ls_crm_resp {
    int status;     /* 0: no answer */
    int tls_config; /* 1: no answer because of TLS trust or the URL (fatal) */
    char *body;     /* NUL-terminated, at most 8 MiB kept */
    size_t len;
    long retry_after_ms;    /* Retry-After, -1 when none */
    char limit_info[128];   /* Sforce-Limit-Info */
    char entity_id[512];    /* OData-EntityId */
    char content_type[128]; /* Content-Type */
    char transport[320];    /* error text when status == 0 */
};

/* comp names the sink in messages ("salesforce"); ca_file may be NULL;
 * timeout_s <= 0 means 30 s. */
LS_NODISCARD int ls_crm_http_create(const char *comp, const char *ca_file, long timeout_s,
                                    struct ls_crm_http **out);
void ls_crm_http_free(struct ls_crm_http *h);

/*
 * One request. headers: NULL-terminated "Name: value" strings (may be
 * NULL); body may be NULL (no body). Fills *resp (free with
 * ls_crm_resp_dispose). Returns 0 (transport failures are in resp->status ==
 * 0), or a negative ls_err when the request could not be built.
 */
LS_NODISCARD int ls_crm_request(struct ls_crm_http *h, const char *method, const char *url,
                                const char *const *headers, const char *body, size_t len,
                                struct ls_crm_resp *resp);
void ls_crm_resp_dispose(struct ls_crm_resp *resp);

/* Percent-encodes s for a form value or URL segment (RFC 3986 unreserved
 * kept). malloc'd. */
char *ls_crm_escape(const char *s);

/* s without surrounding whitespace, ASCII letters lower-cased (upsert keys
 * such as emails). malloc'd. */
char *ls_crm_lower_trim(const char *s);

/* Copies an excerpt of a body into dst (control characters replaced). */
void ls_crm_excerpt(char *dst, size_t cap, const char *body, size_t len);

#endif /* LS_CRM_H */
