/* ls_url.c - configured URLs through curl's URL API (ls_url.h). */
#include "ls_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ls_url_host_is_loopback(const char *host)
{
    char buf[64];
    struct in_addr a4;
    struct in6_addr a6;
    size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (n > 2 && n < sizeof(buf) + 2 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        return inet_pton(AF_INET6, buf, &a6) == 1 && memcmp(&a6, &in6addr_loopback, 16) == 0;
    }
    return 0;
}

/* Copies one part of h into dst; 0 when the part is absent. */
static int get_part(CURLU *h, CURLUPart what, char *dst, size_t cap)
{
    char *v = NULL;
    int ok = 0;

    if (curl_url_get(h, what, &v, 0) == CURLUE_OK && v && *v) {
        ok = strlen(v) < cap;
        if (ok)
            memcpy(dst, v, strlen(v) + 1);
        else
            ok = -1;
    }
    curl_free(v);
    return ok;
}

int ls_url_parse(const char *url, const char *what, struct ls_url *out)
{
    CURLU *h = curl_url();
    char port[16] = "", skip[8];
    int rc = LS_OK;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!h)
        return ls_error(LS_ENOMEM, "%s: out of memory", what);
    if (!url || !*url || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        get_part(h, CURLUPART_SCHEME, out->scheme, sizeof(out->scheme)) != 1 ||
        get_part(h, CURLUPART_HOST, out->host, sizeof(out->host)) != 1 ||
        get_part(h, CURLUPART_PORT, port, sizeof(port)) < 0) {
        rc = ls_error(LS_ECONFIG, "%s: not a valid absolute URL", what);
        goto done;
    }
    for (i = 0; out->scheme[i]; i++)
        if (out->scheme[i] >= 'A' && out->scheme[i] <= 'Z')
            out->scheme[i] = (char)(out->scheme[i] - 'A' + 'a');
    if (port[0])
        out->port = strtol(port, NULL, 10);
    out->userinfo = get_part(h, CURLUPART_USER, skip, sizeof(skip)) != 0 ||
                    get_part(h, CURLUPART_PASSWORD, skip, sizeof(skip)) != 0 ||
                    get_part(h, CURLUPART_OPTIONS, skip, sizeof(skip)) != 0;
    out->loopback = ls_url_host_is_loopback(out->host);
done:
    curl_url_cleanup(h);
    return rc;
}

char *ls_url_display(const char *url)
{
    CURLU *h = curl_url();
    struct ls_url u;
    char path[2048] = "";
    char *out = NULL;

    if (!h)
        return NULL;
    if (ls_url_parse(url, "url", &u) == LS_OK && curl_url_set(h, CURLUPART_URL, url, 0) == 0 &&
        get_part(h, CURLUPART_PATH, path, sizeof(path)) >= 0) {
        if (u.port)
            out = ls_xasprintf("%s://%s:%ld%s", u.scheme, u.host, u.port, path[0] ? path : "/");
        else
            out = ls_xasprintf("%s://%s%s", u.scheme, u.host, path[0] ? path : "/");
    }
    curl_url_cleanup(h);
    return out;
}

int ls_url_check(const char *url, const char *what, unsigned flags, int *loopback)
{
    struct ls_url u;
    int rc = ls_url_parse(url, what, &u);

    if (loopback)
        *loopback = rc == LS_OK && u.loopback;
    if (rc)
        return rc;
    if ((flags & LS_URL_NO_USERINFO) && u.userinfo)
        return ls_error(LS_ECONFIG,
                        "%s: the URL carries a user name or password; put credentials in "
                        "headers or settings, not in the URL",
                        what);
    if ((flags & LS_URL_HTTP) && strcmp(u.scheme, "https") != 0 && strcmp(u.scheme, "http") != 0)
        return ls_error(LS_ECONFIG, "%s: %s:// is not an HTTP URL", what, u.scheme);
    if ((flags & LS_URL_TLS_ONLY) && !u.loopback && strcmp(u.scheme, "http") == 0)
        return ls_error(LS_ECONFIG,
                        "%s: must be https:// (plain http:// only to a loopback host: 127.0.0.1, "
                        "[::1] or localhost)",
                        what);
    return LS_OK;
}
