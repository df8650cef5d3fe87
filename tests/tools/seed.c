/*
 * seed.c - leadsync-seed: writes marketplace-shaped lead rows into an Azure
 * table for the demo, the integration tests and the benchmarks.
 *
 * Why this exists: leadsync reads what the commercial marketplace writes, and
 * nobody can make the marketplace write on demand. This tool writes rows of
 * the same shape (worker/README.md, The lead model): a fixed,
 * realistic demo set, deterministic synthetic bulk loads written with entity
 * group transactions, targeted rewrites, and same-Timestamp bursts.
 *
 * Everything it writes is an upsert (InsertOrReplace), so reruns are
 * harmless; rows are a pure function of (command, seed, index). Names and
 * addresses are fictional (example.com/.net/.org).
 */
#include "seed.h"

#include "azt.h"
#include "tool_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TABLE      "MarketplaceLeads"
#define DEFAULT_PARTITIONS 10
#define DEFAULT_JOBS       4
#define MAX_JOBS           32
#define BATCH_MAX          100
#define TIES_PARTITION     "12:2F31:2F2026"

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */

/* splitmix64: a tiny, well-mixed, deterministic generator. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t hash_text(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then mixed */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

/* A GUID-shaped RowKey from a 64-bit key: 8-4-4-4-12 lower-case hex. */
static void guid_from(uint64_t key, char out[37])
{
    uint64_t a = mix64(key), b = mix64(key ^ 0x5bd1e9955bd1e995ULL);

    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(a >> 32), (uint32_t)((a >> 16) & 0xffff), (uint32_t)(a & 0xfff),
             (uint32_t)(0x8000 | ((b >> 48) & 0x3fff)), (uint64_t)(b & 0xffffffffffffULL));
}

static int set_str(json_t *o, const char *key, const char *value)
{
    return json_object_set_new(o, key, json_string(value ? value : ""));
}

json_t *seed_row_object(const struct lead_row *r, const char *rk)
{
    json_t *o = json_object(), *ci = json_object();
    char *ci_text = NULL;
    char lead_source[512];
    int bad = !o || !ci;

    if (bad)
        goto done;
    if (r->lead_source)
        snprintf(lead_source, sizeof(lead_source), "%s", r->lead_source);
    else
        snprintf(lead_source, sizeof(lead_source), "%s-%s|%s", r->source, r->action, r->offer);

    if (!r->customer_raw) {
        bad |= set_str(ci, "FirstName", r->cust.first);
        bad |= set_str(ci, "LastName", r->cust.last);
        bad |= set_str(ci, "Email", r->cust.email);
        bad |= set_str(ci, "Phone", r->cust.phone);
        bad |= set_str(ci, "Country", r->cust.country);
        bad |= set_str(ci, "Company", r->cust.company);
        bad |= set_str(ci, "Title", r->cust.title);
        if (!bad && !(ci_text = json_dumps(ci, JSON_COMPACT)))
            bad = 1;
    }

    bad |= set_str(o, "PartitionKey", r->pk);
    bad |= set_str(o, "RowKey", rk);
    bad |= set_str(o, "ActionCode", r->action);
    bad |= set_str(o, "CreatedTime", r->created);
    bad |= set_str(o, "CustomerInfo", r->customer_raw ? r->customer_raw : ci_text);
    bad |= set_str(o, "Description", r->description);
    bad |= set_str(o, "LeadSource", lead_source);
    bad |= set_str(o, "OfferDisplayName", r->offer_title);
    if (r->extras) {
        /* Properties the marketplace does not document but a table may
         * hold (added by the publisher's own tooling): kept by leadsync
         * under "extra", typed ones as text. */
        bad |= set_str(o, "PublisherDisplayName", "Contoso, Ltd.");
        bad |= set_str(o, "CampaignId", "9007199254740993");
        bad |= set_str(o, "CampaignId@odata.type", "Edm.Int64");
        bad |= set_str(o, "FirstSeen", "2026-11-19T16:45:00.0000000Z");
        bad |= set_str(o, "FirstSeen@odata.type", "Edm.DateTime");
        bad |= json_object_set_new(o, "SeatCount", json_integer(25));
        bad |= json_object_set_new(o, "IsPartnerReferral", json_true());
    }
done:
    json_decref(ci);
    free(ci_text);
    if (bad) {
        json_decref(o);
        fprintf(stderr, "leadsync-seed: cannot build the entity JSON for %s/%s (invalid UTF-8?)\n",
                r->pk, rk);
        return NULL;
    }
    return o;
}

