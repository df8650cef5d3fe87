/* fuzz_notify_format.c - lead values from the marketplace's table (any bytes) through
 * every notification format (ls_notify.h): the input, split at NUL bytes,
 * fills the lead's fields; the outputs must keep their promises - a header
 * without a bare line break, HTML and mrkdwn without a raw '<' from a value,
 * Slack's size limits. */
#include "ls_notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated piece of the input, "" when none is left. */
static const char *next(const char **p, const char *end)
{
    const char *s = *p;

    if (s >= end)
        return "";
    *p = s + strlen(s) + 1;
    return s;
}

static void check_header(const char *h)
{
    const char *p;

    for (p = h; (p = strpbrk(p, "\r\n")) != NULL; p += 2) /* only CRLF SP folding */
        if (p[0] != '\r' || p[1] != '\n' || p[2] != ' ')
            abort();
}

static void check_slack(json_t *s)
{
    const json_t *blk, *f;
    size_t i, k;

    json_array_foreach(json_object_get(s, "blocks"), i, blk)
    {
        const char *t = json_string_value(json_object_get(json_object_get(blk, "text"), "text"));

        if (t && (strlen(t) > 3000 ||
                  (strcmp(json_string_value(json_object_get(blk, "type")), "header") != 0 &&
                   strstr(t, "<!") != NULL)))
            abort();
        json_array_foreach(json_object_get(blk, "fields"), k, f)
        {
            const char *ft = json_string_value(json_object_get(f, "text"));

            if (!ft || strlen(ft) > 2000 || strchr(ft, '<'))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    const char *p, *end;
    json_t *lead, *t, *s;
    char **h;
    char *parts[4];
    size_t i;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    p = text;
    end = text + size;
    lead = json_pack("{s:s,s:s,s:s,s:s,s:b,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s}", "action",
                     next(&p, end), "offerTitle", next(&p, end), "offerId", "contoso.x", "stage",
                     next(&p, end), "doNotContact", size % 2, "customer", "firstName",
                     next(&p, end), "lastName", next(&p, end), "email", next(&p, end), "phone",
                     next(&p, end), "country", next(&p, end), "company", next(&p, end), "title",
                     next(&p, end), "description", next(&p, end), "createdTime", next(&p, end));
    if (!lead) { /* not UTF-8: jansson refuses it, as it refuses such a lead earlier */
        free(text);
        return 0;
    }
    h = ls_notify_email_headers(lead, next(&p, end), "Leads <leads@example.com>", "a@example.com",
                                0);
    for (i = 0; h[i]; i++)
        check_header(h[i]);
    ls_notify_lines_free(h);
    parts[0] = ls_notify_email_text(lead);
    parts[1] = ls_notify_email_html(lead);
    parts[2] = ls_notify_headline(lead);
    parts[3] = ls_notify_rfc2047(parts[2]);
    check_header(parts[3]);
    if (strstr(parts[1], "<script"))
        abort();
    for (i = 0; i < 4; i++)
        free(parts[i]);
    t = ls_notify_teams_body(lead);
    s = ls_notify_slack_body(lead);
    if (!t || !s)
        abort();
    check_slack(s);
    json_decref(t);
    json_decref(s);
    json_decref(lead);
    free(text);
    return 0;
}
