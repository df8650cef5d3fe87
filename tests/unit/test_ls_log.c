/* test_ls_log.c - the logger: control characters from the network are
 * blanked, and JSON fields come from structured arguments only. */
#include "ls_test.h"

#include "ls_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs one event with stderr sent to a file; returns what was written. */
static char *capture(int json, const char *msg, const struct ls_log_field *f, size_t n)
{
    static char out[4096];
    FILE *tmp = tmpfile();
    int saved = dup(2);
    size_t got;

    assert_non_null(tmp);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    ls_log_setup(LS_LOG_INFO, json);
    if (f)
        ls_log_fields(LS_LOG_WARN, "test", f, n, "%s", msg);
    else
        ls_log_write(LS_LOG_WARN, "test", "%s", msg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    got = fread(out, 1, sizeof(out) - 1, tmp);
    out[got] = '\0';
    fclose(tmp);
    return out;
}

static void test_ls_log__controls_blanked(void **state)
{
    const char *hostile = "403 Auth\x1b[2J\x1b]0;owned\x07 id=req\r\nfake: line \xc2\x9b"
                          "31m";
    char *text;
    size_t i;

    (void)state;
    text = capture(0, hostile, NULL, 0);
    assert_non_null(strstr(text, "403 Auth"));
    for (i = 0; text[i]; i++)
        if (i + 1 < strlen(text) && ((unsigned char)text[i] < 0x20 || text[i] == 0x7f))
            fail_msg("control character 0x%02x at %zu in %s", text[i], i, text);
    assert_null(strstr(text, "\xc2\x9b"));
    assert_int_equal(strchr(text, '\n') - text, (long)strlen(text) - 1); /* one line */
    text = capture(1, hostile, NULL, 0);
    assert_null(strstr(text, "\\u001b"));
    assert_null(strstr(text, "\\r"));
}

static void test_ls_log__json_fields_not_from_text(void **state)
{
    const struct ls_log_field f[] = {{"rows", NULL, 12}, {"sink", "crm", 0}, {"level", "x", 0}};
    json_t *ev;

    (void)state;
    ev = json_loads(capture(1, "denied: level=debug forged=1 rows=999 msg=x", NULL, 0), 0, NULL);
    assert_non_null(ev);
    assert_null(json_object_get(ev, "forged"));
    assert_null(json_object_get(ev, "rows"));
    assert_string_equal(json_string_value(json_object_get(ev, "level")), "warn");
    json_decref(ev);
    ev = json_loads(capture(1, "run done: rows=999 forged=1", f, 3), 0, NULL);
    assert_non_null(ev);
    assert_int_equal(json_integer_value(json_object_get(ev, "rows")), 12);
    assert_string_equal(json_string_value(json_object_get(ev, "sink")), "crm");
    assert_string_equal(json_string_value(json_object_get(ev, "level")), "warn");
    assert_null(json_object_get(ev, "forged"));
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_log__controls_blanked),
        cmocka_unit_test(test_ls_log__json_fields_not_from_text),
    };
    return lst_run_group(tests, NULL, NULL);
}
