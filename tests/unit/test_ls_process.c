/* test_ls_process.c - the core-dump switch: a process is not dumpable (no
 * core dumps, no ptrace by other users) unless debug logging is asked for.
 * Each case runs in a child, since the switch cannot be turned back. */
#include "ls_test.h"

#include "ls_common.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* PR_GET_DUMPABLE in a child after ls_protect_process(level). */
static int dumpable_after(const char *level)
{
    int status = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        ls_protect_process(level);
        _exit(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_ls_process__dumps_off_unless_debug(void **state)
{
    (void)state;
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1); /* the test itself can dump */
    assert_int_equal(dumpable_after(NULL), 0);
    assert_int_equal(dumpable_after("info"), 0);
    assert_int_equal(dumpable_after("warn"), 0);
    assert_int_equal(dumpable_after("DEBUG "), 0);
    assert_int_equal(dumpable_after("debug"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_process__dumps_off_unless_debug),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
