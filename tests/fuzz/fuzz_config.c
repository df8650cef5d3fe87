/*
 * fuzz_config.c - --config files through ls_config_load. The input is
 * written to a private temporary file and loaded with an empty environment.
 *
 * Checks beyond "no crash": a file that loads sets every key it names to the
 * value it gives (strings as they are, integers as numbers); a file that is
 * not JSON fails with "config file PATH: [line L, column C: ]SUMMARY" and
 * nothing else, so no part of the file (a secret) is ever quoted.
 */
#include "ls_config.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];
static int fd = -1;

static void check(int ok)
{
    if (!ok)
        abort();
}

static const char *no_env(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

static void remove_file(void)
{
    unlink(path);
}

static const struct ls_conf_entry *entry(const char *key)
{
    const struct ls_conf_entry *e;
    size_t i;

    for (i = 0; (e = ls_conf_entry_at(i, NULL)) != NULL; i++)
        if (strcmp(e->env, key) == 0)
            return e;
    return NULL;
}

/* Every string or integer the file gives is what the configuration holds. */
static void check_values(const struct ls_config *cfg, json_t *root)
{
    const char *key;
    json_t *val;

    json_object_foreach(root, key, val)
    {
        const struct ls_conf_entry *e = entry(key);
        const char *base = (const char *)cfg;

        check(e != NULL || strcmp(key, "routes") == 0);
        if (!e || e->offset == offsetof(struct ls_config, routes))
            continue;
        if (e->type == LS_CONF_INT) {
            long v = *(const long *)(base + e->offset);

            check(json_is_string(val) || (json_is_integer(val) && json_integer_value(val) == v));
            check(v >= e->min && v <= e->max);
        } else if (json_is_string(val)) {
            check(strcmp(*(char *const *)(base + e->offset), json_string_value(val)) == 0);
        }
    }
}

/* "config file PATH: " then "line L, column C: " or nothing, then a summary. */
static void check_syntax_message(const char *msg)
{
    static const char *const summaries[] = {"cannot be read",
                                            "ends too early",
                                            "a key appears twice",
                                            "a NUL character",
                                            "not UTF-8",
                                            "nested too deeply",
                                            "a number out of range",
                                            "text after the top-level value",
                                            "a NUL character in a key",
                                            "JSON syntax error"};
    char prefix[128];
    const char *rest;
    int line, col, used = 0;
    size_t i;

    snprintf(prefix, sizeof(prefix), "config file %s: ", path);
    check(strncmp(msg, prefix, strlen(prefix)) == 0);
    rest = msg + strlen(prefix);
    if (sscanf(rest, "line %d, column %d: %n", &line, &col, &used) == 2 && used > 0)
        rest += used;
    for (i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++)
        if (strcmp(rest, summaries[i]) == 0)
            return;
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_config cfg;
    json_t *root;
    char *const envp[] = {NULL};

    if (fd < 0) {
        const char *tmp = getenv("TMPDIR");

        snprintf(path, sizeof(path), "%s/fuzz-config-XXXXXX",
                 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
        fd = mkstemp(path);
        check(fd >= 0);
        atexit(remove_file);
    }
    check(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size);
    root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    /* a routes file is read at load: fuzz_secret_file covers it, and a path
     * such as /dev/stdin would only block */
    if (json_object_get(root, "LEADSYNC_ROUTES_FILE")) {
        json_decref(root);
        return 0;
    }
    if (ls_config_load(&cfg, path, envp, no_env, NULL) == 0) {
        check(json_is_object(root));
        check_values(&cfg, root);
    } else if (!root) {
        check_syntax_message(ls_error_last());
    }
    ls_config_dispose(&cfg);
    json_decref(root);
    return 0;
}
