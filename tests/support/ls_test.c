/* ls_test.c - shared helpers for the C tests. */
#include "ls_test.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *lst_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

char *lst_fixture(const char *rel, size_t *len)
{
    char path[4096];
    char *p;

    snprintf(path, sizeof(path), "%s/%s", LS_FIXTURES, rel);
    p = lst_read_file(path, len);
    if (!p)
        fail_msg("missing fixture %s", path);
    return p;
}

char *lst_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    char *p;

    snprintf(tmpl, sizeof(tmpl), "%s/leadsync-test-XXXXXX", base && *base ? base : "/tmp");
    p = mkdtemp(tmpl);
    if (!p)
        fail_msg("mkdtemp failed");
    return strdup(p);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void lst_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *lst_azurite(void)
{
    const char *s = getenv("LEADSYNC_TEST_AZURITE");

    if (!s || !*s)
        fail_msg("LEADSYNC_TEST_AZURITE is not set: integration tests need Azurite; "
                 "run them through ./scripts/test");
    return s;
}

char *lst_unique_table(const char *prefix)
{
    static unsigned counter;
    char buf[64];

    snprintf(buf, sizeof(buf), "%s%ldn%u", prefix, (long)getpid(), counter++);
    return strdup(buf);
}

static int skipped;

void lst_note_skip(const char *why)
{
    fprintf(stderr, "SKIPPED: %s\n", why);
    skipped++;
}

int lst_exit_status(int failed)
{
    if (failed)
        return failed;
    return skipped ? 77 : 0;
}

unsigned char *lst_b64url_decode(const char *s, size_t n, size_t *outlen)
{
    char *t = calloc(1, n + 4);
    unsigned char *out = calloc(1, n + 4);
    size_t i, m = n;
    int got;

    for (i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (m % 4)
        t[m++] = '=';
    got = EVP_DecodeBlock(out, (unsigned char *)t, (int)m);
    assert_true(got >= 0);
    *outlen = (size_t)got - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    free(t);
    return out;
}
