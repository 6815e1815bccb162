// The chart's topic-creation hook Job (templates/topics-job.yaml and
// files/create-topics.sh), as far as it can be checked without helm or Kafka:
//   - the Job is a pre-install and pre-upgrade hook, replaced on each run;
//     it reads the script with .Files.Get from a file that exists, passes
//     `bash -n`, and takes its SASL credentials from the same Secret keys
//     as the services' Deployments;
//   - values.yaml names exactly the topics of common/topics.c, with their
//     partition count, and the production example keeps them;
//   - the script, run against a stand-in for kafka-topics.sh that keeps its
//     "cluster" in a directory (a stand-in: no Kafka broker with admin APIs
//     runs here, see docs/deploy.md), creates what is missing with the
//     values' partitions, replication and configs, does nothing the second
//     time, refuses a topic with another partition count naming it, and
//     writes SASL/SCRAM credentials JAAS-quoted.
// Not checked: the real kafka-topics.sh's output format beyond
// "PartitionCount: N" (stable since Kafka 2.x), nor the image itself.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync }
  from "node:fs";
import os from "node:os";
import path from "node:path";
import { packages, read, ROOT, topicTable, check, finish } from "./lib.mjs";

const { YAML } = packages();
const CHART = "charts/sendpath";
const job = read(`${CHART}/templates/topics-job.yaml`);
const deployment = read(`${CHART}/templates/deployment.yaml`);
const values = YAML.parse(read(`${CHART}/values.yaml`));
const production = YAML.parse(read(`${CHART}/examples/production-values.yaml`));

check("the Job is a pre-install and pre-upgrade hook",
      /"helm\.sh\/hook":\s*pre-install,pre-upgrade\b/.test(job));
check("an earlier run's Job is deleted before the next (before-hook-creation)",
      /"helm\.sh\/hook-delete-policy":\s*[^\n]*before-hook-creation/.test(job));
check("the Job can be switched off (topics.create)", /\{\{-? if \.Values\.topics\.create \}\}/.test(job));
for (const m of job.matchAll(/\.Files\.Get "([^"]+)"/g))
  check(`.Files.Get "${m[1]}" exists in the chart`, existsSync(path.join(ROOT, CHART, m[1])));
const script = path.join(ROOT, CHART, "files/create-topics.sh");
const syntax = spawnSync("bash", ["-n", script], { encoding: "utf8" });
check("files/create-topics.sh passes bash -n", syntax.status === 0, syntax.stderr);
check("creation is idempotent (--if-not-exists)", readFileSync(script, "utf8").includes("--if-not-exists"));
const secretRef = (text, key) => new RegExp(
  `secretKeyRef: \\{ name: \\{\\{ \\$?\\.Values\\.kafka\\.sasl\\.existingSecret \\}\\}, ` +
  `key: \\{\\{ \\$?\\.Values\\.kafka\\.sasl\\.${key} \\}\\} \\}`).test(text);
for (const key of ["usernameKey", "passwordKey"])
  check(`SASL ${key} from the same Secret as the Deployments`,
        secretRef(job, key) && secretRef(deployment, key));
check("large retention values are rendered as integers (int64, not 2.592e+09)",
      /\{\{ int64 \$ms \}\}/.test(job));

const topics = topicTable();
const names = topics.map((t) => t.name).sort();
for (const [name, v] of [["values.yaml", values.topics],
                         ["examples/production-values.yaml over values.yaml",
                          { ...values.topics, ...(production.topics || {}) }]]) {
  check(`${name}: topics.retentionMs names exactly common/topics.c's topics`,
        JSON.stringify(Object.keys(v.retentionMs).sort()) === JSON.stringify(names),
        `${Object.keys(v.retentionMs).sort()} vs ${names}`);
  check(`${name}: topics.partitions is common/topics.c's count`,
        topics.every((t) => t.partitions === v.partitions),
        `${v.partitions} vs ${topics.map((t) => t.partitions)}`);
  check(`${name}: min.insync.replicas <= replication factor`,
        v.minInsyncReplicas <= v.replicationFactor);
}

