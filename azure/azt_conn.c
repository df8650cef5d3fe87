/*
 * azt_conn.c - connection strings. Lenient in the way the SDKs are (keys
 * match case-insensitively, elements are trimmed, empty elements and unknown
 * keys are ignored) and strict where a mistake would only surface later as a
 * 403: a bad key, a bad endpoint, both a key and a SAS. Error messages name
 * the element, never its value: values hold keys and signatures.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define DEVSTORE_ACCOUNT "devstoreaccount1"
#define DEVSTORE_KEY                                                                               \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEVSTORE_HOST  "http://127.0.0.1:10002"
#define DEVSTORE_PORT  ":10002"
#define DEFAULT_SUFFIX "core.windows.net"

enum elem {
    E_ACCOUNT_NAME,
    E_ACCOUNT_KEY,
    E_PROTOCOL,
    E_SUFFIX,
    E_TABLE_ENDPOINT,
    E_SAS,
    E_DEV,
    E_DEV_PROXY,
    E_COUNT
};

static const char *const elem_names[E_COUNT] = {
    "AccountName",
    "AccountKey",
    "DefaultEndpointsProtocol",
    "EndpointSuffix",
    "TableEndpoint",
    "SharedAccessSignature",
    "UseDevelopmentStorage",
    "DevelopmentStorageProxyUri",
};

struct span {
    const char *p;
    size_t n;
};

/* A parsed endpoint URL; pointers into the input. */
struct url {
    const char *scheme; /* "http" or "https" */
    struct span host;   /* without brackets for IPv6 */
    int has_port;
    struct span after_scheme; /* "host[:port][/path]" with trailing '/' removed */
    struct span path;         /* "" or "/seg[/...]" */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static struct span trim(const char *p, size_t n)
{
    struct span s;

    while (n && is_space(*p)) {
        p++;
        n--;
    }
    while (n && is_space(p[n - 1]))
        n--;
    s.p = p;
    s.n = n;
    return s;
}

static int span_ieq(struct span s, const char *lit)
{
    return strlen(lit) == s.n && strncasecmp(s.p, lit, s.n) == 0;
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static int is_ip_or_localhost(struct span h, int bracketed)
{
    size_t i;

    if (bracketed || span_ieq(h, "localhost"))
        return 1;
    for (i = 0; i < h.n; i++)
        if (!((h.p[i] >= '0' && h.p[i] <= '9') || h.p[i] == '.'))
            return 0;
    return h.n > 0;
}

static int parse_url(struct span v, const char *what, struct url *u, int *bracketed)
{
    const char *p, *end, *auth_end, *port;
    size_t i;

    memset(u, 0, sizeof(*u));
    *bracketed = 0;
    if (v.n >= 8 && strncasecmp(v.p, "https://", 8) == 0) {
        u->scheme = "https";
        p = v.p + 8;
    } else if (v.n >= 7 && strncasecmp(v.p, "http://", 7) == 0) {
        u->scheme = "http";
        p = v.p + 7;
    } else {
        return azt__error(AZT_ECONFIG, "%s must start with http:// or https://", what);
    }
    end = v.p + v.n;
    while (end > p && end[-1] == '/')
        end--;
    for (i = 0; i < (size_t)(end - p); i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '?' || c == '#' || c == '@' || c <= ' ' || c == 0x7f)
            return azt__error(AZT_ECONFIG,
                              "%s must be a plain URL (no query, fragment, credentials or spaces)",
                              what);
    }
    auth_end = memchr(p, '/', (size_t)(end - p));
    if (!auth_end)
        auth_end = end;
    u->after_scheme.p = p;
    u->after_scheme.n = (size_t)(end - p);
    u->path.p = auth_end;
    u->path.n = (size_t)(end - auth_end);
    if (p < auth_end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(auth_end - p));

        if (!close || close == p + 1)
            return azt__error(AZT_ECONFIG, "%s has a malformed IPv6 host", what);
        *bracketed = 1;
        u->host.p = p + 1;
        u->host.n = (size_t)(close - p - 1);
        port = close + 1 < auth_end ? close + 1 : NULL;
        if (port && *port != ':')
            return azt__error(AZT_ECONFIG, "%s has a malformed IPv6 host", what);
    } else {
        port = memchr(p, ':', (size_t)(auth_end - p));
        u->host.p = p;
        u->host.n = (size_t)((port ? port : auth_end) - p);
        for (i = 0; i < u->host.n; i++)
            if (!host_char(u->host.p[i]))
                return azt__error(AZT_ECONFIG, "%s has an invalid host name", what);
    }
    if (u->host.n == 0)
        return azt__error(AZT_ECONFIG, "%s has no host", what);
    if (port) {
        long num = 0;
        const char *q;

        for (q = port + 1; q < auth_end; q++) {
            if (*q < '0' || *q > '9' || num > 65535)
                return azt__error(AZT_ECONFIG, "%s has an invalid port", what);
            num = num * 10 + (*q - '0');
        }
        if (q == port + 1 || num < 1 || num > 65535)
            return azt__error(AZT_ECONFIG, "%s has an invalid port", what);
        u->has_port = 1;
    }
    return AZT_OK;
}

