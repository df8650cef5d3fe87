/* ls_http_server.c - /metrics and /healthz over libmicrohttpd; Pushgateway. */
#include "ls_http_server.h"

#include "ls_crm.h"
#include "ls_log.h"
#include "ls_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* A few slow or hostile clients cannot starve the probes: each address
 * holds at most PER_IP connections of a pool of POOL, a connection idle for
 * IDLE_S seconds is closed, one that is never idle (a byte now and then)
 * is cut DEADLINE_S seconds after it opened, and a request whose headers
 * outgrow MEM_BYTES or that carries a body is refused. */
#define POOL       64
#define PER_IP     8
#define IDLE_S     5
#define DEADLINE_S 15
#define MEM_BYTES  (16 * 1024)

/* An open connection: its socket and when it opened (fd -1: a free slot). */
struct conn_slot {
    int fd;
    int cut;
    int64_t since_ms;
};

struct ls_http_server {
    struct MHD_Daemon *daemon;
    int64_t fail_after_ms;
    int port;
    /* the deadline: libmicrohttpd's own timeout is an idle one, so a reaper
     * thread shuts down the sockets of connections open too long; MHD then
     * sees the end of the stream and closes them itself. */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t reaper;
    int reaper_on, stopping;
    struct conn_slot conns[POOL];
};

int ls_http_parse_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon, *p;
    const char *h = "";
    size_t hl = 0;
    long v = 0;

    *port = 0;
    if (hostlen)
        host[0] = '\0';
    if (!addr || !*addr)
        return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR is empty");
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');

        if (!close || close[1] != ':')
            return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': expected [v6]:port", addr);
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon) {
            h = addr;
            hl = (size_t)(colon - addr);
        } else {
            colon = addr - 1; /* the whole text is the port */
        }
    }
    p = colon + 1;
    if (!*p)
        return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': no port", addr);
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': bad port", addr);
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': bad port", addr);
    if (hl + 1 > hostlen)
        return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': host too long", addr);
    /* "::1:9090" could be [::1]:9090 or [::1:9090] with no port: say which to write */
    if (addr[0] != '[' && memchr(h, ':', hl))
        return ls_error(LS_ECONFIG,
                        "LEADSYNC_METRICS_ADDR '%s': an IPv6 address needs brackets: write "
                        "[%.*s]:%s",
                        addr, (int)hl, h, colon + 1);
    /* a bracket left in the host ("[[::1]:80", "a]:80") names no address */
    if (memchr(h, '[', hl) || memchr(h, ']', hl))
        return ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': expected host:port or [v6]:port",
                        addr);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return LS_OK;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             const char *body, size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char *copy = ls_xmalloc(len + 1);

    memcpy(copy, body, len);
    r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(copy);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct ls_http_server *s = cls;
    static int first_call_marker;
    char why[320];
    char body[330];
    struct ls_health h;
    const char *clen;
    int ok;

    (void)version;
    (void)upload_data;
    /* Refused on the headers, before any body is read. */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", "method not allowed\n", 19);
    clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if ((clen && strcmp(clen, "0") != 0) ||
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding"))
        return reply(conn, 413, "text/plain", "no request body\n", 16);
    if (*req_cls == NULL) { /* headers only so far: wait for the body (none) */
        *req_cls = &first_call_marker;
        return MHD_YES;
    }
    *upload_data_size = 0;
    if (strcmp(url, "/metrics") == 0) {
        char *txt = NULL;
        size_t len = 0;
        enum MHD_Result ret;

        if (ls_metrics_format(ls_metrics_default(), &txt, &len) != LS_OK)
            return reply(conn, 500, "text/plain", "error\n", 6);
        ret = reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", txt, len);
        free(txt);
        return ret;
    }
    /* Liveness: the process answers. It never depends on Azure or a sink,
     * so an outage does not get the pod restarted in a loop (/healthz says
     * that). */
    if (strcmp(url, "/livez") == 0)
        return reply(conn, 200, "text/plain", "ok\n", 3);
    if (strcmp(url, "/healthz") == 0) {
        ls_health_snapshot(&h);
        ok = ls_health_check(&h, ls_now_ms(), s->fail_after_ms, why, sizeof(why));
        snprintf(body, sizeof(body), "%s\n", why);
        return reply(conn, ok ? 200 : 503, "text/plain", body, strlen(body));
    }
    return reply(conn, 404, "text/plain", "not found\n", 10);
}

