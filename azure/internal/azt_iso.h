/*
 * azt_iso.h - the ISO 8601 UTC check shared by $filter building and page
 * parsing (both must agree on what a Timestamp looks like).
 */
#ifndef AZT_ISO_H
#define AZT_ISO_H

#include <stddef.h>

/* 1 when s[0..n) is YYYY-MM-DDThh:mm:ss[.f{1,7}]Z with fields in range
 * (real calendar days, no leap second), else 0. */
int azt__iso8601_utc_valid(const char *s, size_t n);

#endif /* AZT_ISO_H */