/* scheme://host[:port][/path] without trailing '/', scheme in lower case. */
static char *join_url(const struct url *u)
{
    size_t sl = strlen(u->scheme);
    char *p = azt_xmalloc(sl + 3 + u->after_scheme.n + 1);

    memcpy(p, u->scheme, sl);
    memcpy(p + sl, "://", 3);
    memcpy(p + sl + 3, u->after_scheme.p, u->after_scheme.n);
    p[sl + 3 + u->after_scheme.n] = '\0';
    return p;
}

static int valid_account(struct span a)
{
    size_t i;

    if (a.n == 0 || a.n > 63)
        return 0;
    for (i = 0; i < a.n; i++) {
        char c = a.p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Splits s into elements; records the last value of each known key. */
static int split_elements(const char *s, size_t n, struct span vals[E_COUNT], int set[E_COUNT])
{
    const char *p = s, *end = s + n;
    size_t pos = 0;
    int k;

    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        struct span el = trim(p, (size_t)(stop - p));
        const char *eq;
        struct span key;

        pos++;
        p = semi ? semi + 1 : end;
        if (el.n == 0)
            continue;
        eq = memchr(el.p, '=', el.n);
        if (!eq)
            return azt__error(AZT_ECONFIG, "connection string element %zu has no '='", pos);
        key = trim(el.p, (size_t)(eq - el.p));
        if (key.n == 0)
            return azt__error(AZT_ECONFIG, "connection string element %zu has an empty name", pos);
        for (k = 0; k < E_COUNT; k++) {
            if (span_ieq(key, elem_names[k])) {
                vals[k] = trim(eq + 1, (size_t)(el.p + el.n - eq - 1));
                set[k] = 1;
                break;
            }
        }
        /* Unknown keys (BlobEndpoint, QueueEndpoint, ...) are ignored like the SDKs do. */
    }
    return AZT_OK;
}

static int valid_suffix(struct span s)
{
    size_t i;

    if (s.n == 0)
        return 0;
    for (i = 0; i < s.n; i++)
        if (!host_char(s.p[i]))
            return 0;
    return 1;
}

static int valid_sas(struct span s)
{
    size_t i;

    for (i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];

        if (c <= ' ' || c == 0x7f || c == '#')
            return 0;
    }
    return 1;
}

/* The settings of a connection string, checked, before the endpoint. */
struct settings {
    int dev;
    const char *proto;
    struct span suffix, account, key, sas;
};

static int read_protocol(const struct span *vals, const int *set, struct settings *st)
{
    if (set[E_DEV]) {
        if (span_ieq(vals[E_DEV], "true"))
            st->dev = 1;
        else if (!span_ieq(vals[E_DEV], "false"))
            return azt__error(AZT_ECONFIG, "UseDevelopmentStorage must be true or false");
    }
    st->proto = st->dev ? "http" : "https";
    if (set[E_PROTOCOL]) {
        if (span_ieq(vals[E_PROTOCOL], "https"))
            st->proto = "https";
        else if (span_ieq(vals[E_PROTOCOL], "http"))
            st->proto = "http";
        else
            return azt__error(AZT_ECONFIG, "DefaultEndpointsProtocol must be http or https");
    }
    st->suffix.p = DEFAULT_SUFFIX;
    st->suffix.n = strlen(DEFAULT_SUFFIX);
    if (set[E_SUFFIX]) {
        st->suffix = vals[E_SUFFIX];
        while (st->suffix.n && st->suffix.p[0] == '.') {
            st->suffix.p++;
            st->suffix.n--;
        }
        if (!valid_suffix(st->suffix))
            return azt__error(AZT_ECONFIG, "EndpointSuffix is not a host name");
    }
    return AZT_OK;
}

