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
/* Decodes base64url (no padding) s[0..n), as in a JWT; fails the test on
 * bad input. Caller frees; *outlen is the decoded length. */
unsigned char *lst_b64url_decode(const char *s, size_t n, size_t *outlen);

/* A temporary ledger for the ledger tests: a fresh directory, its
 * ledger.db, and the ledger open there with WAL (lst_ledger_setup) or not
 * yet opened (lst_ledger_setup_dir). lst_ledger_teardown closes and removes
 * it. Use as cmocka setup/teardown; *state is a struct lst_ledger_fix. */
struct ls_ledger;
struct lst_ledger_fix {
    char *dir;
    char *path;
    struct ls_ledger *l;
};
int lst_ledger_setup(void **state);
int lst_ledger_setup_dir(void **state);
int lst_ledger_teardown(void **state);
/* Opens the ledger at path with WAL, read-only when asked. */
int lst_ledger_open(const char *path, int readonly, struct ls_ledger **l);

/*
 * Skipping, honestly: a file in which any test skipped has not checked
 * everything it names, so it exits 77, which ctest shows as skipped
 * (SKIP_RETURN_CODE in tests/CMakeLists.txt). Tests skip with lst_skip(why),
 * never cmocka's bare skip(), and main returns lst_run_group(...).
 */
#define lst_skip(why)                                                                              \
    do {                                                                                           \
        lst_note_skip(why);                                                                        \
        skip();                                                                                    \
    } while (0)
void lst_note_skip(const char *why);
/* The exit status for cmocka's count of failed tests: that count when some
 * failed, 77 when none failed and one skipped, else 0. */
int lst_exit_status(int failed);
#define lst_run_group(tests, setup, teardown)                                                      \
    lst_exit_status(cmocka_run_group_tests(tests, setup, teardown))

#endif /* LS_TEST_H */
