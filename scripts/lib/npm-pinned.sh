# Sourced by the install-*-tools.sh scripts: Node and npm, then `npm ci` of a committed package.json and
# package-lock.json into a folder, only when the pinned tree changed or node_modules is gone.
# npm_pinned NAME SRC DIR MIN_NODE_MAJOR: NAME prefixes messages; sets `dir` to DIR's absolute path and
# `stamp` to the file recording what was installed (remove it to force the next install).

npm_pinned() {
  local name="$1" src="$2" min_node_major="$4"
  dir="$3"
  # Debian's packages when there is no node at all.
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    echo "installing: nodejs npm" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$node_major" -lt "$min_node_major" ]; then
    echo "$name: node $(node --version) is too old; these packages need Node $min_node_major or later" >&2
    exit 1
  fi

  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  # `make test` and `make asan` share the directory: one installer at a time (held until the caller exits).
  exec 9> "$dir/.install.lock"
  flock 9

  stamp="$dir/.npm-ci.stamp"
  local want
  want="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -d "$dir/node_modules" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "$name: npm ci in $dir" >&2
    rm -f "$stamp"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
      echo "$name: npm ci failed in $dir (is the npm registry reachable?)" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}
