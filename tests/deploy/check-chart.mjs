// The Helm chart, as far as it can be checked without helm (Debian has no
// helm package):
//   - values.yaml, and examples/production-values.yaml merged over it as
//     helm merges them, are valid against values.schema.json (ajv), and the
//     schema refuses a set of wrong values (so it is not vacuous);
//   - every sendpath.conf key the values or the ConfigMap template set is a
//     key the service knows (docs/config.md, generated from the config
//     tables): a service stops at start on an unknown key;
//   - every .Values path the templates read exists in values.yaml, and each
//     template's range/if/with/define blocks are closed;
//   - the services and ports are the repository's.
// Not checked: that the templates render (no Go template engine here) or
// that the rendered manifests are valid Kubernetes objects; run
// `helm lint` and `helm template | kubeconform` where helm is available.
import { readdirSync } from "node:fs";
import path from "node:path";
import { packages, read, ROOT, configKeys, knownKey, ports, SERVICES, check, finish }
  from "./lib.mjs";

const { Ajv, addFormats, YAML } = packages();
const CHART = "charts/sendpath";
const schema = JSON.parse(read(`${CHART}/values.schema.json`));
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
const errs = () => ajv.errorsText(validate.errors, { separator: "; " });

const chart = YAML.parse(read(`${CHART}/Chart.yaml`));
check("Chart.yaml: apiVersion v2, semver version, appVersion",
      chart.apiVersion === "v2" && chart.name === "sendpath" &&
      /^\d+\.\d+\.\d+/.test(chart.version) && !!chart.appVersion);

// helm's rule: maps merge key by key, null removes a key, anything else replaces.
function merge(base, over) {
  if (over === null || typeof over !== "object" || Array.isArray(over) ||
      base === null || typeof base !== "object" || Array.isArray(base)) return over;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = k in base ? merge(base[k], v) : v;
  }
  return out;
}

const defaults = YAML.parse(read(`${CHART}/values.yaml`));
const examples = readdirSync(path.join(ROOT, CHART, "examples")).filter((f) => f.endsWith(".yaml"));
check("there is a production example", examples.includes("production-values.yaml"));
const sets = [["values.yaml", defaults],
              ...examples.map((f) => [`examples/${f} over values.yaml`,
                                      merge(defaults, YAML.parse(read(`${CHART}/examples/${f}`)))])];
for (const [name, v] of sets) check(`${name} is valid against values.schema.json`, validate(v), errs());

// The schema must say no to these.
const wrong = {
  "more replicas than partitions": (v) => { v.services.timers.replicas = 7; },
  "replicas as text": (v) => { v.services.intake.replicas = "two"; },
  "a sixth service": (v) => { v.services.billing = structuredClone(v.services.ops); },
  "an unknown top-level key": (v) => { v.replicaCount = 3; },
  "a typo in a service's keys": (v) => { v.services.notify.replica = 2; },
  "a password in the ConfigMap": (v) => { v.services.notify.config["smtp.password"] = "x"; },
  "a SASL password in kafka.properties": (v) => { v.kafka.properties["sasl.password"] = "x"; },
  "redis.host in config (it has its own value)": (v) => { v.config["redis.host"] = "x"; },
  "the manual test clock in production": (v) => { v.config["clock.mode"] = "manual"; },
  "a bootstrap list without ports": (v) => { v.kafka.bootstrapServers = "kafka"; },
  "a value with a newline": (v) => { v.config["log.level"] = "info\nredis.host = evil"; },
  "a privileged port": (v) => { v.services.ops.port = 80; },
  "a shard table without ports": (v) => { v.redis.shards = "0-5@redis-a"; },
  "a sentinel list without ports": (v) => { v.redis.sentinels = "sentinel-0,sentinel-1"; },
  "redis.sentinels in config (it has its own value)": (v) => { v.config["redis.sentinels"] = "s:1"; },
  "a shard naming a sentinel master with a port": (v) => { v.redis.shards = "0-5@sentinel:a:1"; },
  "the sentinels' password in config (a Secret's)": (v) => { v.config["redis.sentinel_password"] = "x"; },
  "a sentinel password Secret without its key": (v) => { v.redis.sentinelAuth = { existingSecret: "s" }; },
  "topics with no partitions": (v) => { v.topics.partitions = 0; },
  "a topic's retention as text": (v) => { v.topics.retentionMs["sendpath.commands"] = "7d"; },
  "a typo in the topics Job's keys": (v) => { v.topics.replication = 3; },
};
for (const [what, mutate] of Object.entries(wrong)) {
  const v = structuredClone(defaults);
  mutate(v);
  check(`schema refuses ${what}`, !validate(v), "accepted");
}

// Config keys: general ones reach every service, so every service must know
// them; a service's own keys must be in its table.
const keys = configKeys();
const cm = read(`${CHART}/templates/configmap.yaml`);
const literal = [...cm.matchAll(/^ {4}([a-z][a-z0-9_.]*) = /gm)].map((m) => m[1])
  .filter((k) => !k.startsWith("kafka."));
for (const [name, v] of sets) {
  const general = [...literal, ...Object.keys(v.config || {})];
  for (const k of general) {
    const missing = SERVICES.filter((s) => !knownKey(keys, s, k));
    check(`${name}: "${k}" is a key of every service`, missing.length === 0,
          `unknown to ${missing.join(", ")}`);
  }
  for (const s of SERVICES)
    for (const k of ["http.port", ...Object.keys(v.services[s].config || {})])
      check(`${name}: "${s}.${k}" is a ${s} key`, knownKey(keys, s, k));
}

// .Values paths in the templates exist in values.yaml.
const tdir = path.join(ROOT, CHART, "templates");
for (const f of readdirSync(tdir)) {
  const text = read(`${CHART}/templates/${f}`);
  for (const m of new Set([...text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((x) => x[1]))) {
    let node = defaults;
    for (const part of m.slice(1).split(".")) node = node && typeof node === "object" ? node[part] : undefined;
    check(`${f}: .Values${m} exists in values.yaml`, node !== undefined);
  }
  const opens = (text.match(/\{\{-?\s*(range|if|with|define)\b/g) || []).length;
  const ends = (text.match(/\{\{-?\s*end\s*-?\}\}/g) || []).length;
  check(`${f}: every range/if/with/define has its end`, opens === ends, `${opens} opened, ${ends} ended`);
  check(`${f}: {{ and }} pair up`, (text.match(/\{\{/g) || []).length === (text.match(/\}\}/g) || []).length);
}

// The services and their ports are the repository's.
const port = ports();
check("values.yaml has exactly the five services",
      JSON.stringify(Object.keys(defaults.services).sort()) === JSON.stringify([...SERVICES].sort()));
for (const s of SERVICES)
  check(`${s}: port ${defaults.services[s].port} is config/sendpath.conf's`,
        defaults.services[s].port === port[s]);
finish();
