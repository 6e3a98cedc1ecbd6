#!/usr/bin/env bash
# Temporal's time-skipping test server (Java, from Maven Central) for TestWorkflowEnvironment.createTimeSkipping:
#   TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: <this file> } } })
# The SDK runs the executable with the port as its only argument (sdk-core ephemeral_server: `[port, ...extraArgs]`).
# Jars: .stack/test-server/lib, put there by `./stack/stack install` (stack/test-server/pom.xml).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="${RTE_TEST_SERVER_LIB:-$here/../../.stack/test-server/lib}"
if [[ ! -f "$lib/.complete" ]]; then
  echo "temporal test server not installed in $lib; run ./stack/stack install" >&2
  exit 1
fi
# exec: the SDK stops the server by killing this process.
exec java -Xss1m -XX:+UseSerialGC -Xmx512m -cp "$lib/*" io.temporal.testserver.TestServer "$@"
