/*
 * ls_cli.c - the command line: one table of commands (as git's), each with
 * its own options, help and validation; one place that prints the error and
 * returns the exit code.
 *
 * Parsing is two steps, both before any file or the network is touched: the
 * command's options (unknown ones and missing values are usage errors), then
 * its check (values: --since, --older-than). Only then is the configuration
 * loaded and the command run, so a usage error creates nothing.
 */
#include "ls_cli.h"

#include "ls_cmd.h"
#include "ls_common.h"
#include "ls_config.h"
#include "ls_log.h"
#include "ls_report.h"
#include "ls_sink.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

/* One option of a command: a flag (arg NULL, sets an int) or a value (sets a
 * const char *), at offset in struct ls_cmd_args. */
struct cli_opt {
    const char *name; /* "--since" */
    const char *arg;  /* "WHEN", or NULL for a flag */
    size_t offset;
    const char *help;
};

struct cli_cmd {
    const char *name;
    const char *synopsis; /* one line, after "leadsync NAME" */
    const char *summary;  /* for leadsync --help */
    const char *what;     /* what it does, a few lines */
    const struct cli_opt *opts;
    const char *changes; /* what it changes */
    const char *example;
    const char *exits; /* the exit codes worth knowing for this command */
    int (*check)(struct ls_cmd_args *a);
    int (*run)(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
};

#define A(field) offsetof(struct ls_cmd_args, field)

static int check_run(struct ls_cmd_args *a);
static int check_purge(struct ls_cmd_args *a);
static int check_report(struct ls_cmd_args *a);
static int check_forget(struct ls_cmd_args *a);

static const struct cli_opt run_opts[] = {
    {"--once", NULL, A(once), "read one window, deliver, exit when drained (CronJob)"},
    {"--since", "WHEN", A(since),
     "read from WHEN, not the cursor: 2026-11-30, 2026-11-30T08:00+01:00,\n"
     "                     ...Z, or a duration back from now: 24h, 7d"},
    {"--dry-run", NULL, A(dry_run),
     "list what a run would deliver (new or updated); change nothing"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt status_opts[] = {
    {"--json", NULL, A(json), "the same as JSON (stable keys, ISO 8601 UTC times)"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt retry_opts[] = {
    {"--sink", "NAME", A(sink), "only this sink's dead letters (as 'leadsync status' names it)"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt purge_opts[] = {
    {"--older-than", "DAYS", A(older_than), "delivered more than DAYS days ago (required)"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt send_opts[] = {
    {"--sink", "NAME", A(sink), "only this sink (its name or type, e.g. webhook)"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt report_opts[] = {
    {"--since", "DATE", A(since),
     "from DATE (YYYY-MM-DD or ...THH:MM:SSZ) [30 days before --until]"},
    {"--until", "DATE", A(until), "up to DATE; a bare date includes that day [now]"},
    {"--json", NULL, A(json), "the same figures as JSON (schema leadsync.report/1)"},
    {"--html", "FILE", A(html), "write one self-contained page with charts to FILE"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt forget_opts[] = {
    {"--email", "ADDRESS", A(email),
     "the person's email address (required; case and spaces ignored)"},
    {"--dry-run", NULL, A(dry_run), "list what would be erased; change nothing"},
    {NULL, NULL, 0, NULL},
};
static const struct cli_opt no_opts[] = {{NULL, NULL, 0, NULL}};

/* The commands, in the order --help lists them. A new command is one entry
 * here (its options in their own table) and an ls_cmd_* function. */
static const struct cli_cmd commands[] = {
    {
        .name = "run",
        .synopsis = "[--once] [--since WHEN] [--dry-run]",
        .summary = "poll as a daemon; --once reads one window, delivers and exits",
        .what = "Reads the rows added or changed since the last run (the ledger's cursor) and\n"
                "delivers each new or updated lead to every sink. Without --once it polls every\n"
                "LEADSYNC_POLL_SECONDS until SIGTERM.",
        .opts = run_opts,
        .changes = "the ledger (LEADSYNC_STATE, created 0600) and the sinks; --dry-run nothing",
        .example = "leadsync run --once --since 7d",
        .exits = "0 done; 75 work left for the next run (rerun later); 69 a sink rejects\n"
                 "            everything and is paused (fix it, then 'leadsync retry --sink NAME')",
        .check = check_run,
        .run = ls_cmd_run,
    },
    {
        .name = "check",
        .synopsis = "",
        .summary = "configuration, table access and sink access, one line each",
        .what = "Checks the configuration, reads one row of the table and asks each sink whether\n"
                "it accepts the credentials. Every FAILED line says what to do.",
        .opts = no_opts,
        .changes = "nothing",
        .example = "leadsync check",
        .exits = "0 all ok; otherwise the code of the first failure (78, 77, 75, ...)",
        .run = ls_cmd_check,
    },
    {
        .name = "send-test-lead",
        .synopsis = "[--sink NAME]",
        .summary = "deliver a clearly marked test lead",
        .what = "Delivers one lead marked isTest=true (\"leadsync test lead\", safe to delete) to\n"
                "every sink, or to one, to prove the wiring end to end.",
        .opts = send_opts,
        .changes = "the sinks (one test record each); not the ledger",
        .example = "leadsync send-test-lead --sink webhook",
        .exits = "0 delivered; 64 no such sink; 65 refused; 69 unavailable",
        .run = ls_cmd_send_test_lead,
    },
    {
        .name = "status",
        .synopsis = "[--json]",
        .summary = "health verdict, last run, counts per sink, dead letters",
        .what = "Shows the ledger's state: cursor, last run, per sink what is pending, delivered,\n"
                "dead or superseded, and the dead letters with their reasons (keys only).\n"
                "Opens the ledger read-only; works while the daemon runs.",
        .opts = status_opts,
        .changes = "nothing (read-only)",
        .example = "leadsync status --json",
        .exits = "0 shown; 74 the ledger cannot be read",
        .run = ls_cmd_status,
    },
    {
        .name = "retry",
        .synopsis = "[--sink NAME]",
        .summary = "re-queue dead letters",
        .what = "Puts dead letters back in the outbox with their attempts reset, makes the\n"
                "deliveries waiting out a backoff due now, and resumes a sink paused for\n"
                "rejecting everything; the next run (or the running daemon) delivers them.\n"
                "Works while the daemon runs. NAME: as status names it, or its kind (webhook)\n"
                "when one sink is of that kind.",
        .opts = retry_opts,
        .changes = "the ledger: dead letters become pending deliveries, waiting ones due now",
        .example = "leadsync retry --sink webhook",
        .exits = "0 done; 64 no such sink; 74 ledger error",
        .run = ls_cmd_retry,
    },
    {
        .name = "purge",
        .synopsis = "--older-than DAYS",
        .summary = "drop delivered payloads (personal data)",
        .what = "Deletes the stored lead payloads (names, emails) of leads whose deliveries all\n"
                "succeeded more than DAYS days ago. Keys and hashes stay, so nothing is\n"
                "delivered twice. Works while the daemon runs.",
        .opts = purge_opts,
        .changes = "the ledger: payloads are deleted for good",
        .example = "leadsync purge --older-than 30",
        .exits = "0 done; 64 usage; 74 ledger error",
        .check = check_purge,
        .run = ls_cmd_purge,
    },
    {
        .name = "report",
        .synopsis = "[--since DATE] [--until DATE] [--json | --html FILE]",
        .summary = "what the marketplace brought: funnel, offers, sources, countries",
        .what = "Counts the leads whose rows have a Timestamp in the period: per offer and\n"
                "source, the funnel per offer (initial interest, trial, active, with rates),\n"
                "new leads per day or week, countries, do-not-contact and validation leads,\n"
                "and deliveries per sink. Counts only: no names, emails or phones. Opens the\n"
                "ledger read-only; works while the daemon runs.",
        .opts = report_opts,
        .changes = "nothing (read-only); --html writes FILE",
        .example = "leadsync report --since 2026-11-01 --html report.html",
        .exits = "0 shown; 64 usage; 74 the ledger cannot be read",
        .check = check_report,
        .run = ls_cmd_report,
    },
    {
        .name = "forget",
        .synopsis = "--email ADDRESS [--dry-run]",
        .summary = "erase one person from the ledger and the JSONL files",
        .what = "A data-subject erasure request: erases the person's stored leads, payloads,\n"
                "dead letters and error excerpts from the ledger (keeping keys and hashes, so\n"
                "nothing is delivered again), rewrites each JSONL file without their lines, and\n"
                "lists what leadsync cannot erase: records in CRMs and receivers, and the\n"
                "marketplace's own table rows. Works beside a running daemon.",
        .opts = forget_opts,
        .changes = "the ledger and the JSONL files; --dry-run nothing",
        .example = "leadsync forget --email ada@example.com --dry-run",
        .exits = "0 done; 64 usage; 75 erased, but a reader (the daemon) kept old pages in the\n"
                 "WAL: rerun when it is idle; 74 ledger error",
        .check = check_forget,
        .run = ls_cmd_forget,
    },
};

static const char exit_codes[] =
    "exit codes (and what a scheduler should do):\n"
    "  0   done; dead letters, if any, are named on the last line and in status\n"
    "  64  usage: an unknown option or a bad value; nothing was touched (fix the command)\n"
    "  65  a sink refused the data (send-test-lead); see the message\n"
    "  69  a sink is unavailable: paused after rejecting everything (run), or\n"
    "      unreachable (send-test-lead); alert, fix the sink, then 'leadsync retry\n"
    "      --sink NAME'; its leads wait in the ledger\n"
    "  70  a bug; report it with the log\n"
    "  74  the ledger cannot be opened, written or trusted; see the named file\n"
    "  75  temporary: table unreachable or throttled, a sink still down, the ledger\n"
    "      busy; rerun later (safe)\n"
    "  77  credentials refused (key, SAS, Entra ID, a sink's secret); fix, do not retry\n"
    "  78  configuration: missing or misnamed table, a certificate that does not\n"
    "      verify, connection string, a setting; fix it, do not retry\n";

static const struct cli_cmd *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < LS_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The configuration keys from the table: every one (sink NULL; a heading
 * before each sink kind's), or those of one sink kind. */
static void print_config(const char *sink, FILE *out)
{
    const struct ls_conf_entry *e;
    const char *kind, *last = NULL;
    size_t i;

    for (i = 0; (e = ls_conf_entry_at(i, &kind)) != NULL; i++) {
        if (sink && (!kind || strcmp(kind, sink) != 0))
            continue;
        if (!sink && kind != last && kind)
            fprintf(out, " the %s sink:\n", kind);
        else if (!sink && kind != last)
            fputs(" operations and the table endpoint:\n", out);
        last = kind;
        fprintf(out, "  %-34s %s", e->env, e->help);
        if (e->def)
            fprintf(out, " [%s]", e->def);
        if (e->choices)
            fprintf(out, " (%s)", e->choices);
        if (e->flags & LS_CONF_SECRET)
            fprintf(out, " (secret; or %s_FILE)", e->env);
        fputc('\n', out);
    }
}

/* 'leadsync help SINK': the keys of one sink kind. */
static int print_sink_help(const char *name, FILE *out)
{
    const struct ls_sink_ops *ops = ls_sink_lookup(name);

    if (!ops)
        return -1;
    fprintf(out, "configuration of the %s sink (environment; --config FILE takes the same keys):\n",
            ops->name);
    if (ops->nconf == 0)
        fputs("  (none: its argument in LEADSYNC_SINKS is all it takes)\n", out);
    print_config(ops->name, out);
    return 0;
}

static void print_help(FILE *out)
{
    size_t i;

    fputs("usage: leadsync [--config FILE] COMMAND [OPTIONS]\n"
          "\n"
          "Moves Microsoft commercial-marketplace leads from the Azure Table the marketplace\n"
          "writes (MarketplaceLeads) into your CRM: nothing lost, nothing duplicated.\n"
          "\n"
          "commands ('leadsync COMMAND --help' for one):\n",
          out);
    for (i = 0; i < LS_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-15s %s\n\n", "--version", "print the version");
    fputs(exit_codes, out);
    fputs("\nconfiguration (environment; --config FILE takes the same keys as JSON;\n"
          "'leadsync help SINK' for one sink's):\n",
          out);
    print_config(NULL, out);
}

static void print_command_help(const struct cli_cmd *c, FILE *out)
{
    const struct cli_opt *o;

    fprintf(out, "usage: leadsync %s %s\n\n%s\n\noptions:\n", c->name, c->synopsis, c->what);
    for (o = c->opts; o->name; o++) {
        char flag[40];

        snprintf(flag, sizeof(flag), "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-18s %s\n", flag, o->help);
    }
    fprintf(out, "  %-18s %s\n", "--config FILE", "settings as JSON (keys: the LEADSYNC_* names)");
    fprintf(out, "\nchanges:    %s\nexample:    %s\nexit codes: %s\n", c->changes, c->example,
            c->exits);
    fputs("Settings and every exit code: leadsync --help\n", out);
}

/* Prints a usage error; returns 64. */
static int usage_error(const struct cli_cmd *c, const char *msg)
{
    fprintf(stderr, "leadsync%s%s: %s (try leadsync %s%s--help)\n", c ? " " : "", c ? c->name : "",
            msg, c ? c->name : "", c ? " " : "");
    return LS_EXIT_USAGE;
}

static const struct cli_opt *find_opt(const struct cli_cmd *c, const char *arg, size_t n)
{
    const struct cli_opt *o;

    for (o = c->opts; o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, arg, n) == 0)
            return o;
    return NULL;
}

/* --since: a date, a date-time with an offset, or a duration back from now. */

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* "24h", "7d", "90m", "30s", "2w" -> seconds; -1 when text is not one. */
static int64_t parse_duration(const char *text)
{
    char *end = NULL;
    long long n;
    int64_t unit;

    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    n = strtoll(text, &end, 10);
    if (errno || !end || !end[0] || end[1] || n > 36500LL * 86400)
        return -1;
    switch (end[0]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return -1;
    }
    return (int64_t)n * unit;
}

/* The offset at p ("Z", "+02:00", "-0530", "+02"), in seconds east of UTC. */
static int parse_offset(const char *p, long *out)
{
    int sign, hh = 0, mm = 0;

    if (strcmp(p, "Z") == 0 || strcmp(p, "z") == 0) {
        *out = 0;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    if (parse_digits(&p, 2, &hh))
        return -1;
    if (*p == ':')
        p++;
    if (*p && parse_digits(&p, 2, &mm))
        return -1;
    if (*p || hh > 23 || mm > 59)
        return -1;
    *out = sign * (hh * 3600L + mm * 60L);
    return 0;
}

static int since_error(const char *text, const char *why)
{
    return ls_error(LS_EUSAGE, "--since '%s': %s", text, why);
}

#define SINCE_FORMS                                                                                \
    "not a time: give a date (2026-11-30), a date-time with its offset "                           \
    "(2026-11-30T08:00:00+01:00 or ...Z) or a duration (24h, 7d)"

int ls_cli_parse_since(const char *text, int64_t now_s, char out[40])
{
    const char *p = text;
    int y, mo, d, h = 0, mi = 0, s = 0;
    char frac[8] = "0000000";
    long off = 0;
    int64_t dur = parse_duration(text), t;
    struct tm tm;
    time_t tt;
    size_t k;

    if (dur >= 0) {
        t = now_s - dur;
        goto format;
    }
    if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) || *p++ != '-' ||
        parse_digits(&p, 2, &d))
        return since_error(text, SINCE_FORMS);
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi))
            return since_error(text, SINCE_FORMS);
        if (*p == ':' && (p++, parse_digits(&p, 2, &s)))
            return since_error(text, SINCE_FORMS);
        if (*p == '.' || *p == ',') {
            for (p++, k = 0; isdigit((unsigned char)*p); p++, k++)
                if (k < 7)
                    frac[k] = *p;
            if (k == 0)
                return since_error(text, SINCE_FORMS);
        }
        if (!*p)
            return since_error(text, "the time has no offset (add Z for UTC, or +01:00)");
        if (parse_offset(p, &off))
            return since_error(text, "the offset is not Z, +HH:MM or -HH:MM");
    } else if (*p) {
        return since_error(text, SINCE_FORMS);
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return since_error(text, "no such date or time");
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tt = timegm(&tm);
    if (tm.tm_mday != d) /* timegm normalised 2026-02-30 */
        return since_error(text, "no such date");
    t = (int64_t)tt - off;
format:
    if (t > now_s)
        return since_error(text, "that is in the future; the window cannot start there");
    tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    k = strlen(out);
    snprintf(out + k, 40 - k, ".%.7sZ", frac);
    return LS_OK;
}

static int check_run(struct ls_cmd_args *a)
{
    if (a->since)
        return ls_cli_parse_since(a->since, ls_now_ms() / 1000, a->since_iso);
    return LS_OK;
}

static int check_purge(struct ls_cmd_args *a)
{
    char *end = NULL;

    if (!a->older_than)
        return ls_error(LS_EUSAGE, "--older-than DAYS is required (e.g. --older-than 30)");
    errno = 0;
    a->days = strtol(a->older_than, &end, 10);
    if (errno || end == a->older_than || *end || a->days < 0 || a->days > 36500)
        return ls_error(LS_EUSAGE, "--older-than '%s' is not a number of days (0..36500)",
                        a->older_than);
    return LS_OK;
}

static int check_report(struct ls_cmd_args *a)
{
    struct ls_report_period p;

    if (a->json && a->html)
        return ls_error(LS_EUSAGE, "--json or --html, not both");
    return ls_report_period(a->since, a->until, ls_now_ms() / 1000, &p);
}

static int check_forget(struct ls_cmd_args *a)
{
    if (!a->email || !strchr(a->email, '@'))
        return ls_error(LS_EUSAGE, "--email ADDRESS is required (e.g. --email ada@example.com)");
    return LS_OK;
}

/* The command's own options from argv[from..]; --config may come anywhere.
 * Returns 0, 64 after printing a usage error, or -1 when it printed help. */
static int parse_args(const struct cli_cmd *c, int argc, char **argv, int from,
                      struct ls_cmd_args *a, const char **config_file)
{
    char msg[512];
    int i;

    for (i = from; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        size_t n = eq && strncmp(arg, "--", 2) == 0 ? (size_t)(eq - arg) : strlen(arg);
        const char *val = eq && n < strlen(arg) ? eq + 1 : NULL;
        const struct cli_opt *o;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_command_help(c, stdout);
            return -1;
        }
        if (n == 8 && strncmp(arg, "--config", 8) == 0) {
            if (!val && i + 1 >= argc)
                return usage_error(c, "--config needs a file");
            *config_file = val ? val : argv[++i];
            continue;
        }
        o = find_opt(c, arg, n);
        if (!o) {
            snprintf(msg, sizeof(msg), "%s '%s'",
                     arg[0] == '-' ? "unknown option" : "unexpected argument", arg);
            return usage_error(c, msg);
        }
        if (!o->arg) {
            if (val) {
                snprintf(msg, sizeof(msg), "%s takes no value", o->name);
                return usage_error(c, msg);
            }
            *(int *)((char *)a + o->offset) = 1;
            continue;
        }
        if (!val && i + 1 >= argc) {
            snprintf(msg, sizeof(msg), "%s needs %s", o->name, o->arg);
            return usage_error(c, msg);
        }
        *(const char **)((char *)a + o->offset) = val ? val : argv[++i];
    }
    if (c->check && c->check(a) != LS_OK)
        return usage_error(c, ls_error_last());
    return 0;
}

/* The one place an error becomes a line on stderr and an exit code. */
static int finish(int rc, int code)
{
    if (rc == LS_OK)
        return code;
    if (code == LS_EXIT_OK)
        code = ls_exit_code(rc);
    fprintf(stderr, "leadsync: %s\n", ls_error_last());
    return code;
}

int ls_cli_main(int argc, char **argv)
{
    const struct cli_cmd *c = NULL;
    const char *config_file = NULL;
    struct ls_cmd_args args;
    struct ls_config cfg;
    char msg[512];
    int i, rc, code = LS_EXIT_OK;

    memset(&args, 0, sizeof(args));
    for (i = 1; i < argc && !c; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(stdout);
            return LS_EXIT_OK;
        } else if (strcmp(a, "help") == 0) {
            c = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
            if (c)
                print_command_help(c, stdout);
            else if (i + 1 >= argc || print_sink_help(argv[i + 1], stdout) != 0)
                print_help(stdout);
            return LS_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("leadsync %s\n", LS_VERSION);
            return LS_EXIT_OK;
        } else if (strcmp(a, "--config") == 0) {
            if (++i >= argc)
                return usage_error(NULL, "--config needs a file");
            config_file = argv[i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_file = a + 9;
        } else if (a[0] == '-') {
            snprintf(msg, sizeof(msg), "'%s' before the command: give the command first", a);
            return usage_error(NULL, msg);
        } else if (!(c = find_command(a))) {
            snprintf(msg, sizeof(msg), "unknown command '%s'", a);
            return usage_error(NULL, msg);
        }
    }
    if (!c) {
        print_help(stderr);
        return LS_EXIT_USAGE;
    }
    rc = parse_args(c, argc, argv, i, &args, &config_file);
    if (rc)
        return rc < 0 ? LS_EXIT_OK : rc;

    rc = ls_config_load(&cfg, config_file, environ, NULL, NULL);
    if (rc == LS_OK) {
        ls_log_setup(ls_log_level_parse(cfg.log_level), strcmp(cfg.log_format, "json") == 0);
        rc = c->run(&cfg, &args, &code);
    }
    code = finish(rc, code);
    ls_config_dispose(&cfg);
    return code;
}
