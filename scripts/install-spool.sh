#!/usr/bin/env bash
# Configures, builds and installs spool (libraries, headers, the CMake package and the `spool` tool)
# into a prefix. deploy/Dockerfile builds its image with it; tests/deploy runs it on CI's build.
#
# Usage: scripts/install-spool.sh [--prefix DIR] [--build-dir DIR] [--reuse] [--strip] [--jobs N]
#                                 [-- CMAKE_ARGS...]
#   --prefix DIR     where to install (default /usr/local)
#   --build-dir DIR  the build directory (default build-install)
#   --reuse          DIR is an existing build (CI's, a developer's): configure nothing, build only the
#                    targets that are installed (a no-op when they are up to date), then install
#   --strip          strip the installed binaries (the image)
#   --jobs N         parallel build jobs (default: the number of CPUs)
# Prints the installed tool's version last. The dependencies come from scripts/install-deps.sh build.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=/usr/local
build_dir=build-install
reuse=0
strip=()
jobs="$(nproc)"
cmake_args=()

usage() {
  sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix="$2"; shift 2 ;;
    --build-dir) [ $# -ge 2 ] || usage; build_dir="$2"; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --strip) strip=(--strip); shift ;;
    --jobs) [ $# -ge 2 ] || usage; jobs="$2"; shift 2 ;;
    --) shift; cmake_args=("$@"); break ;;
    -h|--help) usage ;;
    *) echo "install-spool.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

if [ "$reuse" -eq 1 ]; then
  cache="$build_dir/CMakeCache.txt"
  if [ ! -f "$cache" ]; then
    echo "install-spool.sh: --reuse: $build_dir is not a configured build (no CMakeCache.txt)" >&2
    exit 1
  fi
  for option in SPOOL_INSTALL SPOOL_BUILD_CLI; do
    if ! grep -q "^$option:BOOL=ON$" "$cache"; then
      echo "install-spool.sh: --reuse: $build_dir was configured with $option off; it installs no spool tool" >&2
      exit 1
    fi
  done
  [ ${#cmake_args[@]} -eq 0 ] || echo "install-spool.sh: --reuse: CMake arguments ignored" >&2
  # What the install rules copy; the rest of that build (tests, benches) is not needed.
  cmake --build "$build_dir" -j "$jobs" --target spool-cli spool_core spool_media spool_worker spool_aws spool_test
else
  cmake -S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSPOOL_INSTALL=ON -DSPOOL_BUILD_CLI=ON \
    -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF -DSPOOL_BUILD_BENCH=OFF "${cmake_args[@]}"
  cmake --build "$build_dir" -j "$jobs"
fi

cmake --install "$build_dir" --prefix "$prefix" "${strip[@]}"
"$prefix/bin/spool" --version
