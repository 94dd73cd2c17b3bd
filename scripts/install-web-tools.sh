#!/usr/bin/env bash
# Installs the lecture portal's web packages, and only when missing or changed: hls.js and dashjs (the
# player libraries the portal serves under /vendor) and playwright-core (drives Chromium in the
# browser tests), exactly as examples/lecture-portal/web/package-lock.json pins them.
# Usage: scripts/install-web-tools.sh [DIR]   (default build/web-tools; node_modules lands in DIR)
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/examples/lecture-portal/web"
dir="${1:-build/web-tools}"
min_node_major=20  # dashjs 5 and playwright-core 1.65 need Node 20 or later

# shellcheck source=lib/npm-pinned.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/npm-pinned.sh"
npm_pinned install-web-tools "$src" "$dir" "$min_node_major"

# What the portal serves and the tests load; a package whose layout changed fails here, not in a browser.
for f in hls.js/dist/hls.min.js dashjs/dist/modern/umd/dash.all.min.js playwright-core/package.json; do
  if [ ! -f "$dir/node_modules/$f" ]; then
    echo "install-web-tools: $dir/node_modules/$f is missing after npm ci" >&2
    rm -f "$stamp"
    exit 1
  fi
done
