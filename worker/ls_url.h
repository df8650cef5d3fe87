/*
 * ls_url.h - URLs a user configures (sink endpoints, token and API hosts),
 * read with curl's URL parser rather than by string prefixes.
 *
 * A sink's printed and stored name comes from ls_url_display():
 * scheme://host[:port]/path, never the userinfo, query or fragment, so a
 * token in a query string (?code=...) reaches neither logs, `check`, /metrics
 * labels, `status` nor the ledger. Credentials in a URL's userinfo are
 * refused: they belong in headers or settings.
 */
#ifndef LS_URL_H
#define LS_URL_H

#include "ls_common.h"

/* What a URL is made of, as curl parsed it. */
struct ls_url {
    char scheme[16]; /* lower case */
    char host[256];  /* "[::1]" for IPv6 */
    long port;       /* as written, 0 when the URL names none */
    int userinfo;    /* 1: user, password or login options were given */
    int loopback;    /* 1: 127.0.0.0/8, ::1 or localhost */
};

/* Parses url; LS_ECONFIG naming `what` when it is not a URL curl accepts. */
LS_NODISCARD int ls_url_parse(const char *url, const char *what, struct ls_url *out);

/* Policies for ls_url_check. */
enum {
    LS_URL_HTTP = 1 << 0,     /* http(s):// (else the scheme is not checked) */
    LS_URL_TLS_ONLY = 1 << 1, /* https (smtps, or smtp with STARTTLS) unless the host is loopback */
    LS_URL_NO_USERINFO = 1 << 2 /* user:password@ is refused */
};

/*
 * Parses url and applies the policy flags. what names the setting in the
 * message ("LEADSYNC_SINKS: webhook", "LEADSYNC_HUBSPOT_BASE_URL"); the URL
 * itself is quoted only as ls_url_display gives it. *loopback (may be NULL)
 * is set to 1 when the host is 127.0.0.0/8, ::1 or localhost.
 * Returns 0 or LS_ECONFIG.
 */
LS_NODISCARD int ls_url_check(const char *url, const char *what, unsigned flags, int *loopback);

/* scheme://host[:port]/path of url, malloc'd; NULL when url does not parse. */
char *ls_url_display(const char *url);

/* 1 when host (as curl gives it: "[::1]" for IPv6) is a loopback host. */
int ls_url_host_is_loopback(const char *host);

#endif /* LS_URL_H */
