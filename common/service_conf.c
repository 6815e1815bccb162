/* service_conf.c - the settings every service has (sp_common_conf_table):
 * log, HTTP, auth, Redis, Kafka, clock and input limits, with their
 * defaults and ranges. A service's own settings are in its main.c; what
 * each means for operators is docs/config.md, generated from these tables
 * (--config-help) and checked by the docs.config_reference test. */
#include <stddef.h>
#include "service.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const clock_modes[] = {"real", "manual", NULL};

#define C(f) offsetof(sp_common_conf, f)
const sp_conf_def sp_common_conf_table[] = {
    {"log.level", SP_CONF_ENUM, C(log_level), "info", 0, 0, log_levels,
     "Lowest level logged to stderr"},
    {"http.bind", SP_CONF_STRING, C(http_bind), "127.0.0.1", 0, 0, NULL,
     "Address the HTTP API listens on"},
    {"http.port", SP_CONF_INT, C(http_port), "0", 0, 65535, NULL,
     "HTTP port (each service has its own default)"},
    {"redis.host", SP_CONF_STRING, C(redis_host), "127.0.0.1", 0, 0, NULL,
     "Redis server host"},
    {"redis.port", SP_CONF_INT, C(redis_port), "6390", 1, 65535, NULL,
     "Redis server port"},
    {"redis.password", SP_CONF_STRING, C(redis_password), NULL, 0, 0, NULL,
     "Redis AUTH password (empty: none)"},
    {"redis.timeout_ms", SP_CONF_INT, C(redis_timeout_ms), "2000", 10, 600000, NULL,
     "A Redis command unanswered this long drops and re-opens the connection"},
    {"redis.shards", SP_CONF_STRING, C(redis_shards), NULL, 0, 0, NULL,
     "Partitions on other Redis servers, first-last@host:port,... covering every "
     "partition once (docs/scaling.md); a range may name a Sentinel master instead, "
     "first-last@sentinel:<name>; used by every service; empty: all on redis.host"},
    {"redis.sentinels", SP_CONF_STRING, C(redis_sentinels), NULL, 0, 0, NULL,
     "Redis Sentinels, host:port,...: asked where each Sentinel master named by "
     "redis.sentinel_master or redis.shards is, at start and after every lost "
     "connection (docs/scaling.md)"},
    {"redis.wait_replicas", SP_CONF_INT, C(redis_wait_replicas), "0", 0, 16, NULL,
     "Replicas that must hold a batch's Redis writes (WAIT) before its offsets are "
     "stored and its events published, and a new case's records before intake "
     "publishes it; 0: no wait, and a Redis failover can lose the last writes "
     "the old master acknowledged (docs/scaling.md)"},
    {"redis.sentinel_password", SP_CONF_STRING, C(redis_sentinel_password), NULL, 0, 0,
     NULL, "Password the sentinels require (requirepass in sentinel.conf), sent as "
     "AUTH before each query; keep it in the environment "
     "(SENDPATH_REDIS_SENTINEL_PASSWORD); empty: none"},
    {"redis.sentinel_master", SP_CONF_STRING, C(redis_sentinel_master), NULL, 0, 0, NULL,
     "The Sentinel master name that replaces redis.host and redis.port (needs "
     "redis.sentinels); empty: connect to redis.host"},
    {"broker.bootstrap_file", SP_CONF_STRING, C(bootstrap_file), NULL, 0, 0, NULL,
     "File holding the Kafka bootstrap list (written by sendpath-broker); "
     "used when kafka.bootstrap.servers is not set"},
    {"clock.mode", SP_CONF_ENUM, C(clock_mode), "real", 0, 0, clock_modes,
     "real, or manual: time stands still until set by POST /admin/clock"},
    {"clock.start", SP_CONF_STRING, C(clock_start), NULL, 0, 0, NULL,
     "Manual clock's first time (RFC 3339); default: real time at start"},
    {"consumer.batch_max", SP_CONF_INT, C(batch_max), "500", 1, 100000, NULL,
     "Most messages handed to the service in one batch"},
    {"consumer.batches_in_flight", SP_CONF_INT, C(batches_in_flight), "3", 1, 64, NULL,
     "Batches out at once: a batch whose changes are applied and whose events wait "
     "for the broker's acknowledgement lets the next batch be applied meanwhile "
     "(timers, evidence); offsets are still stored in order. 1: one at a time"},
    {"shutdown.timeout_ms", SP_CONF_INT, C(shutdown_timeout_ms), "10000", 0, 600000,
     NULL, "Longest wait for work in flight at shutdown"},
    {"var.dir", SP_CONF_STRING, C(var_dir), "var", 0, 0, NULL,
     "Directory for local state (outbox, logs)"},
    {"consumer.group", SP_CONF_STRING, C(group_id), NULL, 0, 0, NULL,
     "Kafka consumer group (default sendpath-<service>)"},
    {"auth.enabled", SP_CONF_BOOL, C(auth_enabled), "yes", 0, 0, NULL,
     "Every HTTP route but /healthz, /readyz and /metrics needs a bearer token "
     "(docs/security.md); no: anyone may call anything (local experiments only)"},
    {"auth.tokens_file", SP_CONF_STRING, C(auth_tokens_file), NULL, 0, 0, NULL,
     "Token file: lines '<sha256-hex> <name> <scope>[,<scope>]' (sendpath token new)"},
    {"http.tls_cert_file", SP_CONF_STRING, C(tls_cert_file), NULL, 0, 0, NULL,
     "PEM certificate (chain): with http.tls_key_file the API speaks only HTTPS"},
    {"http.tls_key_file", SP_CONF_STRING, C(tls_key_file), NULL, 0, 0, NULL,
     "PEM private key for http.tls_cert_file"},
    {"http.max_body", SP_CONF_INT, C(http_max_body), "1048576", 1024, 67108864, NULL,
     "Largest request body in bytes; a larger one gets 413"},
    {"http.rate_limit", SP_CONF_INT, C(http_rate_limit), "50", 0, 1000000, NULL,
     "Requests per second from one client address (a token bucket each); over it, "
     "429 with Retry-After. 0: no limit. /healthz, /readyz and /metrics are exempt"},
    {"http.rate_burst", SP_CONF_INT, C(http_rate_burst), "200", 1, 1000000, NULL,
     "Requests one client may send at once before http.rate_limit applies"},
    {"input.max_depth", SP_CONF_INT, C(input_max_depth), "32", 2, 1000, NULL,
     "Deepest nesting of JSON arrays and objects accepted in a body or a command "
     "message; deeper is refused (400, or the dead-letter topic)"},
    {"http.trusted_proxies", SP_CONF_STRING, C(http_trusted_proxies), NULL, 0, 0, NULL,
     "Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is "
     "believed: a request from one is counted and logged as the rightmost address "
     "in that header that is not a trusted proxy. Empty: the peer address"},
    {"consumer.max_bytes", SP_CONF_INT, C(consumer_max_bytes), "1048576", 1024, 67108864,
     NULL, "Largest message taken from an internal topic (every topic but commands, "
     "which has commands.max_bytes); a larger one goes to the dead-letter topic"},
    {"consumer.max_depth", SP_CONF_INT, C(consumer_max_depth), "64", 2, 1000, NULL,
     "Deepest JSON nesting taken from an internal topic; deeper goes to the "
     "dead-letter topic"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef C
