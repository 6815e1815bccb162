#!/bin/bash
# Creates sendpath's topics on the authority's Kafka, or checks the ones that
# exist. Run by the chart's pre-install/pre-upgrade hook Job
# (templates/topics-job.yaml) with a Kafka image's kafka-topics.sh; runnable
# by hand with the same variables. Idempotent: a topic that exists is left as
# it is (retention an operator changed stays changed), but a partition count
# other than PARTITIONS stops the install or upgrade, since sendpath's
# partitions are its shards and cannot change under existing clocks
# (docs/scaling.md, "Partition counts").
#
#   KAFKA_BOOTSTRAP       host:port,...
#   TOPICS                "name=retention_ms name=retention_ms ..."
#   PARTITIONS, REPLICATION_FACTOR, MIN_INSYNC_REPLICAS
#   SECURITY_PROTOCOL     PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
#   SASL_MECHANISM        PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: none)
#   SASL_USERNAME, SASL_PASSWORD   from the same Secret as the services'
#   CA_FILE               PEM bundle for the brokers' certificates (optional)
#   KAFKA_TOPICS          the CLI (default /opt/kafka/bin/kafka-topics.sh)
set -euo pipefail

: "${KAFKA_BOOTSTRAP:?}" "${TOPICS:?}" "${PARTITIONS:?}" "${REPLICATION_FACTOR:?}"
: "${MIN_INSYNC_REPLICAS:?}"
KAFKA_TOPICS=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}
props=$(mktemp "${TMPDIR:-/tmp}/sendpath-admin.XXXXXX")
trap 'rm -f "$props"' EXIT

# A JAAS quoted string inside a Java properties value: JAAS escapes \ and ",
# then the properties format escapes every \ again.
jaas_quote() {
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\\/\\\\/g'
}

write_properties() {
  local module
  echo "security.protocol=${SECURITY_PROTOCOL:-PLAINTEXT}"
  if [ -n "${SASL_MECHANISM:-}" ]; then
    case "$SASL_MECHANISM" in
      PLAIN) module=org.apache.kafka.common.security.plain.PlainLoginModule ;;
      SCRAM-SHA-256|SCRAM-SHA-512) module=org.apache.kafka.common.security.scram.ScramLoginModule ;;
      *) echo "create-topics: sasl.mechanism '$SASL_MECHANISM' is not handled here (PLAIN," \
              "SCRAM-SHA-256, SCRAM-SHA-512): create the topics by hand (docs/deploy.md)" >&2
         return 2 ;;
    esac
    : "${SASL_USERNAME:?SASL_MECHANISM is set: SASL_USERNAME is needed}"
    : "${SASL_PASSWORD:?SASL_MECHANISM is set: SASL_PASSWORD is needed}"
    echo "sasl.mechanism=$SASL_MECHANISM"
    echo "sasl.jaas.config=$module required username=\"$(jaas_quote "$SASL_USERNAME")\" password=\"$(jaas_quote "$SASL_PASSWORD")\";"
  fi
  if [ -n "${CA_FILE:-}" ]; then
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$CA_FILE"
  fi
}

topics_cli() {
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$props" "$@"
}

write_properties > "$props"
existing=$(topics_cli --list)
failed=0
for item in $TOPICS; do
  topic=${item%%=*}
  retention=${item#*=}
  if grep -qxF -- "$topic" <<<"$existing"; then
    count=$(topics_cli --describe --topic "$topic" |
            sed -n 's/.*PartitionCount:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
    if [ "$count" != "$PARTITIONS" ]; then
      echo "create-topics: $topic has ${count:-unknown} partitions, topics.partitions says" \
           "$PARTITIONS: every sendpath topic needs the same count, and it cannot change" \
           "under existing clocks (docs/scaling.md, \"Partition counts\")" >&2
      failed=1
    else
      echo "create-topics: $topic exists, $count partitions"
    fi
    continue
  fi
  # --if-not-exists: two hook runs racing (or a topic made meanwhile) is fine.
  topics_cli --create --if-not-exists --topic "$topic" --partitions "$PARTITIONS" \
    --replication-factor "$REPLICATION_FACTOR" \
    --config "min.insync.replicas=$MIN_INSYNC_REPLICAS" --config "retention.ms=$retention"
  echo "create-topics: $topic created, $PARTITIONS partitions"
done
exit "$failed"