/* The entity as compact JSON (*out malloc'd). Returns 0 or -1. */
static int row_to_json(const struct lead_row *r, const char *rk, char **out)
{
    json_t *o = seed_row_object(r, rk);

    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* The demo set                                                              */

#define OFFER_CONTOSO   "contoso.crm-connector", "Contoso CRM Connector"
#define OFFER_FABRIKAM  "fabrikam.analytics-suite", "Fabrikam Analytics Suite"
#define OFFER_NORTHWIND "northwind.backup-vault", "Northwind Backup Vault"
#define OFFER_ADVWORKS  "adventureworks.iot-hub-kit", "Adventure Works IoT Hub Kit"
#define OFFER_TAILSPIN  "tailspin.devops-pipelines", "Tailspin DevOps Pipelines"

/* The demo's people: first and last name, email, phone, country, company,
 * title. */
/* clang-format off */
#define ANA     {"Ana", "García", "ana.garcia@example.com", "+34 600 000 101", "ES", "Lakeshore Retail S.L.", "IT Director"}
#define KENJI   {"健二", "渡辺", "kenji.watanabe@example.net", "+81 3 0000 0102", "JP", "Sakura Analytics K.K.", "Data Engineer"}
#define ZOE     {"Zoë", "Müller", "zoe.mueller@example.org", "+49 30 0000 000", "DE", "Blauwerk GmbH", "CTO"}
#define BJORN   {"Björn", "Þórsson", "bjorn.thorsson@example.com", "+354 500 0104", "IS", "Norðurljós ehf.", "Head of Infrastructure"}
#define PRIYA   {"Priya", "Raman", "priya.raman@example.com", "+91 80 0000 0105", "IN", "Kaveri Software Pvt. Ltd.", "Procurement Lead"}
#define OLU     {"Olusegun", "Adeyemi", "olu.adeyemi@example.net", "+234 1 000 0106", "NG", "Lagos Logistics Ltd", "COO"}
#define MARIE   {"Marie-Claire", "Dubois", "mc.dubois@example.org", "+33 1 00 00 01 07", "FR", "Atelier Numérique SAS", "Responsable SI"}
#define DMITRI  {"Дмитрий", "Соколов", "d.sokolov@example.org", "+7 495 000 0108", "RU", "Полярные Системы", "Architect"}
#define FATIMA  {"فاطمة", "السيد", "fatima.alsayed@example.com", "+971 4 000 0109", "AE", "Dune Cloud Services", "Solutions Manager"}
#define LIAM    {"Liam", "O'Brien", "liam.obrien@example.com", "+353 1 000 0110", "IE", "Shamrock Freight & Co", "Operations"}
#define CHEN    {"伟", "陈", "chen.wei@example.net", "+86 21 0000 0111", "CN", "Jade River Tech", "CIO"}
#define LUCAS   {"Lucas", "Silva", "lucas.silva@example.com", "+55 11 0000 0112", "BR", "Ipê Sistemas Ltda", "Developer"}
#define EMMA    {"Emma", "Johansson", "emma.johansson@example.org", "+46 8 000 0113", "SE", "Fjäll Data AB", "Platform Engineer"}
#define NOAH    {"Noah", "Smith", "noah.smith@example.com", "+1 425 555 0114", "US", "Pinecrest Health", "VP Engineering"}
#define AARAV   {"Aarav", "Patel", "aarav.patel@example.net", "+91 22 0000 0115", "IN", "Monsoon Fintech", "CTO"}
#define SOFIA   {"Sofía", "Hernández", "sofia.hernandez@example.com", "+52 55 0000 0116", "MX", "Cactus Cloud S.A. de C.V.", "IT Manager"}
#define YUSUF   {"Yusuf", "Demir", "yusuf.demir@example.org", "+90 212 000 0117", "TR", "Boğaziçi Yazılım", "Engineering Manager"}
#define HANA    {"Hana", "Nováková", "hana.novakova@example.com", "+420 2 0000 0118", "CZ", "Vltava Labs s.r.o.", "Security Officer"}
#define TOMAS   {"Tomás", "Ó Riain", "tomas.oriain@example.net", "+353 21 000 0119", "IE", "Corrib Analytics", "Data Scientist"}
#define NOEMAIL {"Walk-in", "Customer", "", "+1 206 555 0120", "US", "Harbor Shipping", "Buyer"}
#define INGRID  {"Ingrid", "Larsen", "ingrid.larsen@example.org", "+47 22 00 01 21", "NO", "Fjord Systems AS", "IT Lead"}
/* clang-format on */

#define LONG_DESCRIPTION                                                                                     \
    "We are evaluating analytics platforms for our regional operations in France, Belgium and "              \
    "Switzerland. Requirements, in no particular order: single sign-on with our existing "                   \
    "identity provider; data residency in the EU for every component, backups included; role-"               \
    "based access with at least three tiers (viewer, analyst, administrator); export to CSV and "            \
    "Parquet; a documented REST API with rate limits we can plan around; audit logs retained for "           \
    "at least 400 days; and a clear answer on how personal data is deleted when a customer asks "            \
    "for it. We would like a 30-minute call with a technical contact (not sales, please) in the "            \
    "week of the 7th, ideally Tuesday or Thursday morning CET, to go through the architecture "              \
    "and the pricing of the enterprise tier for roughly 120 named users and 15 service accounts. "           \
    "Our procurement process needs a security questionnaire, a DPA and the sub-processor list "              \
    "before any purchase order, so early copies would help. Accents and symbols as a check: "                \
    "déjà vu, naïve café, 5 € / 4 £ / 100 ¥, “quotes”, tab\there, and a second line\nthat ends " \
    "here. Thank you!"

/* Order matters: rows are written one by one in this order, so a customer's
 * later funnel step gets a later Timestamp. */
static const struct lead_row demo_rows[] = {
    /* Ana: "Contact me", then "Get it now" (her email typed differently),
     * then "Contact me" again - her lead stays active. */
    {"ana-plt", "11:2F20:2F2026", NULL, "SPZA", "PLT", OFFER_CONTOSO, ANA,
     "Contact me: we'd like a demo for about 40 seats.", "2026-11-20T08:12:44.0000000Z", NULL, NULL,
     0},
    {"kenji-testdrive", "11:2F20:2F2026", NULL, "TestDrive", "StartTestDrive", OFFER_FABRIKAM,
     KENJI, " ", "2026-11-20T09:03:10.0000000Z", NULL, NULL, 0},
    /* Microsoft's validation lead (Partner Center "Validate" and publish):
     * MSFT_TEST_<ticks> everywhere, ActionCode INS as in the FAQ's sample. */
    {"msft-validation",
     "11:2F20:2F2026",
     NULL,
     "MSFT_TEST_638670000000000000",
     "INS",
     "contoso.contoso-test",
     "Contoso Test",
     {"MSFT_TEST_638670000000000000", "MSFT_TEST_638670000000000000",
      "MSFT_TEST_638670000000000000@example.com", "MSFT_TEST_638670000000000000", "US",
      "MSFT_TEST_638670000000000000", "MSFT_TEST_638670000000000000"},
     "MSFT_TEST_638670000000000000",
     "2026-11-20T10:00:00.0000000Z",
     NULL,
     "MSFT_TEST_638670000000000000-MSFT_TEST_638670000000000000|Contoso Test",
     0},
    {"fatima-plt", "11:2F20:2F2026", NULL, "SPZA", "PLT", OFFER_ADVWORKS, FATIMA,
     "Campaigns: iot-week-2026", "2026-11-20T11:25:31.0000000Z", NULL, NULL, 0},
    {"chen-plt-contoso", "11:2F20:2F2026", NULL, "SPZA", "PLT", OFFER_CONTOSO, CHEN, "Contact me",
     "2026-11-20T13:40:02.0000000Z", NULL, NULL, 0},
    {"lucas-create", "11:2F20:2F2026", NULL, "AzurePortal", "Create", OFFER_CONTOSO, LUCAS, "",
     "2026-11-20T15:05:59.0000000Z", NULL, NULL, 0},
    {"emma-testdrive", "11:2F20:2F2026", NULL, "TestDrive", "StartTestDrive", OFFER_NORTHWIND, EMMA,
     " ", "2026-11-20T17:22:18.0000000Z", NULL, NULL, 0},
    {"zoe-plt", "11:2F21:2F2026", NULL, "AzureMarketplace", "PLT", OFFER_NORTHWIND, ZOE,
     "Please contact me about the 1 TB plan.", "2026-11-21T07:48:05.0000000Z", NULL, NULL, 0},
    {"priya-dnc", "11:2F21:2F2026", NULL, "SPZA", "DNC", OFFER_CONTOSO, PRIYA, "",
     "2026-11-21T08:30:00.0000000Z", NULL, NULL, 0},
    {"fatima-testdrive", "11:2F21:2F2026", NULL, "TestDrive", "StartTestDrive", OFFER_ADVWORKS,
     FATIMA, " ", "2026-11-21T09:12:40.0000000Z", NULL, NULL, 0},
    {"no-email", "11:2F21:2F2026", NULL, "AzurePortal", "Create", OFFER_NORTHWIND, NOEMAIL, "",
     "2026-11-21T10:01:17.0000000Z", NULL, NULL, 0},
    {"aarav-plt", "11:2F21:2F2026", NULL, "SPZA", "PLT", OFFER_NORTHWIND, AARAV,
     "Contact me re: backup for 3 regions", "2026-11-21T11:45:00.0000000Z", NULL, NULL, 0},
    {"sofia-plt", "11:2F21:2F2026", NULL, "AzureMarketplace", "PLT", OFFER_CONTOSO, SOFIA,
     "¿Tienen soporte en español?", "2026-11-21T14:14:14.0000000Z", NULL, NULL, 0},
    {"hana-plt", "11:2F21:2F2026", NULL, "SPZA", "PLT", OFFER_TAILSPIN, HANA,
     "Campaigns: ", "2026-11-21T16:30:45.0000000Z", NULL, NULL, 0},
    {"dmitri-testdrive", "11:2F21:2F2026", NULL, "TestDrive", "StartTestDrive", OFFER_TAILSPIN,
     DMITRI, " ", "2026-11-21T18:02:09.0000000Z", NULL, NULL, 0},
    {"ana-ins",
     "11:2F22:2F2026",
     NULL,
     "SPZA",
     "INS",
     OFFER_CONTOSO,
     {"Ana", "García", "  Ana.Garcia@EXAMPLE.com ", "+34 600 000 101", "ES",
      "Lakeshore Retail S.L.", "IT Director"},
     "Campaigns: ",
     "2026-11-22T08:05:33.0000000Z",
     NULL,
     NULL,
     0},
    {"bjorn-create", "11:2F22:2F2026", NULL, "AzurePortal", "Create", OFFER_TAILSPIN, BJORN, "",
     "2026-11-22T09:41:27.0000000Z", NULL, NULL, 0},
    /* Malformed CustomerInfo: the run must go on with what it can parse. */
    {"malformed-customerinfo", "11:2F22:2F2026", NULL, "SPZA", "PLT", OFFER_ADVWORKS, NOEMAIL,
     "Contact me", "2026-11-22T10:10:10.0000000Z",
     "{\"FirstName\":\"Sam\",\"LastName\":\"Carter\",\"Email\":\"sam.carter@example.net\","
     "\"Phone\"",
     NULL, 0},
    {"dmitri-utm", "11:2F22:2F2026", NULL, "SPZA", "PLT", OFFER_FABRIKAM, DMITRI,
     "{\"mktcmpid\":\"fall-launch-2026\",\"partnerid\":\"98765\"}", "2026-11-22T12:00:01.0000000Z",
     NULL, NULL, 0},
    {"liam-ins", "11:2F22:2F2026", NULL, "AzureMarketplace", "INS", OFFER_TAILSPIN, LIAM, "",
     "2026-11-22T13:37:00.0000000Z", NULL, NULL, 0},
    {"chen-plt-fabrikam", "11:2F22:2F2026", NULL, "SPZA", "PLT", OFFER_FABRIKAM, CHEN,
     "Contact me (second product)", "2026-11-22T15:20:48.0000000Z", NULL, NULL, 0},
    {"olu-plt", "11:2F22:2F2026", NULL, "SPZA", "PLT", OFFER_ADVWORKS, OLU, "Contact me",
     "2026-11-22T16:44:12.0000000Z", NULL, NULL, 0},
    {"empty-customerinfo", "11:2F22:2F2026", NULL, "AzureMarketplace", "INS", OFFER_ADVWORKS,
     NOEMAIL, "", "2026-11-22T18:18:18.0000000Z", "", NULL, 0},
    {"kenji-create",
     "11:2F23:2F2026",
     NULL,
     "AzurePortal",
     "Create",
     OFFER_FABRIKAM,
     {"健二", "渡辺", "KENJI.WATANABE@example.net", "+81 3 0000 0102", "JP",
      "Sakura Analytics K.K.", "Data Engineer"},
     "",
     "2026-11-23T06:55:21.0000000Z",
     NULL,
     NULL,
     0},
    {"zoe-ins", "11:2F23:2F2026", NULL, "AzureMarketplace", "INS", OFFER_NORTHWIND, ZOE, "",
     "2026-11-23T08:08:08.0000000Z", NULL, NULL, 0},
    {"olu-extra-props", "11:2F23:2F2026", NULL, "AzureMarketplace", "INS", OFFER_CONTOSO, OLU,
     "Get it now", "2026-11-23T09:30:00.0000000Z", NULL, NULL, 1},
    {"fatima-ins", "11:2F23:2F2026", NULL, "SPZA", "INS", OFFER_ADVWORKS, FATIMA, "",
     "2026-11-23T10:47:52.0000000Z", NULL, NULL, 0},
    {"noah-ins", "11:2F23:2F2026", NULL, "AzureMarketplace", "INS", OFFER_FABRIKAM, NOAH, "",
     "2026-11-23T12:12:12.0000000Z", NULL, NULL, 0},
    {"aarav-ins",
     "11:2F23:2F2026",
     NULL,
     "SPZA",
     "INS",
     OFFER_NORTHWIND,
     {"Aarav", "Patel", "aarav.patel@example.net\t", "+91 22 0000 0115", "IN", "Monsoon Fintech",
      "CTO"},
     "",
     "2026-11-23T13:03:30.0000000Z",
     NULL,
     NULL,
     0},
    {"yusuf-create", "11:2F23:2F2026", NULL, "AzurePortal", "Create", OFFER_ADVWORKS, YUSUF, "",
     "2026-11-23T14:59:59.0000000Z", NULL, NULL, 0},
    {"tomas-ins", "11:2F23:2F2026", NULL, "AzureMarketplace", "INS", OFFER_CONTOSO, TOMAS,
     "Campaigns: partner-newsletter", "2026-11-23T16:16:16.0000000Z", NULL, NULL, 0},
    {"marie-long-description", "11:2F24:2F2026", NULL, "SPZA", "PLT", OFFER_FABRIKAM, MARIE,
     LONG_DESCRIPTION, "2026-11-24T07:31:08.0000000Z", NULL, NULL, 0},
    {"ana-plt-again", "11:2F24:2F2026", NULL, "SPZA", "PLT", OFFER_CONTOSO, ANA,
     "Can someone call me about the annual plan?", "2026-11-24T08:02:55.0000000Z", NULL, NULL, 0},
    {"marie-create", "11:2F24:2F2026", NULL, "AzurePortal", "Create", OFFER_NORTHWIND, MARIE, "",
     "2026-11-24T09:09:09.0000000Z", NULL, NULL, 0},
    {"emma-ins", "11:2F24:2F2026", NULL, "AzureMarketplace", "INS", OFFER_NORTHWIND, EMMA, "",
     "2026-11-24T10:20:30.0000000Z", NULL, NULL, 0},
    /* An action code the lead model does not know: stage "unknown". */
    {"sofia-subscribe", "11:2F24:2F2026", NULL, "AzureMarketplace", "Subscribe", OFFER_TAILSPIN,
     SOFIA, "", "2026-11-24T11:11:11.0000000Z", NULL, NULL, 0},
    {"hana-testdrive", "11:2F24:2F2026", NULL, "TestDrive", "StartTestDrive", OFFER_TAILSPIN, HANA,
     " ", "2026-11-24T12:34:56.0000000Z", NULL, NULL, 0},
    {"liam-plt-contoso", "11:2F24:2F2026", NULL, "AzureMarketplace", "PLT", OFFER_CONTOSO, LIAM,
     "Contact me", "2026-11-24T13:45:00.0000000Z", NULL, NULL, 0},
    {"noah-create", "11:2F24:2F2026", NULL, "AzurePortal", "Create", OFFER_FABRIKAM, NOAH, "",
     "2026-11-24T15:00:00.0000000Z", NULL, NULL, 0},
    {"lucas-dnc", "11:2F24:2F2026", NULL, "SPZA", "DNC", OFFER_TAILSPIN, LUCAS, "",
     "2026-11-24T16:40:00.0000000Z", NULL, NULL, 0},
};

static const struct lead_row demo_new_row = {"ingrid-plt",
                                             "11:2F25:2F2026",
                                             NULL,
                                             "SPZA",
                                             "PLT",
                                             OFFER_CONTOSO,
                                             INGRID,
                                             "Contact me: pricing for 10 users?",
                                             "2026-11-25T08:15:00.0000000Z",
                                             NULL,
                                             NULL,
                                             0};

static const struct lead_row *demo_find(const char *tag)
{
    size_t i;

    for (i = 0; i < sizeof(demo_rows) / sizeof(demo_rows[0]); i++)
        if (strcmp(demo_rows[i].tag, tag) == 0)
            return &demo_rows[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Options and the client                                                    */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: leadsync-seed [--connection-string S] [--table T] COMMAND [ARGS]\n"
        "\n"
        "Writes marketplace-shaped lead rows into an Azure table (Azurite or real).\n"
        "Every write is an upsert, so reruns are harmless. The table is created if missing.\n"
        "\n"
        "commands:\n"
        "  demo              a fixed, realistic set of %zu leads: every source and action,\n"
        "                    repeat customers moving down the funnel, one email typed in\n"
        "                    different case/whitespace, a Microsoft validation lead\n"
        "                    (MSFT_TEST_...), DNC rows, malformed and empty CustomerInfo,\n"
        "                    extra (typed) properties, Unicode names, a long description\n"
        "  demo-update       changes 3 demo rows (a phone fixed, a description amended, a\n"
        "                    company renamed) and adds 1 new lead: a second sync sees 4 rows\n"
        "  bulk N            N synthetic leads over --partitions P, in entity group\n"
        "                    transactions of up to 100; deterministic for --seed; rows are\n"
        "                    indices K..K+N-1 (--start K); each row its own customer unless\n"
        "                    --customers C (then C customers, each on one offer); prints rows/s\n"
        "  update N          rewrites bulk rows K..K+N-1 with a changed Description\n"
        "                    (use bulk's --seed/--partitions/--customers; --revision R, default "
        "1,\n"
        "                    picks the new text, so successive updates keep changing rows)\n"
        "  ties N            N rows (1..100) in one batch, so they share one Timestamp or\n"
        "                    nearly; partition " TIES_PARTITION ", varies with --seed\n"
        "  serve N           no writes: a loopback table service (127.0.0.1, --port, default\n"
        "                    a free one) answering queries over the rows bulk N writes (same\n"
        "                    options, same rows, Timestamps --age seconds old, default 3600);\n"
        "                    prints its connection string, serves until SIGTERM; SharedKey\n"
        "                    signatures are not checked (a benchmark fixture)\n"
        "  count             prints the number of rows in the table (a full query);\n"
        "                    --filter EXPR counts only matching rows\n"
        "\n"
        "options:\n"
        "  --connection-string S  default $LEADSYNC_CONNECTION_STRING, else\n"
        "                         $AZURE_STORAGE_CONNECTION_STRING\n"
        "  --table T              default $LEADSYNC_TABLE, else " DEFAULT_TABLE "\n"
        "  --partitions P         bulk/update partitions (default %d)\n"
        "  --seed S               bulk/update/ties seed (default 1)\n"
        "  --start K              first bulk/update row index (default 0)\n"
        "  --customers C          bulk/update: C distinct customers (default: one per row)\n"
        "  --revision R           update: description revision (default 1)\n"
        "  --jobs J               bulk/update: parallel connections (default %d, max %d)\n"
        "  --filter EXPR          count: an OData $filter\n"
        "  --port P               serve: the port (default: a free one)\n"
        "  --age S                serve: the newest row's age in seconds (default 3600)\n"
        "  -h, --help             this text\n"
        "\n"
        "exit: 0 done, 64 usage, 69 service unreachable, 77 auth refused, 78 bad connection\n"
        "string, 1 any other failure.\n",
        sizeof(demo_rows) / sizeof(demo_rows[0]), DEFAULT_PARTITIONS, DEFAULT_JOBS, MAX_JOBS);
}

static int parse_args(int argc, char **argv, struct seed_opts *o)
{
    static const char *const with_value[] = {
        "--connection-string", "--table", "--partitions", "--seed", "--start", "--customers",
        "--revision",          "--jobs",  "--filter",     "--port", "--age"};
    const char *positional[2] = {NULL, NULL};
    size_t npos = 0;
    long v;
    int i;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[32];

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(EXIT_OK);
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (npos == 2) {
                fprintf(stderr, "leadsync-seed: unexpected argument '%s'\n", arg);
                return -1;
            }
            positional[npos++] = arg;
            continue;
        }
        if (tool_option(argc, argv, &i, with_value, sizeof(with_value) / sizeof(with_value[0]),
                        name, sizeof(name), &val))
            return -1;
        if (strcmp(name, "--connection-string") == 0) {
            o->conn_string = val;
        } else if (strcmp(name, "--table") == 0) {
            o->table = val;
        } else if (strcmp(name, "--filter") == 0) {
            o->filter = val;
        } else if (strcmp(name, "--partitions") == 0) {
            if (tool_parse_long(name, val, 1, 100000, &o->partitions))
                return -1;
        } else if (strcmp(name, "--seed") == 0) {
            if (tool_parse_long(name, val, 0, 2147483647L, &v))
                return -1;
            o->seed = (uint64_t)v;
        } else if (strcmp(name, "--start") == 0) {
            if (tool_parse_long(name, val, 0, 1000000000L, &o->start))
                return -1;
        } else if (strcmp(name, "--customers") == 0) {
            if (tool_parse_long(name, val, 1, 1000000000L, &o->customers))
                return -1;
        } else if (strcmp(name, "--revision") == 0) {
            if (tool_parse_long(name, val, 0, 1000000000L, &o->revision))
                return -1;
        } else if (strcmp(name, "--port") == 0) {
            if (tool_parse_long(name, val, 0, 65535, &o->port))
                return -1;
        } else if (strcmp(name, "--age") == 0) {
            if (tool_parse_long(name, val, 0, 100000000L, &o->age))
                return -1;
        } else if (strcmp(name, "--jobs") == 0) {
            if (tool_parse_long(name, val, 1, MAX_JOBS, &o->jobs))
                return -1;
        }
    }
    if (!positional[0]) {
        usage(stderr);
        return -1;
    }
    o->command = positional[0];
    if (strcmp(o->command, "bulk") == 0 || strcmp(o->command, "update") == 0 ||
        strcmp(o->command, "ties") == 0 || strcmp(o->command, "serve") == 0) {
        if (!positional[1]) {
            fprintf(stderr, "leadsync-seed: %s needs a row count N\n", o->command);
            return -1;
        }
        if (tool_parse_long("N", positional[1], 1,
                            strcmp(o->command, "ties") == 0 ? BATCH_MAX : 100000000L, &o->n))
            return -1;
    } else if (positional[1]) {
        fprintf(stderr, "leadsync-seed: unexpected argument '%s'\n", positional[1]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* demo and demo-update                                                      */

static int write_row(struct azt_client *c, const char *table, const struct lead_row *r)
{
    struct azt_write w;
    char rk[37];
    char *json = NULL;
    char what[160];
    int rc;

    if (r->rk)
        snprintf(rk, sizeof(rk), "%s", r->rk);
    else
        guid_from(hash_text(r->tag), rk);
    if (row_to_json(r, rk, &json) != 0)
        return AZT_EINVAL;
    memset(&w, 0, sizeof(w));
    w.op = AZT_OP_UPSERT_REPLACE;
    w.partition_key = r->pk;
    w.row_key = rk;
    w.json = json;
    w.json_len = strlen(json);
    rc = azt_entity_write(c, table, &w);
    if (rc != AZT_OK) {
        snprintf(what, sizeof(what), "writing row %s/%s", r->pk, rk);
        tool_report(what);
    }
    free(json);
    return rc;
}

static int cmd_demo(struct azt_client *c, const char *table)
{
    size_t i, n = sizeof(demo_rows) / sizeof(demo_rows[0]);
    int rc;

    for (i = 0; i < n; i++)
        if ((rc = write_row(c, table, &demo_rows[i])) != AZT_OK)
            return rc;
    printf("wrote %zu demo leads to table %s\n", n, table);
    return AZT_OK;
}

static int cmd_demo_update(struct azt_client *c, const char *table)
{
    struct lead_row phone, desc, company;
    const struct lead_row *a = demo_find("zoe-ins"), *b = demo_find("lucas-create"),
                          *d = demo_find("liam-ins");
    int rc;

    if (!a || !b || !d) {
        fprintf(stderr, "leadsync-seed: demo rows missing (internal error)\n");
        return AZT_ERROR;
    }
    phone = *a;
    phone.cust.phone = "+49 30 1234 5678";
    desc = *b;
    desc.description = "Amended: we also need SSO with our own identity provider.";
    company = *d;
    company.cust.company = "Shamrock Freight & Co. (Dublin)";
    if ((rc = write_row(c, table, &phone)) != AZT_OK ||
        (rc = write_row(c, table, &desc)) != AZT_OK ||
        (rc = write_row(c, table, &company)) != AZT_OK ||
        (rc = write_row(c, table, &demo_new_row)) != AZT_OK)
        return rc;
    printf("changed 3 demo leads (phone fixed, description amended, company renamed) and added 1 "
           "new lead in table %s\n",
           table);
    return AZT_OK;
}

/* ------------------------------------------------------------------------ */
/* Synthetic rows: bulk, update, ties                                        */

static const char *const first_names[] = {
    "Alex",   "Maria",  "Jonas", "Aiko",  "Omar",   "Lena",  "Rahul", "Chloe",
    "Mateo",  "Ingrid", "Kwame", "Sara",  "Viktor", "Mei",   "Diego", "Anouk",
    "Tariq",  "Elena",  "Finn",  "Amara", "Pavel",  "Nora",  "Hugo",  "Yara",
    "Samuel", "Ida",    "Kenzo", "Lucia", "Arjun",  "Freya", "Bruno", "Zara"};
static const char *const last_names[] = {
    "Morgan", "Rossi",   "Berg",   "Tanaka", "Haddad", "Fischer", "Mehta",   "Martin",
    "Lopez",  "Nilsen",  "Mensah", "Cohen",  "Petrov", "Lin",     "Ramos",   "de Vries",
    "Aziz",   "Popescu", "Walsh",  "Okafor", "Novak",  "Lund",    "Bernard", "Saleh",
    "Kim",    "Holm",    "Sato",   "Ferri",  "Iyer",   "Quinn",   "Costa",   "Ali"};
static const char *const countries[] = {"US", "GB", "DE", "FR", "JP", "IN", "BR", "NL",
                                        "SE", "ES", "IT", "CA", "AU", "SG", "ZA", "MX"};
static const char *const companies[] = {
    "Northwind Traders",      "Contoso Pharmaceuticals", "Fabrikam Residences",  "Tailspin Toys",
    "Wide World Importers",   "Woodgrove Bank",          "Litware Inc.",         "Proseware, Inc.",
    "Adventure Works Cycles", "Alpine Ski House",        "Blue Yonder Airlines", "Coho Winery",
    "Fourth Coffee",          "Lamna Healthcare",        "Margie's Travel",      "Trey Research"};
static const char *const titles[] = {"CTO",      "IT Manager",   "Developer",   "Architect",
                                     "CIO",      "Data Analyst", "DevOps Lead", "Procurement",
                                     "Engineer", "VP Operations"};
static const char *const offers[][2] = {
    {OFFER_CONTOSO}, {OFFER_FABRIKAM}, {OFFER_NORTHWIND}, {OFFER_ADVWORKS}, {OFFER_TAILSPIN}};
/* Source/action pairs as the marketplace combines them. DNC and validation
 * leads are left out so that N rows give N delivered leads. */
static const char *const funnel[][2] = {
    {"AzureMarketplace", "INS"}, {"AzureMarketplace", "PLT"},    {"SPZA", "PLT"}, {"SPZA", "INS"},
    {"AzurePortal", "Create"},   {"TestDrive", "StartTestDrive"}};

#define PICK(arr, r) (arr[(r) % (sizeof(arr) / sizeof(arr[0]))])

void seed_row_key(enum gen_kind kind, uint64_t seed, long i, char out[37])
{
    uint64_t salt = kind == GEN_TIES ? 0x7469657300000000ULL : 0;
    uint64_t rr = mix64(mix64(seed ^ salt) ^ (uint64_t)i);

    guid_from(mix64(rr ^ 0x726f776b6579ULL), out);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(long z, int *y, int *m, int *d)
{
    long era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void seed_gen_row(enum gen_kind kind, uint64_t seed, long i, long partitions, long customers,
                  long revision, struct gen_row *g)
{
    uint64_t salt = kind == GEN_TIES ? 0x7469657300000000ULL : 0;
    long cidx = customers > 0 ? i % customers : i;
    uint64_t cr = mix64(mix64(seed ^ salt ^ 0xc0ffeeULL) ^ (uint64_t)cidx);
    uint64_t rr = mix64(mix64(seed ^ salt) ^ (uint64_t)i);
    long p = kind == GEN_TIES ? 0 : i % partitions;
    long day0 = 20454; /* 2026-01-01 */
    const char *first = PICK(first_names, cr), *last = PICK(last_names, cr >> 8);
    const char *const *offer = PICK(offers, cr >> 16);
    const char *const *step = PICK(funnel, rr >> 8);
    int y, m, d;
    long secs = (long)((rr >> 24) % 86400);

    memset(g, 0, sizeof(*g));
    if (kind == GEN_TIES) {
        snprintf(g->pk, sizeof(g->pk), "%s", TIES_PARTITION);
        civil_from_days(day0 + 364, &y, &m, &d);
    } else {
        civil_from_days(day0 + p, &y, &m, &d);
        snprintf(g->pk, sizeof(g->pk), "%d:2F%d:2F%d", m, d, y);
    }
    seed_row_key(kind, seed, i, g->rk);
    snprintf(g->email, sizeof(g->email), "%c%s.%s%ld.s%" PRIu64 "@example.com", first[0] | 0x20,
             first + 1, kind == GEN_TIES ? "tie" : "lead", cidx, seed);
    snprintf(g->phone, sizeof(g->phone), "+1 555 %03u %04u", (unsigned)((cr >> 32) % 1000),
             (unsigned)(cidx % 10000));
    snprintf(g->created, sizeof(g->created), "%04d-%02d-%02dT%02ld:%02ld:%02ld.0000000Z", y, m, d,
             secs / 3600, secs / 60 % 60, secs % 60);
    if (revision > 0)
        snprintf(g->description, sizeof(g->description),
                 "Synthetic lead %ld (seed %" PRIu64 "), revision %ld: follow-up requested", i,
                 seed, revision);
    else
        snprintf(g->description, sizeof(g->description), "Synthetic lead %ld (seed %" PRIu64 ")", i,
                 seed);

    g->row.tag = NULL;
    g->row.pk = g->pk;
    g->row.rk = g->rk;
    g->row.source = step[0];
    g->row.action = step[1];
    g->row.offer = offer[0];
    g->row.offer_title = offer[1];
    g->row.cust.first = first;
    g->row.cust.last = last;
    g->row.cust.email = g->email;
    g->row.cust.phone = g->phone;
    g->row.cust.country = PICK(countries, cr >> 24);
    g->row.cust.company = PICK(companies, cr >> 28);
    g->row.cust.title = PICK(titles, cr >> 40);
    g->row.description = g->description;
    g->row.created = g->created;
}

/* Times one batch is sent before the seeder gives up. */
#define BATCH_ATTEMPTS 4

/* Writes up to BATCH_MAX generated rows (all in one partition) as one
 * entity group transaction. */
static int write_batch(struct azt_client *c, const char *table, struct gen_row *rows, size_t n)
{
    struct azt_write ws[BATCH_MAX];
    char *json[BATCH_MAX];
    char what[160];
    size_t i, built = 0;
    int attempt, rc = AZT_OK;

    memset(ws, 0, sizeof(ws));
    memset(json, 0, sizeof(json));

    for (i = 0; i < n; i++) {
        if (row_to_json(&rows[i].row, rows[i].rk, &json[i]) != 0) {
            rc = AZT_EINVAL;
            goto done;
        }
        built++;
        ws[i].op = AZT_OP_UPSERT_REPLACE;
        ws[i].partition_key = rows[i].pk;
        ws[i].row_key = rows[i].rk;
        ws[i].json = json[i];
        ws[i].json_len = strlen(json[i]);
    }
    /* Every operation is an upsert that replaces the row, so a batch whose
     * answer was lost (a timeout on a loaded machine) is safe to send again. */
    for (attempt = 1;; attempt++) {
        rc = azt_batch(c, table, ws, n);
        if (rc == AZT_OK || attempt == BATCH_ATTEMPTS || (rc != AZT_ENET && rc != AZT_ETHROTTLED))
            break;
        fprintf(stderr, "leadsync-seed: batch in partition %s: %s; sending it again\n", rows[0].pk,
                azt_error_last());
    }
    if (rc != AZT_OK) {
        snprintf(what, sizeof(what), "batch of %zu rows in partition %s", n, rows[0].pk);
        tool_report(what);
    }
done:
    for (i = 0; i < built; i++)
        free(json[i]);
    return rc;
}

struct bulk_job {
    struct azt_client *client;
    const struct seed_opts *o;
    int index;
    long revision;
    long written;
    int rc;
    volatile int *stop;
};

/* One job's share: partitions p with p % jobs == index; within a partition
 * rows K..K+N-1 with i % P == p, BATCH_MAX per transaction. */
static void *bulk_worker(void *arg)
{
    struct bulk_job *job = arg;
    const struct seed_opts *o = job->o;
    long end = o->start + o->n, p, i;
    struct gen_row *rows = calloc(BATCH_MAX, sizeof(*rows));
    size_t n = 0;

    if (!rows) {
        fprintf(stderr, "leadsync-seed: out of memory\n");
        job->rc = AZT_ENOMEM;
        *job->stop = 1;
        return NULL;
    }
    for (p = job->index; p < o->partitions && job->rc == AZT_OK && !*job->stop; p += o->jobs) {
        i = o->start + ((p - o->start % o->partitions) + o->partitions) % o->partitions;
        for (; i < end && job->rc == AZT_OK && !*job->stop; i += o->partitions) {
            seed_gen_row(GEN_BULK, o->seed, i, o->partitions, o->customers, job->revision,
                         &rows[n++]);
            if (n == BATCH_MAX || i + o->partitions >= end) {
                job->rc = write_batch(job->client, o->table, rows, n);
                if (job->rc == AZT_OK)
                    job->written += (long)n;
                n = 0;
            }
        }
    }
    if (job->rc != AZT_OK)
        *job->stop = 1;
    free(rows);
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_bulk(const struct seed_opts *o, long revision)
{
    struct bulk_job jobs[MAX_JOBS];
    pthread_t threads[MAX_JOBS];
    volatile int stop = 0;
    long njobs = o->jobs < o->partitions ? o->jobs : o->partitions, written = 0, j, started = 0;
    double t0, secs;
    int rc = AZT_OK;

    memset(jobs, 0, sizeof(jobs));
    /* Clients are created here, not in the threads: library set-up is not
     * guaranteed to be thread-safe. */
    for (j = 0; j < njobs; j++) {
        if ((rc = tool_open_client(o->conn_string, &jobs[j].client)) != AZT_OK)
            goto done;
        jobs[j].o = o;
        jobs[j].index = (int)j;
        jobs[j].revision = revision;
        jobs[j].stop = &stop;
    }
    t0 = now_seconds();
    for (j = 0; j < njobs; j++) {
        if (pthread_create(&threads[j], NULL, bulk_worker, &jobs[j]) != 0) {
            fprintf(stderr, "leadsync-seed: cannot start a thread\n");
            stop = 1;
            rc = AZT_ERROR;
            break;
        }
        started++;
    }
    for (j = 0; j < started; j++) {
        pthread_join(threads[j], NULL);
        written += jobs[j].written;
        if (jobs[j].rc != AZT_OK && rc == AZT_OK)
            rc = jobs[j].rc;
    }
    secs = now_seconds() - t0;
    if (rc == AZT_OK) {
        if (revision > 0)
            printf("updated %ld rows (indices %ld..%ld, revision %ld) in %.2f s: %.0f rows/s\n",
                   written, o->start, o->start + o->n - 1, revision, secs,
                   secs > 0 ? (double)written / secs : 0.0);
        else
            printf("wrote %ld rows over %ld partitions (seed %" PRIu64 ") in %.2f s: %.0f rows/s\n",
                   written, o->partitions, o->seed, secs, secs > 0 ? (double)written / secs : 0.0);
    } else {
        fprintf(stderr, "leadsync-seed: stopped after %ld rows\n", written);
    }
done:
    for (j = 0; j < njobs; j++)
        azt_client_destroy(jobs[j].client);
    return rc;
}

static int cmd_ties(struct azt_client *c, const struct seed_opts *o)
{
    struct gen_row *rows = calloc(BATCH_MAX, sizeof(*rows));
    long i;
    int rc;

    if (!rows) {
        fprintf(stderr, "leadsync-seed: out of memory\n");
        return AZT_ENOMEM;
    }
    for (i = 0; i < o->n; i++)
        seed_gen_row(GEN_TIES, o->seed, i, 1, 0, 0, &rows[i]);
    rc = write_batch(c, o->table, rows, (size_t)o->n);
    if (rc == AZT_OK)
        printf("wrote %ld rows in one batch to partition %s\n", o->n, TIES_PARTITION);
    free(rows);
    return rc;
}

static int cmd_count(struct azt_client *c, const struct seed_opts *o)
{
    struct azt_query q;
    struct azt_iter *it = NULL;
    struct azt_page *page = NULL;
    unsigned long long total = 0;
    int rc;

    memset(&q, 0, sizeof(q));
    q.filter = o->filter;
    q.select = "PartitionKey,RowKey";
    q.top = 1000;
    q.metadata = AZT_META_NONE;
    if ((rc = azt_query_open(c, o->table, &q, &it)) != AZT_OK) {
        tool_report("query");
        goto done;
    }
    while ((rc = azt_iter_next(it, &page)) == 1) {
        total += page->count;
        azt_page_free(page);
        page = NULL;
    }
    if (rc < 0) {
        tool_report("query");
        goto done;
    }
    printf("%llu\n", total);
    rc = AZT_OK;
done:
    azt_page_free(page);
    azt_iter_free(it);
    return rc;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct seed_opts o;
    struct azt_client *client = NULL;
    const char *env;
    int rc = AZT_OK, code = EXIT_OK;

    tool_init("leadsync-seed");

    memset(&o, 0, sizeof(o));
    o.partitions = DEFAULT_PARTITIONS;
    o.seed = 1;
    o.revision = 1;
    o.jobs = DEFAULT_JOBS;
    o.age = 3600;
    if (parse_args(argc, argv, &o) != 0)
        return EXIT_USAGE;
    if (!o.conn_string && (env = getenv("LEADSYNC_CONNECTION_STRING")) && *env)
        o.conn_string = env;
    if (!o.conn_string && (env = getenv("AZURE_STORAGE_CONNECTION_STRING")) && *env)
        o.conn_string = env;
    if (!o.table && (env = getenv("LEADSYNC_TABLE")) && *env)
        o.table = env;
    if (!o.table)
        o.table = DEFAULT_TABLE;
    if (strcmp(o.command, "demo") != 0 && strcmp(o.command, "demo-update") != 0 &&
        strcmp(o.command, "bulk") != 0 && strcmp(o.command, "update") != 0 &&
        strcmp(o.command, "ties") != 0 && strcmp(o.command, "count") != 0 &&
        strcmp(o.command, "serve") != 0) {
        fprintf(stderr, "leadsync-seed: unknown command '%s' (see --help)\n", o.command);
        return EXIT_USAGE;
    }
    json_object_seed(0); /* before any thread builds JSON */
    if (strcmp(o.command, "serve") == 0)
        return seed_serve(&o);
    if (!o.conn_string) {
        fprintf(stderr, "leadsync-seed: no connection string: set LEADSYNC_CONNECTION_STRING or "
                        "pass --connection-string\n");
        return EXIT_CONFIG;
    }

    if ((rc = tool_open_client(o.conn_string, &client)) != AZT_OK)
        goto done;
    if (strcmp(o.command, "count") != 0) {
        if ((rc = azt_table_create(client, o.table, 1)) != AZT_OK) {
            tool_report("creating the table");
            goto done;
        }
    }
    if (strcmp(o.command, "demo") == 0)
        rc = cmd_demo(client, o.table);
    else if (strcmp(o.command, "demo-update") == 0)
        rc = cmd_demo_update(client, o.table);
    else if (strcmp(o.command, "bulk") == 0)
        rc = cmd_bulk(&o, 0);
    else if (strcmp(o.command, "update") == 0)
        rc = cmd_bulk(&o, o.revision);
    else if (strcmp(o.command, "ties") == 0)
        rc = cmd_ties(client, &o);
    else
        rc = cmd_count(client, &o);
done:
    azt_client_destroy(client);
    if (rc != AZT_OK)
        code = tool_exit_for(rc);
    return code;
}
