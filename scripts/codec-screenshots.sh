#!/usr/bin/env bash
# Web UI screenshots of a batch's input with and without the codec server (issue 13, docs/temporal.md):
#   docs/img/temporal-ui-codec-decoded.png    a Web UI started with --ui-codec-endpoint -> our codec server: plaintext
#   docs/img/temporal-ui-codec-ciphertext.png the stack's Web UI (no Data Encoder set): binary/encrypted payloads
# Needs the stack's infra up (Temporal on TEMPORAL_ADDRESS, UI on TEMPORAL_UI_PORT) and Debian's chromium.
# Starts its own codec server and a second, in-memory Temporal dev server on free ports; stops both on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source stack/env.sh
TEMPORAL="${TEMPORAL_CLI:-$ROOT/.stack/bin/temporal}"
[[ -x "$TEMPORAL" ]] || TEMPORAL="$(command -v temporal)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
OUT="${OUT:-$ROOT/docs/img}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CODEC_PORT="$(free_port)"; TPORT="$(free_port)"; UIPORT="$(free_port)"
TMP="$(mktemp -d)"
pids=()  # process groups (setsid) to stop on exit
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; sleep 1; rm -rf "$TMP" 2>/dev/null || true; }
trap cleanup EXIT

# Codec server: no auth (loopback, local profile), CORS for the second UI.
CODEC_SERVER_PORT="$CODEC_PORT" CODEC_SERVER_AUTH=none CODEC_SERVER_CORS_ORIGINS="http://127.0.0.1:$UIPORT" \
  setsid npx tsx api/codec-main.ts >"$TMP/codec.log" 2>&1 &
pids+=($!)
setsid "$TEMPORAL" server start-dev --ip 127.0.0.1 --port "$TPORT" --ui-port "$UIPORT" --headless=false \
  --ui-codec-endpoint "http://127.0.0.1:$CODEC_PORT" --log-level error >"$TMP/temporal.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null "http://127.0.0.1:$UIPORT/" 2>/dev/null && curl -fsS -o /dev/null -X POST -H 'content-type: application/json' \
    -d '{"payloads":[]}' "http://127.0.0.1:$CODEC_PORT/decode" 2>/dev/null && break
  sleep 1
done

ID="batch/docs-demo/codec-$(date +%s)"
# The same batch input on both servers: the stack's (UI without codec) and ours (UI with codec).
read -r _ RUN_PLAIN < <(TEMPORAL_ADDRESS="127.0.0.1:$TPORT" npx tsx scripts/codec-screenshot-start.ts "$ID" docs-demo-no-worker)
read -r _ RUN_CIPHER < <(npx tsx scripts/codec-screenshot-start.ts "$ID" docs-demo-no-worker)
enc="$(node -e 'console.log(encodeURIComponent(process.argv[1]))' "$ID")"

shot() { # url file
  node scripts/ui-screenshot.mjs "$1" "$2" 10000
  echo "wrote $(realpath --relative-to="$ROOT" "$2")"
}
shot "http://127.0.0.1:$UIPORT/namespaces/default/workflows/$enc/$RUN_PLAIN/history" "$OUT/temporal-ui-codec-decoded.png"
shot "http://127.0.0.1:$TEMPORAL_UI_PORT/namespaces/default/workflows/$enc/$RUN_CIPHER/history" "$OUT/temporal-ui-codec-ciphertext.png"
# The stack's copy has no worker: terminate it so it does not linger as a RUNNING batch.
"$TEMPORAL" workflow terminate --address "$TEMPORAL_ADDRESS" -w "$ID" --reason "codec screenshot done" >/dev/null 2>&1 || true
