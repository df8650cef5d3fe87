/*
 * fuzz_row_version.c - the table's Timestamp and CreatedTime values through
 * azt_iso8601_parse and ls_row_version_compare (which of two versions of a
 * lead is the newer; a page is sorted with it). The input is split on 0xFF
 * bytes into the Timestamp and CreatedTime of three versions, whose keys
 * come from the input's length.
 *
 * Checks beyond "no crash": a parsed instant formats back to the text's
 * date and time; the comparison is an order - a version equals itself,
 * swapping the two flips the answer, and it is transitive - so sorting a
 * page and "newest wins" do not depend on the order rows arrive in.
 */
#include "azt.h"
#include "ls_sync.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NV 3

static void check(int ok)
{
    if (!ok)
        abort();
}

static void iso_round_trip(const char *s)
{
    int64_t secs;
    char frac[8], back[64];
    time_t t;
    struct tm tm;

    if (azt_iso8601_parse(s, strlen(s), &secs, frac) != AZT_OK)
        return;
    t = (time_t)secs;
    check(gmtime_r(&t, &tm) != NULL);
    snprintf(back, sizeof(back), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    check(strncmp(back, s, 19) == 0 && strlen(frac) == 7 && strspn(frac, "0123456789") == 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const pks[] = {"11:2F24:2F2026", "11:2F25:2F2026"};
    char *text[NV * 2] = {NULL};
    struct ls_row_version v[NV];
    const char *p = (const char *)data, *end = p + size;
    size_t i, j, k;
    int c[NV][NV];

    for (i = 0; i < NV * 2; i++) {
        const char *sep = p < end ? memchr(p, 0xFF, (size_t)(end - p)) : NULL;
        size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);

        text[i] = malloc(n + 1);
        check(text[i] != NULL);
        memcpy(text[i], p, n);
        text[i][n] = '\0';
        iso_round_trip(text[i]);
        p = sep ? sep + 1 : end;
    }
    for (i = 0; i < NV; i++) {
        v[i].timestamp = (size >> i) & 1 ? text[2 * i] : NULL;
        v[i].created_time = text[2 * i + 1][0] ? text[2 * i + 1] : NULL;
        v[i].partition_key = pks[(size >> (i + 3)) & 1];
        v[i].row_key = (size >> (i + 5)) & 1 ? "b" : "a";
    }
    for (i = 0; i < NV; i++)
        for (j = 0; j < NV; j++)
            c[i][j] = ls_row_version_compare(&v[i], &v[j]);
    for (i = 0; i < NV; i++) {
        check(c[i][i] == 0);
        for (j = 0; j < NV; j++) {
            check(c[i][j] == -c[j][i]);
            for (k = 0; k < NV; k++)
                if (c[i][j] <= 0 && c[j][k] <= 0)
                    check(c[i][k] <= 0 && (c[i][k] < 0 || (c[i][j] == 0 && c[j][k] == 0)));
        }
    }
    for (i = 0; i < NV * 2; i++)
        free(text[i]);
    return 0;
}
