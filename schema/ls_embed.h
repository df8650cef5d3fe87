/*
 * ls_embed.h - files embedded into the binary at build time (SQL migrations,
 * default field mappings). Generated arrays end with an all-zero entry.
 */
#ifndef LS_EMBED_H
#define LS_EMBED_H

#include <stddef.h>

struct ls_embedded {
    const char *name; /* base file name, e.g. "001_init.sql" */
    const char *data; /* contents, NUL-terminated */
    size_t len;
};

/* schema/sqlite/NNN_*.sql in name order */
extern const struct ls_embedded ls_migrations[];
/* schema/mapping/<crm>.json: default field mappings (worker/ls_mapping.h) */
extern const struct ls_embedded ls_mappings[];

#endif /* LS_EMBED_H */
