/* ls_test_ledger.c - the temporary ledger the ledger tests share (ls_test.h). */
#include "ls_test.h"

#include "ls_common.h"
#include "ls_ledger.h"

#include <stdlib.h>

int lst_ledger_open(const char *path, int readonly, struct ls_ledger **l)
{
    struct ls_ledger_opts o = {0};

    o.path = path;
    o.wal = 1;
    o.readonly = readonly;
    return ls_ledger_open(&o, l);
}

int lst_ledger_setup_dir(void **state)
{
    struct lst_ledger_fix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = lst_tmpdir();
    f->path = ls_xasprintf("%s/ledger.db", f->dir);
    *state = f;
    return 0;
}

int lst_ledger_setup(void **state)
{
    struct lst_ledger_fix *f;

    lst_ledger_setup_dir(state);
    f = *state;
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    return 0;
}

int lst_ledger_teardown(void **state)
{
    struct lst_ledger_fix *f = *state;

    ls_ledger_close(f->l);
    lst_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}
