#!/usr/bin/env bash
# Installs the lecture portal's web packages, and only when missing or changed: hls.js and dashjs (the
# player libraries the portal serves under /vendor) and playwright-core (drives Chromium in the
# browser tests), exactly as examples/lecture-portal/web/package-lock.json pins them.
# Usage: scripts/install-web-tools.sh [DIR]   (default build/web-tools; node_modules lands in DIR)
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/examples/lecture-portal/web"
dir="${1:-build/web-tools}"
min_node_major=20  # dashjs 5 and playwright-core 1.65 need Node 20 or later

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
  echo "install-web-tools: node $(node --version) is too old; the portal's web packages need Node" \
    "$min_node_major or later" >&2
  exit 1
fi

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# `make test` run twice at once shares one directory: one installer at a time.
exec 9> "$dir/.install.lock"
flock 9

# `npm ci` again only when the pinned tree changed or node_modules is gone.
stamp="$dir/.npm-ci.stamp"
want="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ ! -d "$dir/node_modules" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-web-tools: npm ci in $dir" >&2
  rm -f "$stamp"
  cp "$src/package.json" "$src/package-lock.json" "$dir/"
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "install-web-tools: npm ci failed in $dir (is the npm registry reachable?)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# What the portal serves and the tests load; a package whose layout changed fails here, not in a browser.
for f in hls.js/dist/hls.min.js dashjs/dist/modern/umd/dash.all.min.js playwright-core/package.json; do
  if [ ! -f "$dir/node_modules/$f" ]; then
    echo "install-web-tools: $dir/node_modules/$f is missing after npm ci" >&2
    rm -f "$stamp"
    exit 1
  fi
done
