#!/usr/bin/env bash
# Fails when proto/ does not lint cleanly or when gen/ differs from what `npm run proto:gen` would produce.
# Regenerates into a temporary directory (gen/ and the git index are never touched) using the same
# proto/buf.gen.yaml, then compares both trees, so stale, missing and extra files are all caught.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
buf="${repo_root}/node_modules/.bin/buf"
if [[ ! -x "${buf}" ]]; then
  echo "check-generated: ${buf} not found; run npm ci first" >&2
  exit 2
fi

cd "${repo_root}/proto"

echo "check-generated: buf lint"
if ! "${buf}" lint; then
  echo "check-generated: buf lint failed (see above)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

# buf.gen.yaml writes to `out: ../gen`; with --output <dir>/work the plugin output lands in <dir>/gen.
echo "check-generated: buf generate into ${tmp}/gen"
"${buf}" generate --output "${tmp}/work"

if [[ ! -d "${tmp}/gen" ]]; then
  echo "check-generated: expected generated output in ${tmp}/gen, found none" >&2
  exit 2
fi

if ! diff -ru "${tmp}/gen" "${repo_root}/gen" >"${tmp}/diff.txt"; then
  head -n 80 "${tmp}/diff.txt" >&2
  echo >&2
  echo "generated code is stale: run npm run proto:gen" >&2
  exit 1
fi

echo "check-generated: gen/ is up to date"
