// Helpers shared by the deployment checks: the node packages pinned in
// tests/contract (ajv, yaml), and the facts the checks compare against,
// read from the sources that own them (common/topics.c, docs/config.md,
// config/sendpath.conf), never restated here.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "tests/contract/package.json"));

export function packages() {
  try {
    const Ajv = require("ajv").default;
    const addFormats = require("ajv-formats").default;
    const YAML = require("yaml");
    return { Ajv, addFormats, YAML };
  } catch (e) {
    console.error(`FAIL node packages: ${e.message}\n       run scripts/install-deps (npm ci in tests/contract)`);
    process.exit(1);
  }
}

export const read = (rel) => readFileSync(path.join(ROOT, rel), "utf8");

export const SERVICES = ["intake", "evidence", "timers", "notify", "ops"];

/** [{name, partitions}] from the topic table in common/topics.c. */
export function topicTable() {
  const src = read("common/topics.c");
  const rows = [...src.matchAll(/\[SP_TOPIC_\w+\]\s*=\s*\{\s*"([^"]+)",\s*(\d+)/g)];
  if (rows.length === 0) throw new Error("no topics found in common/topics.c");
  return rows.map((m) => ({ name: m[1], partitions: Number(m[2]) }));
}

/** service -> [keys] from docs/config.md (generated from the config tables
 *  and itself checked in CI); a key ending in "<name>" is a map prefix. */
export function configKeys() {
  const keys = {};
  let svc = null;
  for (const line of read("docs/config.md").split("\n")) {
    const h = line.match(/^## (\w+)/);
    if (h) { svc = h[1]; keys[svc] = []; continue; }
    const row = line.match(/^\| `([^`]+)` \|/);
    if (svc && row) keys[svc].push(row[1]);
  }
  return keys;
}

export function knownKey(keys, svc, key) {
  return (keys[svc] || []).some((k) =>
    k.endsWith("<name>") ? key.startsWith(k.slice(0, -"<name>".length)) && key.length >
      k.length - "<name>".length : k === key);
}

/** service -> HTTP port from config/sendpath.conf. */
export function ports() {
  const out = {};
  for (const m of read("config/sendpath.conf").matchAll(/^(\w+)\.http\.port\s*=\s*(\d+)/gm))
    out[m[1]] = Number(m[2]);
  return out;
}

let failures = 0;
export function check(what, ok, detail = "") {
  if (ok) console.log(`ok   ${what}`);
  else { failures++; console.log(`FAIL ${what}${detail ? `: ${detail}` : ""}`); }
  return ok;
}
export function finish() {
  console.log(failures ? `${failures} check(s) failed` : "all checks passed");
  process.exit(failures ? 1 : 0);
}
