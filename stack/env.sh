# shellcheck shell=bash
# Default configuration of the local dev stack, in one place.
#
# Sourced by stack/stack (and usable by hand: `source stack/env.sh`).
# Every value can be overridden by exporting it before running the script,
# e.g. `REDIS_PORT=6380 ./stack/stack up --infra`. The app-facing URLs are
# derived from the ports unless you set them yourself.
#
# Keep in step with temporal-dev.yml (same names, same ports).

# --- where servers listen -----------------------------------------------------
export STACK_HOST="${STACK_HOST:-127.0.0.1}"

export TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"        # Temporal frontend (gRPC)
export TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"  # Temporal Web UI
export REDIS_PORT="${REDIS_PORT:-6379}"
export PG_PORT="${PG_PORT:-5432}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"                        # PLAINTEXT listener
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"  # KRaft controller
export STEDI_SIM_PORT="${STEDI_SIM_PORT:-8090}"
export API_PORT="${API_PORT:-8080}"
export WORKER_METRICS_PORT="${WORKER_METRICS_PORT:-9464}"
export WORKER_SDK_METRICS_PORT="${WORKER_SDK_METRICS_PORT:-9465}"  # Temporal SDK (Rust core) metrics
export TEMPORAL_METRICS_PORT="${TEMPORAL_METRICS_PORT:-7235}"      # Temporal dev server's own /metrics
export PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"                  # Prometheus UI + API (ops/prometheus/)
export CODEC_SERVER_PORT="${CODEC_SERVER_PORT:-8091}"  # Temporal codec server (decodes encrypted payloads)

# --- local demo time -------------------------------------------------------------
# The stack's worker runs with WARMING_LEAD_SCALE=$STACK_WARMING_LEAD_SCALE unless WARMING_LEAD_SCALE is set:
# warming lead times (2–4 h / 12–24 h before predicted use) shrink 3600× so the main job sees warms land.
# The predicted usage windows (the warms' horizons) shrink too, to seconds: member-cron warms then score 0 in
# GetWarmingStats' cache_hits_avoided / prediction_accuracy (docs/warming-stats.md). Set 1 to score them for real.
export STACK_WARMING_LEAD_SCALE="${STACK_WARMING_LEAD_SCALE:-0.000277}"

# --- server tuning --------------------------------------------------------------
export KAFKA_NUM_PARTITIONS="${KAFKA_NUM_PARTITIONS:-3}"  # default partitions of new topics
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
export PG_DB="${PG_DB:-rte}"
export PG_USER="${PG_USER:-rte}"
export PG_PASSWORD="${PG_PASSWORD:-rte}"

# --- what the apps read (workers/, api/, stedi-sim/, tests) ---------------------
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-${STACK_HOST}:${TEMPORAL_PORT}}"
export TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
export REDIS_URL="${REDIS_URL:-redis://${STACK_HOST}:${REDIS_PORT}}"
export DATABASE_URL="${DATABASE_URL:-postgres://${PG_USER}:${PG_PASSWORD}@${STACK_HOST}:${PG_PORT}/${PG_DB}}"
# Unset locally (docs/scaling.md): REDIS_CLUSTER_NODES=host:port,... makes every process use a Redis Cluster client
# (REDIS_URL then gives only credentials/TLS); DATABASE_READ_URL sends the directory's reads to a replica (default DATABASE_URL).
export KAFKA_BROKERS="${KAFKA_BROKERS:-${STACK_HOST}:${KAFKA_PORT}}"
export STEDI_BASE_URL="${STEDI_BASE_URL:-http://${STACK_HOST}:${STEDI_SIM_PORT}}"
# Local-only webhook signing secret for every client service ("*"), so callback_url works out of the box.
# Documented (README "Batches"): verify local deliveries with this value; production sets per-service secrets.
export WEBHOOK_SECRETS="${WEBHOOK_SECRETS:-*=whsec_cnRlLWxvY2FsLWRldi13ZWJob29rLXNlY3JldC0zMmI=}"

# --- Temporal payload encryption (docs/temporal.md) -----------------------------
# The local stack uses the documented dev key (lib/config.ts DEV_CODEC_KEYS; production refuses it).
# The codec server runs without auth on loopback so the Web UI's Data Encoder can call it.
export CODEC_SERVER_AUTH="${CODEC_SERVER_AUTH:-none}"
# The Temporal CLI reads TEMPORAL_CODEC_ENDPOINT (its --codec-endpoint): after `source stack/env.sh`, `temporal workflow
# query …` prints decoded JSON and `temporal schedule describe …` works (without it, it exits 1 on the encrypted
# summary; probe p16 #4). With CODEC_SERVER_AUTH=jwt also export TEMPORAL_CODEC_AUTH="Bearer <token>".
export TEMPORAL_CODEC_ENDPOINT="${TEMPORAL_CODEC_ENDPOINT:-http://${STACK_HOST}:${CODEC_SERVER_PORT}}"

# --- tools ----------------------------------------------------------------------
# The stack's Temporal CLI (.stack/bin, built by `./stack/stack install`) as bare `temporal`, as the docs write it.
# Appended, once: it shadows nothing (a `temporal` already on PATH keeps winning; stack/stack still checks its version).
_rte_stack_bin="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)/.stack/bin"
case ":${PATH}:" in
  *":${_rte_stack_bin}:"*) ;;
  *) export PATH="${PATH}:${_rte_stack_bin}" ;;
esac
unset _rte_stack_bin
