/*
 * config_doc.c - leadsync-config-doc: the configuration table the program
 * reads (worker/ls_config.c), printed as JSON, one object per key:
 *   {"env", "type": "string"|"int"|"enum", "default": text or null,
 *    "choices": "a|b" or null, "help", "alias": name or null, "secret": bool}
 * docker/k8s/gen-config.py writes the documented ConfigMap and Secret
 * examples from it, so they list exactly the keys the binary knows.
 */
#include "ls_config.h"

#include <jansson.h>
#include <stdio.h>

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int main(void)
{
    static const char *const types[] = {"string", "int", "enum"};
    json_t *all = json_array();
    size_t i;
    int rc;

    for (i = 0; i < ls_conf_nentries; i++) {
        const struct ls_conf_entry *e = &ls_conf_entries[i];

        json_array_append_new(
            all, json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:b}", "env", e->env, "type",
                           types[e->type], "default", text_or_null(e->def), "choices",
                           text_or_null(e->choices), "help", e->help, "alias",
                           text_or_null(e->alias), "secret", (e->flags & LS_CONF_SECRET) != 0));
    }
    rc = json_dumpf(all, stdout, JSON_INDENT(1)) == 0 && fputc('\n', stdout) != EOF ? 0 : 1;
    json_decref(all);
    return rc;
}