/* libmicrohttpd's connection notices (its thread): a slot per open connection. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    struct ls_http_server *s = cls;
    struct conn_slot *slot = *socket_ctx;
    const union MHD_ConnectionInfo *ci;
    size_t i;

    pthread_mutex_lock(&s->mu);
    if (code == MHD_CONNECTION_NOTIFY_CLOSED && slot) {
        slot->fd = -1;
        *socket_ctx = NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_STARTED &&
               (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL) {
        for (i = 0; i < POOL && s->conns[i].fd >= 0; i++)
            ;
        if (i < POOL) {
            s->conns[i].fd = (int)ci->connect_fd;
            s->conns[i].cut = 0;
            s->conns[i].since_ms = ls_mono_ms();
            *socket_ctx = &s->conns[i];
            pthread_cond_signal(&s->wake); /* the reaper may be waiting for one */
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* Once a second while a connection is open: those past the deadline are
 * shut down. With none open it sleeps until one opens. */
static void *reap(void *arg)
{
    struct ls_http_server *s = arg;
    struct timespec at;
    size_t i;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int64_t now = ls_mono_ms();
        int live = 0;

        for (i = 0; i < POOL; i++) {
            struct conn_slot *c = &s->conns[i];

            if (c->fd >= 0 && !c->cut && now - c->since_ms >= DEADLINE_S * 1000) {
                (void)shutdown(c->fd, SHUT_RDWR);
                c->cut = 1;
            }
            live |= c->fd >= 0 && !c->cut;
        }
        if (!live) {
            (void)pthread_cond_wait(&s->wake, &s->mu);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += 1;
        (void)pthread_cond_timedwait(&s->wake, &s->mu, &at);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The lock, the reaper's wake-up (on the monotonic clock) and the reaper. */
static int reaper_start(struct ls_http_server *s)
{
    pthread_condattr_t ca;
    size_t i;

    for (i = 0; i < POOL; i++)
        s->conns[i].fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->reaper, NULL, reap, s) != 0)
        return ls_error(LS_EIO, "http: cannot start the connection reaper");
    s->reaper_on = 1;
    return LS_OK;
}

int ls_http_server_start(const char *addr, int64_t fail_after_ms, struct ls_http_server **out)
{
    struct ls_http_server *s = NULL;
    struct addrinfo hints, *ai = NULL;
    char host[256];
    char portstr[16];
    int port, rc, gai;
    const union MHD_DaemonInfo *info;

    *out = NULL;
    rc = ls_http_parse_addr(addr, host, sizeof(host), &port);
    if (rc)
        goto done;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    gai = getaddrinfo(*host ? host : NULL, portstr, &hints, &ai);
    if (gai != 0) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': %s", addr, gai_strerror(gai));
        goto done;
    }
    s = ls_xcalloc(1, sizeof(*s));
    s->fail_after_ms = fail_after_ms;
    rc = reaper_start(s);
    if (rc)
        goto done;
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)POOL, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEM_BYTES, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_METRICS_ADDR '%s': cannot listen (%s)", addr,
                      strerror(errno));
        goto done;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : port;
    LS_INFO("http", "serving /metrics and /healthz on %s (port %d)", addr, s->port);
    *out = s;
    s = NULL;
done:
    if (ai)
        freeaddrinfo(ai);
    ls_http_server_stop(s);
    return rc;
}

int ls_http_server_port(const struct ls_http_server *s)
{
    return s ? s->port : 0;
}

void ls_http_server_stop(struct ls_http_server *s)
{
    if (!s)
        return;
    if (s->reaper_on) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->reaper, NULL);
    }
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* One PUT of the metrics text; the answer's body is not kept (and never
 * reaches stdout). */
int ls_metrics_push(const char *url, const char *job, long timeout_ms)
{
    static const char *const hdrs[] = {"Content-Type: text/plain; version=0.0.4", NULL};
    struct ls_crm_req req = {"PUT", NULL, hdrs, NULL, 0, NULL, NULL, NULL};
    struct ls_crm_http *h = NULL;
    struct ls_crm_resp resp;
    char *txt = NULL, *full = NULL;
    size_t len = 0, ul;
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = ls_metrics_format(ls_metrics_default(), &txt, &len);
    if (rc)
        goto done;
    ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    full = ls_xasprintf("%.*s/metrics/job/%s", (int)ul, url, job);
    rc = ls_crm_http_create("pushgateway", NULL, 0, &h);
    if (rc)
        goto done;
    ls_crm_http_allow_http(h, NULL); /* a Pushgateway is often plain http:// */
    ls_crm_http_timeouts(h, timeout_ms, timeout_ms);
    ls_crm_http_body_cap(h, 0);
    req.url = full;
    req.body = txt;
    req.len = len;
    rc = ls_crm_call(h, &req, &resp);
    if (rc == LS_OK && resp.status == 0)
        rc = ls_error(LS_EUNAVAIL, "pushgateway: %s", resp.transport);
    else if (rc == LS_OK && (resp.status < 200 || resp.status > 299))
        rc = ls_error(LS_EUNAVAIL, "pushgateway: HTTP %d", resp.status);
done:
    ls_crm_resp_dispose(&resp);
    ls_crm_http_free(h);
    free(full);
    free(txt);
    return rc;
}
