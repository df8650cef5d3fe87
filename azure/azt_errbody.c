/*
 * azt_errbody.c - code and message out of a service error body: JSON
 * odata.error, the storage XML <Error> (Azurite's auth failures) and the
 * legacy Atom <error>. Never fails and never prints: garbage gives empty
 * fields. XML is parsed without network access, DTD loading or entity
 * expansion, and only literal text is read, so entity tricks go nowhere.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#define XML_TEXT_MAX 4096 /* bytes of an element's text looked at */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

static void swallow_structured(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
}

static void swallow_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/*
 * Copies the first line of s[0..n) into dst[cap]: leading and trailing
 * blanks trimmed, control characters blanked, cut at a UTF-8 character
 * boundary when too long.
 */
static void copy_line(char *dst, size_t cap, const char *s, size_t n)
{
    size_t start = 0, end, len, i;

    dst[0] = '\0';
    if (!s || cap == 0)
        return;
    while (start < n &&
           (s[start] == ' ' || s[start] == '\t' || s[start] == '\r' || s[start] == '\n'))
        start++;
    end = start;
    while (end < n && s[end] != '\n' && s[end] != '\r' && s[end] != '\0')
        end++;
    while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    len = end - start;
    if (len > cap - 1) {
        len = cap - 1;
        /* Do not split a multi-byte character. */
        while (len > 0 && ((unsigned char)s[start + len] & 0xC0) == 0x80)
            len--;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[start + i];

        dst[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    dst[len] = '\0';
}

static void parse_json(const char *body, size_t n, struct azt_service_error *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, n, JSON_ALLOW_NUL, &jerr);
    json_t *err, *code, *msg;

    if (!json_is_object(root))
        goto done;
    err = json_object_get(root, "odata.error");
    if (!json_is_object(err))
        err = json_object_get(root, "error");
    if (!json_is_object(err))
        err = root;
    code = json_object_get(err, "code");
    if (!json_is_string(code))
        code = json_object_get(err, "Code");
    msg = json_object_get(err, "message");
    if (!msg)
        msg = json_object_get(err, "Message");
    if (json_is_object(msg))
        msg = json_object_get(msg, "value");
    if (json_is_string(code))
        copy_line(out->code, sizeof(out->code), json_string_value(code), json_string_length(code));
    if (json_is_string(msg))
        copy_line(out->message, sizeof(out->message), json_string_value(msg),
                  json_string_length(msg));
done:
    json_decref(root);
}

/* Literal text and CDATA directly inside node; entity references are
 * skipped, never expanded. */
static void element_text(xmlNodePtr node, char *dst, size_t cap)
{
    char buf[XML_TEXT_MAX];
    size_t len = 0;
    xmlNodePtr c;

    for (c = node->children; c && len < sizeof(buf); c = c->next) {
        size_t n, room = sizeof(buf) - len;

        if ((c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) || !c->content)
            continue;
        n = strlen((const char *)c->content);
        if (n > room)
            n = room;
        memcpy(buf + len, c->content, n);
        len += n;
    }
    copy_line(dst, cap, buf, len);
}

static int name_is(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && node->name &&
           strcasecmp((const char *)node->name, name) == 0;
}

static void parse_xml(const char *body, size_t n, struct azt_service_error *out)
{
    xmlStructuredErrorFunc old_serror;
    void *old_sctx, *old_gctx;
    xmlGenericErrorFunc old_gerror;
    xmlDocPtr doc = NULL;
    xmlNodePtr root, c;

    if (n > INT_MAX)
        return;
    pthread_once(&xml_once, xml_init);
    /* libxml2 keeps these per thread: silence this parse, then restore. */
    old_serror = xmlStructuredError;
    old_sctx = xmlStructuredErrorContext;
    old_gerror = xmlGenericError;
    old_gctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(NULL, swallow_structured);
    xmlSetGenericErrorFunc(NULL, swallow_generic);

    doc = xmlReadMemory(body, (int)n, "error.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    /* <Error><Code/><Message/></Error> or Atom <error><code/><message/></error> */
    if (root && name_is(root, "error")) {
        for (c = root->children; c; c = c->next) {
            if (name_is(c, "code") && !out->code[0])
                element_text(c, out->code, sizeof(out->code));
            else if (name_is(c, "message") && !out->message[0])
                element_text(c, out->message, sizeof(out->message));
        }
    }
    xmlFreeDoc(doc);

    xmlSetStructuredErrorFunc(old_sctx, old_serror);
    xmlSetGenericErrorFunc(old_gctx, old_gerror);
}

void azt_service_error_parse(const char *body, size_t n, struct azt_service_error *out)
{
    size_t i = 0;

    out->code[0] = '\0';
    out->message[0] = '\0';
    if (!body || n == 0)
        return;
    if (n >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i < n && body[i] == '{')
        parse_json(body + i, n - i, out);
    else if (i < n && body[i] == '<')
        parse_xml(body + i, n - i, out);
}
