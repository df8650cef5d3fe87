/*
 * azt_errbody.c - code and message out of a service error body: JSON
 * odata.error, the storage XML <Error> (Azurite's auth failures) and the
 * legacy Atom <error>. Never fails and never prints: garbage gives empty
 * fields. XML is parsed without network access, DTD loading or entity
 * expansion, and only literal text is read, so entity tricks go nowhere.
 *
 * libxml2 is loaded on first use (dlopen) instead of being linked: linked,
 * it and the ICU and C++ runtimes it pulls in add about 2.4 MiB to the
 * resident memory of every run, while XML error bodies are rare. When it
 * cannot be loaded an XML body gives empty fields, like garbage.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <dlfcn.h>
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

/* The libxml2 functions used here, resolved by xml_load. libxml2 keeps its
 * error handlers per thread behind the __xml*Error accessors that its
 * xmlStructuredError and xmlGenericError macros call. */
static struct {
    void (*init_parser)(void);
    xmlDocPtr (*read_memory)(const char *buffer, int size, const char *url, const char *encoding,
                             int options);
    xmlNodePtr (*doc_root)(const xmlDoc *doc);
    void (*free_doc)(xmlDocPtr doc);
    void (*set_structured)(void *ctx, xmlStructuredErrorFunc handler);
    void (*set_generic)(void *ctx, xmlGenericErrorFunc handler);
    xmlStructuredErrorFunc *(*structured)(void);
    void **(*structured_ctx)(void);
    xmlGenericErrorFunc *(*generic)(void);
    void **(*generic_ctx)(void);
} X;
static int xml_ok;
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* Looks a symbol up into *slot (a function pointer's storage). */
static int sym(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);

    if (!f)
        return -1;
    memcpy(slot, &f, sizeof(f));
    return 0;
}

static void xml_load(void)
{
    static const char *const names[] = {"libxml2.so.2", "libxml2.so.16", "libxml2.so"};
    void *lib = NULL;
    size_t i;

    for (i = 0; !lib && i < sizeof(names) / sizeof(names[0]); i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    if (sym(lib, "xmlInitParser", &X.init_parser) || sym(lib, "xmlReadMemory", &X.read_memory) ||
        sym(lib, "xmlDocGetRootElement", &X.doc_root) || sym(lib, "xmlFreeDoc", &X.free_doc) ||
        sym(lib, "xmlSetStructuredErrorFunc", &X.set_structured) ||
        sym(lib, "xmlSetGenericErrorFunc", &X.set_generic) ||
        sym(lib, "__xmlStructuredError", &X.structured) ||
        sym(lib, "__xmlStructuredErrorContext", &X.structured_ctx) ||
        sym(lib, "__xmlGenericError", &X.generic) ||
        sym(lib, "__xmlGenericErrorContext", &X.generic_ctx)) {
        dlclose(lib);
        return;
    }
    X.init_parser();
    xml_ok = 1; /* the library stays loaded for the life of the process */
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
    pthread_once(&xml_once, xml_load);
    if (!xml_ok)
        return;
    /* libxml2 keeps these per thread: silence this parse, then restore. */
    old_serror = *X.structured();
    old_sctx = *X.structured_ctx();
    old_gerror = *X.generic();
    old_gctx = *X.generic_ctx();
    X.set_structured(NULL, swallow_structured);
    X.set_generic(NULL, swallow_generic);

    doc = X.read_memory(body, (int)n, "error.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    root = doc ? X.doc_root(doc) : NULL;
    /* <Error><Code/><Message/></Error> or Atom <error><code/><message/></error> */
    if (root && name_is(root, "error")) {
        for (c = root->children; c; c = c->next) {
            if (name_is(c, "code") && !out->code[0])
                element_text(c, out->code, sizeof(out->code));
            else if (name_is(c, "message") && !out->message[0])
                element_text(c, out->message, sizeof(out->message));
        }
    }
    if (doc)
        X.free_doc(doc);

    X.set_structured(old_sctx, old_serror);
    X.set_generic(old_gctx, old_gerror);
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
