#!/usr/bin/env node
// validate.mjs - the contract test for proto/.
//
//   node tests/contract/validate.mjs [--proto DIR] [--messages FILE.jsonl]
//
// Checks, each counted as one pass or one failure:
//   - every schema in proto/schemas is JSON Schema 2020-12 with the $id its file
//     name implies, and compiles (all $refs between files resolve);
//   - every schema has a valid example, and every proto/examples/*.example.json
//     passes the schema it is named for;
//   - every file in proto/examples/invalid fails the schema it is named for;
//   - proto/asyncapi.yaml parses, is AsyncAPI 3.0.0, every $ref in it resolves
//     (inside the document, or to a file in proto/schemas and a pointer in it),
//     and its channels are the topics of common/topics.c with their partitions;
//   - with --messages: every line of FILE.jsonl, a JSON object {topic, value}
//     (value: the message as a JSON object or as its text; optional key and
//     headers), passes the schema asyncapi.yaml gives its topic: for events,
//     the message whose schema names the envelope's type; a type no schema
//     names is a failure (the contract must cover what is published), and so
//     is a key or data.case_id that is not the envelope's subject.
//
// A file is named for the schema whose name is its longest dot-separated
// prefix: event.deadline.met.example.json is checked against
// event.deadline.json. Exits 1 if anything failed; the last line printed is
// always "N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The node packages come from package-lock.json (scripts/install-deps runs
// npm ci here); say so plainly when they are missing.
let Ajv2020, addFormats, YAML;
try {
  ({ default: Ajv2020 } = await import('ajv/dist/2020.js'));
  ({ default: addFormats } = await import('ajv-formats'));
  ({ default: YAML } = await import('yaml'));
} catch (e) {
  console.log(`FAIL node packages: ${e.message}`);
  console.log('       run scripts/install-deps (npm ci in tests/contract)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SCHEMA_BASE = 'https://sendpath.example/schemas/';
const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

// ---- arguments and reporting ------------------------------------------------

function parseArgs(argv) {
  const opts = { proto: path.join(ROOT, 'proto'), messages: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--proto' && argv[i + 1]) opts.proto = path.resolve(argv[++i]);
    else if (a === '--messages' && argv[i + 1]) opts.messages = path.resolve(argv[++i]);
    else if (a === '--quiet' || a === '-q') opts.quiet = true;
    else {
      console.error(`usage: validate.mjs [--proto DIR] [--messages FILE.jsonl] [--quiet]`);
      process.exit(2);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
let passed = 0;
let failed = 0;

function pass(what, note) {
  passed++;
  if (!opts.quiet) console.log(`ok   ${what}${note ? `  (${note})` : ''}`);
}

function fail(what, reasons) {
  failed++;
  console.log(`FAIL ${what}`);
  for (const r of [].concat(reasons)) console.log(`       ${r}`);
}

const rel = (p) => path.relative(ROOT, p) || p;

// "/data/on_time: must be boolean", one line per ajv error.
function describe(errors) {
  // "must match \"then\" schema" only repeats the errors under it.
  return (errors || []).filter((e) => e.keyword !== 'if').map((e) => {
    let msg = `${e.instancePath || '/'}: ${e.message}`;
    if (e.keyword === 'enum') msg += ` (${e.params.allowedValues.join(', ')})`;
    if (e.keyword === 'const') msg += ` (${JSON.stringify(e.params.allowedValue)})`;
    if (e.keyword === 'additionalProperties') msg += ` ('${e.params.additionalProperty}')`;
    return msg;
  });
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function listJson(dir, suffix = '.json') {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).sort()
    .map((f) => path.join(dir, f));
}

// ---- schemas ----------------------------------------------------------------

const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
addFormats(ajv);

const schemaDir = path.join(opts.proto, 'schemas');
const schemas = new Map(); // name ("event.deadline") -> parsed schema
for (const file of listJson(schemaDir)) {
  const name = path.basename(file, '.json');
  let s;
  try {
    s = readJson(file);
  } catch (e) {
    fail(rel(file), `not JSON: ${e.message}`);
    continue;
  }
  const problems = [];
  if (s.$schema !== DRAFT) problems.push(`$schema must be "${DRAFT}"`);
  if (s.$id !== `${SCHEMA_BASE}${name}.json`) problems.push(`$id must be "${SCHEMA_BASE}${name}.json"`);
  if (typeof s.description !== 'string' || !s.description) problems.push('no description');
  if (problems.length) {
    fail(rel(file), problems);
    continue;
  }
  try {
    ajv.addSchema(s);
    schemas.set(name, s);
  } catch (e) {
    fail(rel(file), e.message);
  }
}

const validators = new Map(); // name -> compiled validate function
for (const [name, s] of schemas) {
  try {
    validators.set(name, ajv.getSchema(s.$id));
    pass(`schema ${name}.json compiles`);
  } catch (e) {
    fail(`schema ${name}.json compiles`, e.message);
  }
}
if (schemas.size === 0) fail(`schemas in ${rel(schemaDir)}`, 'none found');

// The schema a file is named for: the longest name that is a dot-separated
// prefix of the file's name.
function schemaFor(file) {
  const base = path.basename(file);
  let best = null;
  for (const name of schemas.keys()) {
    if (base.startsWith(`${name}.`) && (!best || name.length > best.length)) best = name;
  }
  return best;
}

// The compiled schema for name, or a failure saying it did not compile.
function validatorFor(name, what) {
  const v = validators.get(name);
  if (!v) fail(what, `schema ${name}.json did not compile`);
  return v;
}

// ---- examples ---------------------------------------------------------------

const exampleDir = path.join(opts.proto, 'examples');
const exampled = new Set();
for (const file of listJson(exampleDir, '.example.json')) {
  const name = schemaFor(file);
  const what = rel(file);
  if (!name) {
    fail(what, 'named for no schema in proto/schemas');
    continue;
  }
  let doc;
  try {
    doc = readJson(file);
  } catch (e) {
    fail(what, `not JSON: ${e.message}`);
    continue;
  }
  const validate = validatorFor(name, what);
  if (!validate) continue;
  if (validate(doc)) {
    exampled.add(name);
    pass(what, `valid ${name}`);
  } else {
    fail(`${what} (against ${name}.json)`, describe(validate.errors));
  }
}
for (const name of schemas.keys()) {
  if (!exampled.has(name)) fail(`schema ${name}.json`, `no valid example ${name}.example.json`);
}

const invalidDir = path.join(exampleDir, 'invalid');
const invalids = listJson(invalidDir);
if (invalids.length === 0) fail(rel(invalidDir), 'no invalid examples');
for (const file of invalids) {
  const name = schemaFor(file);
  const what = rel(file);
  if (!name) {
    fail(what, 'named for no schema in proto/schemas');
    continue;
  }
  let doc;
  try {
    doc = readJson(file);
  } catch (e) {
    fail(what, `not JSON (an invalid example must be JSON that breaks a rule): ${e.message}`);
    continue;
  }
  const validate = validatorFor(name, what);
  if (!validate) continue;
  if (validate(doc)) fail(what, `passes ${name}.json but must fail`);
  else pass(what, `rejected: ${describe(validate.errors).join('; ')}`);
}

// ---- asyncapi.yaml ----------------------------------------------------------

// Follows a JSON pointer ("/channels/x"); undefined if it leads nowhere.
function pointer(doc, ptr) {
  if (ptr === '' || ptr === '/') return doc;
  let cur = doc;
  for (const raw of ptr.replace(/^\//, '').split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function collectRefs(node, at, out) {
  if (Array.isArray(node)) node.forEach((v, i) => collectRefs(v, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ ref: v, at });
      else collectRefs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

// The topic table in common/topics.c: [{name, partitions}].
function topicTable() {
  const file = path.join(ROOT, 'common/topics.c');
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  const rows = [...text.matchAll(/\[SP_TOPIC_[A-Z_]+\]\s*=\s*\{\s*"([^"]+)"\s*,\s*(\d+)/g)];
  return rows.map((m) => ({ name: m[1], partitions: Number(m[2]) }));
}

function checkAsyncApi() {
  const file = path.join(opts.proto, 'asyncapi.yaml');
  const what = rel(file);
  let doc;
  try {
    const parsed = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { prettyErrors: true });
    if (parsed.errors.length) throw new Error(parsed.errors.map((e) => e.message).join('; '));
    doc = parsed.toJS();
  } catch (e) {
    fail(`${what} parses`, e.message);
    return null;
  }
  if (doc && doc.asyncapi === '3.0.0' && doc.channels && doc.operations) {
    pass(`${what} parses as AsyncAPI 3.0.0`);
  } else {
    fail(`${what} parses as AsyncAPI 3.0.0`, 'want asyncapi: 3.0.0 with channels and operations');
    return null;
  }

  const refs = collectRefs(doc, '', []);
  const seen = new Set();
  for (const { ref, at } of refs) {
    if (seen.has(ref)) continue;
    seen.add(ref);
    const [target, frag = ''] = ref.split('#');
    const label = `${what} $ref ${ref}`;
    if (!target) {
      if (pointer(doc, frag) === undefined) fail(label, `at ${at}: nothing at #${frag} in the document`);
      else pass(label);
      continue;
    }
    const abs = path.resolve(path.dirname(file), target);
    if (path.dirname(abs) !== schemaDir || !fs.existsSync(abs)) {
      fail(label, `at ${at}: not a file in ${rel(schemaDir)}`);
      continue;
    }
    if (frag && pointer(readJson(abs), frag) === undefined) {
      fail(label, `at ${at}: nothing at #${frag} in ${rel(abs)}`);
      continue;
    }
    pass(label);
  }

  // Operations must point at channels and at messages of their own channel.
  const problems = [];
  for (const [id, op] of Object.entries(doc.operations)) {
    if (op.action !== 'send' && op.action !== 'receive') problems.push(`${id}: action must be send or receive`);
    const ch = op.channel && op.channel.$ref;
    if (!ch || !ch.startsWith('#/channels/')) {
      problems.push(`${id}: channel must be a $ref to #/channels/...`);
      continue;
    }
    for (const m of op.messages || []) {
      if (!m.$ref || !m.$ref.startsWith(`${ch}/messages/`)) {
        problems.push(`${id}: message ${m.$ref} is not a message of ${ch}`);
      }
    }
  }
  if (problems.length) fail(`${what} operations`, problems);
  else pass(`${what} operations use their own channel's messages`);

  const table = topicTable();
  if (!table) {
    pass(`${what} channels`, 'common/topics.c not found; topic table not compared');
    return doc;
  }
  const channels = Object.values(doc.channels);
  const mismatch = [];
  for (const t of table) {
    const c = channels.find((ch) => ch.address === t.name);
    if (!c) {
      mismatch.push(`no channel with address ${t.name}`);
      continue;
    }
    const k = c.bindings && c.bindings.kafka;
    if (!k || k.partitions !== t.partitions || k.topic !== t.name) {
      mismatch.push(`${t.name}: bindings.kafka must have topic ${t.name} and partitions ${t.partitions}`);
    }
  }
  for (const c of channels) {
    if (!table.some((t) => t.name === c.address)) mismatch.push(`channel ${c.address} is not in common/topics.c`);
  }
  if (table.length === 0) mismatch.push('no rows read from common/topics.c');
  if (mismatch.length) fail(`${what} channels = common/topics.c`, mismatch);
  else pass(`${what} channels = common/topics.c`, `${table.length} topics`);
  return doc;
}
const asyncapi = checkAsyncApi();

// What asyncapi.yaml says a message on each topic is. topic -> {events: type ->
// schema name, body: schema name of a non-event payload, any: the payload is
// any bytes (dead letters), headers: header names that must be present}.
function buildRoutes(doc) {
  const routes = new Map();
  if (!doc) return routes;
  for (const ch of Object.values(doc.channels || {})) {
    const r = { events: new Map(), body: null, any: false, headers: [] };
    for (let m of Object.values(ch.messages || {})) {
      if (m && typeof m.$ref === 'string' && m.$ref.startsWith('#')) m = pointer(doc, m.$ref.slice(1));
      if (!m) continue;
      const payload = m.payload || {};
      const ref = (payload.schema && payload.schema.$ref) || payload.$ref;
      if (!ref) {
        r.any = true;
        r.headers = (m.headers && m.headers.required) || [];
        continue;
      }
      const name = path.basename(ref.split('#')[0], '.json');
      const sch = schemas.get(name);
      if (!sch) continue;
      if (!(sch.allOf || []).some((a) => a.$ref === 'envelope.json')) {
        r.body = name;
        continue;
      }
      const t = sch.properties && sch.properties.type;
      for (const type of t ? t.enum || [t.const] : []) r.events.set(type, name);
    }
    routes.set(ch.address, r);
  }
  return routes;
}
const routes = buildRoutes(asyncapi);

// Every event schema is the payload of some channel's message.
if (asyncapi) {
  const carried = new Set([...routes.values()].flatMap((r) => [...r.events.values()]));
  const orphans = [...schemas.entries()]
    .filter(([, sch]) => (sch.allOf || []).some((a) => a.$ref === 'envelope.json'))
    .map(([name]) => name)
    .filter((name) => !carried.has(name));
  if (orphans.length) fail('every event schema is on a channel of asyncapi.yaml', orphans.map((n) => `${n}.json is on none`));
  else pass('every event schema is on a channel of asyncapi.yaml');
}

// ---- captured messages ------------------------------------------------------

function checkMessage(where, line) {
  let rec;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    fail(where, `not JSON: ${e.message}`);
    return;
  }
  if (!rec || typeof rec !== 'object' || typeof rec.topic !== 'string' || !('value' in rec)) {
    fail(where, 'want an object {topic, value}');
    return;
  }
  const route = routes.get(rec.topic);
  if (!route) {
    fail(`${where} ${rec.topic}`, 'not a channel of asyncapi.yaml');
    return;
  }
  if (route.any) {
    // The value is the refused message as it was: anything. Check the headers
    // when the capture has them, as an object or as kcat -J gives them:
    // [name, value, ...].
    let h = rec.headers;
    if (Array.isArray(h)) h = Object.fromEntries(h.flatMap((v, i) => (i % 2 ? [] : [[v, h[i + 1]]])));
    const missing = h ? route.headers.filter((k) => typeof h[k] !== 'string') : [];
    if (missing.length) fail(`${where} ${rec.topic}`, `headers missing: ${missing.join(', ')}`);
    else pass(`${where} ${rec.topic}`, h ? `x-reason: ${h['x-reason']}` : 'value not checked');
    return;
  }
  let value = rec.value;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (e) {
      fail(`${where} ${rec.topic}`, `value is not JSON: ${e.message}`);
      return;
    }
  }
  let name;
  let label = `${where} ${rec.topic}`;
  const isEvent = route.events.size > 0 || !route.body;
  if (!isEvent) {
    name = route.body;
  } else {
    const type = value && typeof value === 'object' ? value.type : undefined;
    label += ` ${type}`;
    if (typeof type !== 'string') {
      name = 'envelope'; // reports what is wrong with the envelope
    } else if (route.events.has(type)) {
      name = route.events.get(type);
    } else {
      fail(label, `no schema in proto/ for type "${type}" on ${rec.topic}`);
      return;
    }
  }
  const validate = validators.get(name);
  if (!validate) {
    fail(label, `schema ${name}.json did not load`);
    return;
  }
  const errors = validate(value) ? [] : describe(validate.errors);
  // What the schemas cannot say: the key, the subject and data.case_id agree.
  if (isEvent && errors.length === 0) {
    if (value.data.case_id !== undefined && value.data.case_id !== value.subject) {
      errors.push(`/data/case_id: must equal subject (${value.subject})`);
    }
    if (rec.key !== undefined && rec.key !== null && rec.key !== value.subject) {
      errors.push(`(key): must equal subject (${value.subject}), is ${JSON.stringify(rec.key)}`);
    }
    if (typeof value.data.clock_id === 'string' && !value.id.startsWith(`${value.data.clock_id}/`)) {
      errors.push(`/id: must start with data.clock_id + "/"`);
    }
  }
  if (errors.length) fail(`${label} (against ${name}.json)`, errors);
  else pass(label, `valid ${name}`);
}

if (opts.messages) {
  let text;
  try {
    text = fs.readFileSync(opts.messages, 'utf8');
  } catch (e) {
    fail(opts.messages, e.message);
    text = '';
  }
  const lines = text.split('\n');
  let count = 0;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    count++;
    checkMessage(`${path.basename(opts.messages)}:${i + 1}`, line);
  });
  if (count === 0) fail(rel(opts.messages), 'no messages');
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