static int read_credentials(const struct span *vals, const int *set, struct settings *st)
{
    if (set[E_ACCOUNT_NAME]) {
        st->account = vals[E_ACCOUNT_NAME];
        if (!valid_account(st->account))
            return azt__error(AZT_ECONFIG, "AccountName must be 1-63 letters, digits or hyphens");
    } else if (st->dev) {
        st->account.p = DEVSTORE_ACCOUNT;
        st->account.n = strlen(DEVSTORE_ACCOUNT);
    }
    if (set[E_ACCOUNT_KEY] && set[E_SAS])
        return azt__error(AZT_ECONFIG,
                          "AccountKey and SharedAccessSignature are both set; use one");
    if (set[E_ACCOUNT_KEY]) {
        st->key = vals[E_ACCOUNT_KEY];
        if (st->key.n == 0)
            return azt__error(AZT_ECONFIG, "AccountKey is empty");
    } else if (st->dev && !set[E_SAS]) {
        st->key.p = DEVSTORE_KEY;
        st->key.n = strlen(DEVSTORE_KEY);
    }
    if (set[E_SAS]) {
        st->sas = vals[E_SAS];
        if (st->sas.n && st->sas.p[0] == '?') {
            st->sas.p++;
            st->sas.n--;
        }
        if (st->sas.n == 0)
            return azt__error(AZT_ECONFIG, "SharedAccessSignature is empty");
        if (!valid_sas(st->sas))
            return azt__error(AZT_ECONFIG,
                              "SharedAccessSignature contains spaces or control characters");
    }
    return AZT_OK;
}

/* The emulator's endpoint: behind DevelopmentStorageProxyUri, or the default. */
static int emulator_endpoint(const struct span *vals, const int *set, const struct settings *st,
                             struct azt_buf *ep)
{
    struct url u;
    int bracketed = 0, rc;

    if (!set[E_DEV_PROXY])
        return azt__buf_appendf(ep, DEVSTORE_HOST "/%.*s", (int)st->account.n, st->account.p);
    rc = parse_url(vals[E_DEV_PROXY], "DevelopmentStorageProxyUri", &u, &bracketed);
    if (rc == AZT_OK && u.path.n)
        rc = azt__error(AZT_ECONFIG, "DevelopmentStorageProxyUri must not have a path");
    if (rc == AZT_OK)
        rc = azt__buf_appendf(ep, "%s://%.*s%s/%.*s", u.scheme, (int)u.after_scheme.n,
                              u.after_scheme.p, u.has_port ? "" : DEVSTORE_PORT, (int)st->account.n,
                              st->account.p);
    return rc;
}

/* The endpoint: explicit, else the emulator's, else derived from the account. */
static int find_endpoint(const struct span *vals, const int *set, const struct settings *st,
                         struct azt_buf *ep, struct url *u, int *bracketed)
{
    struct span endpoint;
    const char *what;
    int rc;

    if (set[E_TABLE_ENDPOINT])
        return parse_url(vals[E_TABLE_ENDPOINT], "TableEndpoint", u, bracketed);
    if (st->dev) {
        what = "the emulator endpoint";
        rc = emulator_endpoint(vals, set, st, ep);
    } else if (st->account.p) {
        what = "the derived endpoint";
        rc = azt__buf_appendf(ep, "%s://%.*s.table.%.*s", st->proto, (int)st->account.n,
                              st->account.p, (int)st->suffix.n, st->suffix.p);
    } else {
        return azt__error(AZT_ECONFIG, "no table endpoint: set TableEndpoint, AccountName or "
                                       "UseDevelopmentStorage=true");
    }
    if (rc != AZT_OK)
        return rc;
    endpoint.p = ep->ptr;
    endpoint.n = ep->len;
    return parse_url(endpoint, what, u, bracketed);
}