// ---- the script against a stand-in CLI ------------------------------------
const FAKE = `#!/bin/bash
# A stand-in for kafka-topics.sh: the "cluster" is $FAKE_KAFKA/topics/<name>,
# holding "partitions replication configs...".
set -e
state=$FAKE_KAFKA; cmd=; topic=; parts=; rf=; configs=()
while [ $# -gt 0 ]; do
  case $1 in
    --bootstrap-server) echo "$2" > "$state/bootstrap"; shift 2 ;;
    --command-config) cp "$2" "$state/admin.properties"; shift 2 ;;
    --list|--describe|--create) cmd=$1; shift ;;
    --if-not-exists) shift ;;
    --topic) topic=$2; shift 2 ;;
    --partitions) parts=$2; shift 2 ;;
    --replication-factor) rf=$2; shift 2 ;;
    --config) configs+=("$2"); shift 2 ;;
    *) echo "kafka-topics: unknown option $1" >&2; exit 9 ;;
  esac
done
case $cmd in
  --list) ls "$state/topics" ;;
  --describe) read -r p r c < "$state/topics/$topic"
    printf 'Topic: %s\\tTopicId: AAAA\\tPartitionCount: %s\\tReplicationFactor: %s\\tConfigs: %s\\n' "$topic" "$p" "$r" "$c"
    printf '\\tTopic: %s\\tPartition: 0\\tLeader: 1\\tReplicas: 1\\tIsr: 1\\n' "$topic" ;;
  --create) echo "$parts $rf \${configs[*]}" > "$state/topics/$topic"; echo "$topic" >> "$state/created" ;;
esac
`;
const dir = mkdtempSync(path.join(os.tmpdir(), "sendpath-topics-"));
try {
  const cli = path.join(dir, "kafka-topics.sh");
  writeFileSync(cli, FAKE, { mode: 0o755 });
  const state = path.join(dir, "cluster");
  mkdirSync(path.join(state, "topics"), { recursive: true });
  // TOPICS as the template renders it from values.yaml.
  const TOPICS = Object.entries(values.topics.retentionMs).map(([t, ms]) => `${t}=${ms}`).join(" ");
  const env = {
    PATH: process.env.PATH, FAKE_KAFKA: state, KAFKA_TOPICS: cli, TMPDIR: dir,
    KAFKA_BOOTSTRAP: "kafka-0.council.example:9093", TOPICS,
    PARTITIONS: String(values.topics.partitions),
    REPLICATION_FACTOR: String(values.topics.replicationFactor),
    MIN_INSYNC_REPLICAS: String(values.topics.minInsyncReplicas),
    SECURITY_PROTOCOL: "SASL_SSL", SASL_MECHANISM: "SCRAM-SHA-512",
    SASL_USERNAME: "sendpath", SASL_PASSWORD: 'pa"ss\\word', CA_FILE: "/etc/ca.crt",
  };
  const run = (extra = {}) => spawnSync("bash", [script], { env: { ...env, ...extra }, encoding: "utf8" });
  const created = () => existsSync(path.join(state, "created"))
    ? readFileSync(path.join(state, "created"), "utf8").split("\n").filter(Boolean) : [];

  let r = run();
  check("first run exits 0", r.status === 0, r.stderr);
  check("first run creates every topic", JSON.stringify(created().sort()) === JSON.stringify(names),
        created().join(","));
  const commands = readFileSync(path.join(state, "topics/sendpath.commands"), "utf8").trim();
  check("created with the values' partitions, replication, min.insync.replicas and retention",
        commands === `${values.topics.partitions} ${values.topics.replicationFactor} ` +
          `min.insync.replicas=${values.topics.minInsyncReplicas} ` +
          `retention.ms=${values.topics.retentionMs["sendpath.commands"]}`, commands);
  const props = readFileSync(path.join(state, "admin.properties"), "utf8");
  check("admin client: SASL_SSL, SCRAM, credentials JAAS-quoted for a properties file",
        props.includes("security.protocol=SASL_SSL\n") &&
        props.includes("sasl.mechanism=SCRAM-SHA-512\n") &&
        props.includes('sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule ' +
                       'required username="sendpath" password="pa\\\\"ss\\\\\\\\word";') &&
        props.includes("ssl.truststore.type=PEM\nssl.truststore.location=/etc/ca.crt"), props);
  check("the credentials file is removed afterwards",
        readdirSync(dir).every((f) => !f.startsWith("sendpath-admin")));

  r = run();
  check("second run exits 0 and creates nothing", r.status === 0 && created().length === names.length,
        r.stderr + created().join(","));

  writeFileSync(path.join(state, "topics/sendpath.deadlines"), "4 3 x\n");
  r = run();
  check("a topic with another partition count fails the hook, naming it",
        r.status !== 0 && /sendpath\.deadlines has 4 partitions/.test(r.stderr), r.stderr);

  r = run({ SASL_MECHANISM: "GSSAPI" });
  check("an unhandled SASL mechanism fails, saying so", r.status === 2 && /GSSAPI/.test(r.stderr), r.stderr);
  r = run({ SASL_PASSWORD: "" });
  check("SASL without a password fails", r.status !== 0 && /SASL_PASSWORD/.test(r.stderr), r.stderr);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
finish();
