// Bare pull with the official JavaScript SDK (@azure/data-tables), for
// scripts/bench/run: lists every entity of a table page by page and counts them.
//   node scripts/bench/sdk.mjs TABLE [PAGE_SIZE]
// The connection string comes from LEADSYNC_CONNECTION_STRING. Prints the
// number of entities and pages read.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "npm", "package.json"));
const { TableClient } = require("@azure/data-tables");

const table = process.argv[2];
const pageSize = Number(process.argv[3] || 1000);
const conn = process.env.LEADSYNC_CONNECTION_STRING;
if (!table || !conn) {
  console.error("usage: LEADSYNC_CONNECTION_STRING=... node sdk.mjs TABLE [PAGE_SIZE]");
  process.exit(64);
}
const client = TableClient.fromConnectionString(conn, table, { allowInsecureConnection: true });
let rows = 0;
let pages = 0;
for await (const page of client.listEntities().byPage({ maxPageSize: pageSize })) {
  rows += page.length;
  pages += 1;
}
console.log(`rows=${rows} pages=${pages}`);
