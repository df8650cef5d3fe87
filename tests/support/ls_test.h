/*
 * ls_test.h - helpers shared by the C tests: temporary directories, reading
 * fixtures, running the leadsync binary, the Azurite connection string.
 */
#ifndef LS_TEST_H
#define LS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Reads a whole file; NULL on error. *len may be NULL. Caller frees. */
char *lst_read_file(const char *path, size_t *len);
/* Reads tests/fixtures/<rel>; fails the test when missing. */
char *lst_fixture(const char *rel, size_t *len);
/* mkdtemp under $TMPDIR; returns a malloc'd path. lst_rmtree removes it. */
char *lst_tmpdir(void);
void lst_rmtree(const char *path);
/* The Azurite connection string from LEADSYNC_TEST_AZURITE; fails the test
 * with a clear message when unset (run tests through scripts/test). */
const char *lst_azurite(void);
/* A table name unique to this process and call: prefix + pid + counter. */
char *lst_unique_table(const char *prefix);

#endif /* LS_TEST_H */
