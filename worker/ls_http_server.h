/*
 * ls_http_server.h - the daemon's operations listener (libmicrohttpd, its own
 * thread) on LEADSYNC_METRICS_ADDR, and the Pushgateway client for one-shot
 * runs.
 *
 *   GET /metrics  the default registry (ls_metrics.h) in Prometheus text
 *   GET /healthz  200 "ok" once a poll has succeeded and neither the source
 *                 nor every sink has failed for longer than the threshold;
 *                 503 with the reason otherwise (readiness)
 *   GET /livez    200 "ok" while the process answers (liveness): never
 *                 depends on the source or the sinks, so an outage does not
 *                 get the pod restarted in a loop
 */
#ifndef LS_HTTP_SERVER_H
#define LS_HTTP_SERVER_H

#include "ls_common.h"

#include <stdint.h>

struct ls_http_server;

/* addr: "host:port", ":port" or "port" (all interfaces); port 0 picks a free
 * one. fail_after_ms: the health threshold. */
LS_NODISCARD int ls_http_server_start(const char *addr, int64_t fail_after_ms,
                                      struct ls_http_server **out);
/* The port actually bound. */
int ls_http_server_port(const struct ls_http_server *s);
void ls_http_server_stop(struct ls_http_server *s);

/* Splits "host:port" (pure; exposed for tests). host gets "" for all
 * interfaces; an IPv6 host needs brackets ([::1]:9090): a bare "::1:9090" is
 * refused, it could also be read as an address without a port. */
LS_NODISCARD int ls_http_parse_addr(const char *addr, char *host, size_t hostlen, int *port);

/* PUTs the default registry to <url>/metrics/job/<job> (Pushgateway). */
LS_NODISCARD int ls_metrics_push(const char *url, const char *job, long timeout_ms);

#endif /* LS_HTTP_SERVER_H */
