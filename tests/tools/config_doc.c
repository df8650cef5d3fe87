/*
 * config_doc.c - leadsync-config-doc: the configuration table the program
 * reads (worker/ls_config.c and each sink's keys), printed as JSON, one object per key:
 *   {"env", "type": "string"|"int"|"enum", "default": text or null,
 *    "choices": "a|b" or null, "help", "alias": name or null, "secret": bool,
 *    "sink": the sink kind the key configures or null}
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
    const struct ls_conf_entry *e;
    const char *sink;
    size_t i;
    int rc;

    for (i = 0; (e = ls_conf_entry_at(i, &sink)) != NULL; i++)
        json_array_append_new(
            all,
            json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:b, s:o}", "env", e->env, "type",
                      types[e->type], "default", text_or_null(e->def), "choices",
                      text_or_null(e->choices), "help", e->help, "alias", text_or_null(e->alias),
                      "secret", (e->flags & LS_CONF_SECRET) != 0, "sink", text_or_null(sink)));
    rc = json_dumpf(all, stdout, JSON_INDENT(1)) == 0 && fputc('\n', stdout) != EOF ? 0 : 1;
    json_decref(all);
    return rc;
}
