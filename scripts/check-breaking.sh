#!/usr/bin/env bash
# Fails when proto/ breaks the published rte.v1 contract: `buf breaking` (FILE rules, proto/buf.yaml) against
# proto/contract-baseline.json, a buf image of the contract clients build on. The baseline is committed (not a git
# ref) so the check also runs in a shallow clone. A deliberate contract change updates it with
# `npm run proto:baseline` in the same commit, and docs/proto-notes.md ("Breaking-change check") says why.
#   check-breaking.sh [proto dir]   (default: the repo's proto/; the unit test points it at a changed copy)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
buf="${repo_root}/node_modules/.bin/buf"
baseline="${repo_root}/proto/contract-baseline.json"
dir="${1:-${repo_root}/proto}"
if [[ ! -x "${buf}" ]]; then
  echo "check-breaking: ${buf} not found; run npm ci first" >&2
  exit 2
fi
if [[ ! -f "${baseline}" ]]; then
  echo "check-breaking: ${baseline} missing; run npm run proto:baseline" >&2
  exit 2
fi

echo "check-breaking: buf breaking against $(basename "${baseline}")"
cd "${dir}"
rc=0
"${buf}" breaking --against "${baseline}" || rc=$?
if [[ ${rc} -ne 0 ]]; then echo >&2; fi
if [[ ${rc} -eq 100 ]]; then  # buf's exit code for findings (file annotations); anything else is buf failing to run
  echo "check-breaking: the change above breaks the rte.v1 contract for existing clients." >&2
  echo "Make it additive (new field numbers, new enum values, reserved for removals), or, if it is deliberate," >&2
  echo "run npm run proto:baseline and record why in docs/proto-notes.md." >&2
  exit 1
elif [[ ${rc} -ne 0 ]]; then
  echo "check-breaking: buf breaking could not run (exit ${rc}, see above)" >&2
  exit 2
fi
echo "check-breaking: no breaking change against the baseline"
