// docker-compose.yml against the code it deploys: the topics kafka-init
// makes are common/topics.c's, with its partition counts; every service runs
// its own binary with a health check on its own port; Redis keeps an AOF.
// (Its syntax is checked by `docker-compose config -q`, a separate ctest
// test; no Docker engine runs here, so nothing is started.)
import { packages, read, topicTable, ports, SERVICES, check, finish } from "./lib.mjs";

const { YAML } = packages();
const compose = YAML.parse(read("docker-compose.yml"), { merge: true });
const svcs = compose.services || {};

const init = [].concat(svcs["kafka-init"]?.command || []).join("\n");
const made = (init.match(/for t in ([^;]+);/s)?.[1] || "").split(/[\s\\]+/).filter(Boolean);
const table = topicTable();
check("kafka-init creates exactly the topics of common/topics.c",
      JSON.stringify([...made].sort()) === JSON.stringify(table.map((t) => t.name).sort()),
      `compose: ${made.join(" ")}; topics.c: ${table.map((t) => t.name).join(" ")}`);
const parts = [...init.matchAll(/--partitions (\d+)/g)].map((m) => Number(m[1]));
check("kafka-init uses topics.c's partition count",
      parts.length === 1 && table.every((t) => t.partitions === parts[0]),
      `compose: ${parts}; topics.c: ${table.map((t) => `${t.name}=${t.partitions}`)}`);
check("Kafka does not auto-create topics",
      String(svcs.kafka?.environment?.KAFKA_AUTO_CREATE_TOPICS_ENABLE) === "false");

const port = ports();
for (const s of SERVICES) {
  const def = svcs[s];
  if (!check(`service ${s} is defined`, !!def)) continue;
  check(`${s} runs sendpath-${s}`, JSON.stringify(def.command) === JSON.stringify([`sendpath-${s}`]));
  const hc = (def.healthcheck?.test || []).join(" ");
  check(`${s} health check asks /readyz on ${port[s]}`,
        hc.includes(`localhost:${port[s]}/readyz`), hc);
  check(`${s} waits for Redis and the topics`,
        def.depends_on?.redis?.condition === "service_healthy" &&
        def.depends_on?.["kafka-init"]?.condition === "service_completed_successfully");
  check(`${s} reaches Kafka and Redis by name`,
        def.environment?.SENDPATH_KAFKA_BOOTSTRAP_SERVERS === "kafka:9092" &&
        def.environment?.SENDPATH_REDIS_HOST === "redis");
}
check("notify sends to Mailpit over SMTP",
      svcs.notify?.environment?.SENDPATH_NOTIFY_CHANNEL === "smtp" &&
      /^smtp:\/\/mailpit:1025$/.test(svcs.notify?.environment?.SENDPATH_NOTIFY_SMTP_URL || ""));
check("Redis keeps an append-only file on a volume",
      (svcs.redis?.command || []).join(" ").includes("--appendonly yes") &&
      (svcs.redis?.volumes || []).some((v) => String(v).endsWith(":/data")));
finish();
