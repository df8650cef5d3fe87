/*
 * fuzz_secret_file.c - secret files (KEY_FILE=/path) and the routes file
 * (LEADSYNC_ROUTES_FILE) through ls_config_load. The input is the file's
 * content, written to a private temporary file; the environment names it as
 * LEADSYNC_WEBHOOK_HEADERS_FILE (a secret) or as LEADSYNC_ROUTES_FILE,
 * chosen by the input's length.
 *
 * Checks beyond "no crash": text loads as exactly the file's content less
 * its trailing line ends; a file holding a NUL byte is refused (it would cut
 * the value short) with a message that quotes none of it.
 */
#include "ls_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];
static int fd = -1;
static int routes;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void remove_file(void)
{
    unlink(path);
}

static const char *env(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, routes ? "LEADSYNC_ROUTES_FILE" : "LEADSYNC_WEBHOOK_HEADERS_FILE") == 0)
        return path;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_config cfg;
    char *const envp[] = {NULL};
    size_t n = size;
    const char *got;

    if (fd < 0) {
        const char *tmp = getenv("TMPDIR");

        snprintf(path, sizeof(path), "%s/fuzz-secret-XXXXXX",
                 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
        fd = mkstemp(path);
        check(fd >= 0);
        atexit(remove_file);
    }
    check(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size);
    routes = (int)(size & 1);
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    if (ls_config_load(&cfg, NULL, envp, env, NULL) == 0) {
        check(memchr(data, '\0', size) == NULL);
        got = routes ? cfg.routes : cfg.webhook_headers;
        check(got && strlen(got) == n && memcmp(got, data, n) == 0);
    } else {
        const char *msg = ls_error_last();

        check(memchr(data, '\0', size) != NULL && strstr(msg, "holds a NUL byte"));
        check(strncmp(msg, routes ? "LEADSYNC_ROUTES_FILE: " : "LEADSYNC_WEBHOOK_HEADERS_FILE: ",
                      routes ? 22 : 31) == 0);
    }
    ls_config_dispose(&cfg);
    return 0;
}