/* The account and the table endpoint c keeps: path-style (the account is the
 * first path segment), an emulator host (the account added to the path), or
 * a service host (acct.table.core.windows.net: the first label). */
static int place_account(struct azt_conn *c, const struct url *u, int bracketed,
                         struct span account)
{
    if (u->path.n > 1) {
        struct span seg;
        const char *slash = memchr(u->path.p + 1, '/', u->path.n - 1);

        seg.p = u->path.p + 1;
        seg.n = slash ? (size_t)(slash - seg.p) : u->path.n - 1;
        if (!account.p && !valid_account(seg))
            return azt__error(AZT_ECONFIG,
                              "TableEndpoint's first path segment is not an account name");
        if (!account.p)
            account = seg;
        c->is_emulator = 1;
        c->table_endpoint = join_url(u);
    } else if (is_ip_or_localhost(u->host, bracketed)) {
        struct azt_buf b = {0};
        int rc;

        if (!account.p)
            return azt__error(AZT_ECONFIG,
                              "TableEndpoint needs the account name as its first path segment");
        rc = azt__buf_appendf(&b, "%s://%.*s/%.*s", u->scheme, (int)u->after_scheme.n,
                              u->after_scheme.p, (int)account.n, account.p);
        if (rc != AZT_OK) {
            azt__buf_dispose(&b);
            return rc;
        }
        c->is_emulator = 1;
        c->table_endpoint = azt__buf_take(&b);
    } else {
        if (!account.p) {
            const char *dot = memchr(u->host.p, '.', u->host.n);

            account.p = u->host.p;
            account.n = dot ? (size_t)(dot - u->host.p) : u->host.n;
            if (!valid_account(account))
                return azt__error(AZT_ECONFIG, "cannot derive the account name from "
                                               "TableEndpoint; set AccountName");
        }
        c->table_endpoint = join_url(u);
    }
    c->account = azt_xstrndup(account.p, account.n);
    return AZT_OK;
}

int azt_conn_parse(const char *s, size_t n, struct azt_conn **out)
{
    struct span vals[E_COUNT];
    int set[E_COUNT] = {0};
    struct settings st;
    struct azt_conn *c = NULL;
    struct azt_buf ep = {0};
    int rc, bracketed = 0;
    struct url u;

    *out = NULL;
    memset(vals, 0, sizeof(vals));
    memset(&st, 0, sizeof(st));
    if (!s || n == 0 || trim(s, n).n == 0)
        return azt__error(AZT_ECONFIG, "connection string is empty");
    if (memchr(s, '\0', n))
        return azt__error(AZT_ECONFIG, "connection string contains a NUL byte");
    if ((rc = split_elements(s, n, vals, set)) != AZT_OK ||
        (rc = read_protocol(vals, set, &st)) != AZT_OK ||
        (rc = read_credentials(vals, set, &st)) != AZT_OK)
        return rc;

    c = azt_xcalloc(1, sizeof(*c));
    if (st.key.p) {
        rc = azt_base64_decode(st.key.p, st.key.n, &c->key, &c->key_len);
        if (rc != AZT_OK || c->key_len == 0) {
            rc = azt__error(AZT_ECONFIG, "AccountKey is not valid base64");
            goto done;
        }
    }
    if (set[E_SAS])
        c->sas = azt_xstrndup(st.sas.p, st.sas.n);
    rc = find_endpoint(vals, set, &st, &ep, &u, &bracketed);
    if (rc == AZT_OK)
        rc = place_account(c, &u, bracketed, st.account);
    if (rc != AZT_OK)
        goto done;
    *out = c;
    c = NULL;
done:
    azt__buf_dispose(&ep);
    azt_conn_free(c);
    return rc;
}

void azt_conn_free(struct azt_conn *conn)
{
    if (!conn)
        return;
    if (conn->key)
        OPENSSL_cleanse(conn->key, conn->key_len);
    if (conn->sas)
        OPENSSL_cleanse(conn->sas, strlen(conn->sas));
    free(conn->key);
    free(conn->sas);
    free(conn->account);
    free(conn->table_endpoint);
    free(conn);
}
