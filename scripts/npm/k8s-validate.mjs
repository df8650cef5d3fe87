// k8s-validate.mjs - checks Kubernetes objects against the Kubernetes OpenAPI
// schema (the validators of the pinned kubernetes-models package), offline.
//   node scripts/npm/k8s-validate.mjs < objects.json      (a JSON array)
// Prints one line per problem and exits 1 when there is any. Besides types,
// enums and required fields it reports unknown fields (which `kubectl apply`
// rejects or drops): the data is wrapped in proxies that record which fields
// the schema's validator looked at; a field it never read is not in the schema.
import { readFileSync } from "node:fs";

function schemaName(apiVersion, kind) {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["core", apiVersion];
    const g = group.split(".")[0];
    return "IoK8sApi" + g[0].toUpperCase() + g.slice(1) + version[0].toUpperCase() + version.slice(1) + kind;
}

// A proxy per object: reads of named fields go to `read`; enumerating the
// keys (what a validator does for maps: labels, data) marks them all read.
function watch(value, path, seen) {
    if (value === null || typeof value !== "object") return value;
    const read = new Set();
    const entry = { value, path, read, all: false };
    seen.push(entry);
    const kids = new Map();
    return new Proxy(value, {
        get(target, key) {
            const v = target[key];
            if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key)) return v;
            read.add(key);
            if (!kids.has(key)) kids.set(key, watch(v, path + "/" + key, seen));
            return kids.get(key);
        },
        ownKeys(target) {
            entry.all = true;
            return Reflect.ownKeys(target);
        },
    });
}

const docs = JSON.parse(readFileSync(0, "utf8"));
let problems = 0;
for (const doc of docs) {
    const name = `${doc.kind}/${doc.metadata && doc.metadata.name}`;
    let mod;
    try {
        mod = await import("kubernetes-models/_schemas/" + schemaName(doc.apiVersion, doc.kind));
    } catch (e) {
        console.log(`${name}: no schema for ${doc.apiVersion} ${doc.kind}`);
        problems++;
        continue;
    }
    const seen = [];
    if (!mod.validate(watch(doc, "", seen))) {
        for (const e of mod.validate.errors) {
            console.log(`${name}: ${e.instancePath || "/"} ${e.keyword} ${JSON.stringify(e.params)}`);
            problems++;
        }
    }
    for (const { value, path, read, all } of seen) {
        if (all || Array.isArray(value)) continue;
        for (const key of Object.keys(value)) {
            if (!read.has(key)) {
                console.log(`${name}: ${path}/${key}: unknown field`);
                problems++;
            }
        }
    }
}
process.exit(problems ? 1 : 0);
