/*
 * ls_route.h - routes: which leads a sink receives.
 *
 * LEADSYNC_ROUTES (or LEADSYNC_ROUTES_FILE, or "routes" in --config) is a
 * JSON object mapping a sink name to a filter:
 *   {"sales": {"offer": ["contoso.*"], "country": ["US", "CA"]}}
 * Fields: offer (publisher.offer), source, action, stage (the stage the lead
 * reached: initial-interest, trial, active, do-not-contact), country. Each
 * list holds shell-style globs (fnmatch: * ? [..]), compared without regard
 * to case; the values of a list are ORed, the fields ANDed. A sink without a
 * route receives every lead. The sync engine applies routes when it
 * enqueues: a lead a route excludes is never queued for that sink.
 */
#ifndef LS_ROUTE_H
#define LS_ROUTE_H

#include "ls_common.h"

#include <stddef.h>

enum ls_route_field {
    LS_ROUTE_OFFER = 0,
    LS_ROUTE_SOURCE,
    LS_ROUTE_ACTION,
    LS_ROUTE_STAGE,
    LS_ROUTE_COUNTRY,
    LS_ROUTE_NFIELDS
};

/* What a route looks at in one lead: a value per field (NULL reads as ""). */
struct ls_route_lead {
    const char *v[LS_ROUTE_NFIELDS];
};

struct ls_route;

/*
 * Parses routes JSON text (origin names where it came from, for messages)
 * for the sinks ids[0..n): out[i] is ids[i]'s route, NULL when it has none.
 * A route naming an unknown sink, an unknown field, or holding a bad glob is
 * LS_ECONFIG naming the key. text NULL or "" means no routes.
 */
LS_NODISCARD int ls_routes_parse(const char *text, const char *origin, const char *const *ids,
                                 size_t n, struct ls_route **out);
/* 1 when the lead passes the route (a NULL route passes every lead). */
int ls_route_match(const struct ls_route *r, const struct ls_route_lead *lead);
/* The route in words for `check`: "offer contoso.* and country US|CA", or
 * "every lead" for NULL. */
void ls_route_describe(const struct ls_route *r, char *buf, size_t cap);
void ls_route_free(struct ls_route *r);

#endif /* LS_ROUTE_H */
