#!/usr/bin/env bash
# A service that routes its Redis keys by partition (redis_by_partition = 1
# in its sp_service_def) must name a partition on every Redis call
# (sp_service_redis(s, partition)). A call on s->redis instead would put its
# keys on redis.host, silently, whenever redis.shards is set: fail if any is
# left in such a service's sources. A key meant for redis.host on purpose
# (one per deployment, not per case) says so on the same line with the
# comment "redis.host:", which this check lets through and a reviewer reads.
# Also fails if no service routes by partition, so a broken pattern cannot
# pass by finding nothing.
set -u
src=${1:?usage: check_redis_routing.sh SOURCE_DIR}
status=0 routed=0
for main in "$src"/services/*/main.c; do
    dir=$(dirname "$main")
    grep -Eq '\.redis_by_partition[[:space:]]*=[[:space:]]*1' "$main" || continue
    routed=$((routed + 1))
    # ->redis as a whole word (s->redis, b->s->redis), not ->redis_host.
    hits=$(grep -nE -- '->redis([^_[:alnum:]]|$)' "$dir"/*.c "$dir"/*.h 2>/dev/null |
           grep -v 'redis\.host:')
    if [ -n "$hits" ]; then
        echo "$(basename "$dir") routes by partition but calls s->redis:" >&2
        echo "$hits" >&2
        status=1
    fi
done
if [ "$routed" -eq 0 ]; then
    echo "no service has redis_by_partition = 1 (or the pattern is broken)" >&2
    exit 1
fi
[ "$status" -eq 0 ] && echo "$routed service(s) route by partition, none calls s->redis"
exit "$status"
