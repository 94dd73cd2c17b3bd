#!/usr/bin/env bash
# Installs what spool needs from Debian 12's packages, and only what is missing.
# Usage: scripts/install-deps.sh [build|test|runtime|bench|sanitize|fuzz|lint|all]
# runtime: only the shared libraries an installed `spool` runs on (deploy/Dockerfile's final stage).
# SPOOL_DEPS_LIST=1 prints the packages the mode wants, one a line, and installs nothing.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config python3 ccache
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  libfmt-dev catch2 libssl-dev libsqlite3-dev)
# make test, beyond the build: Chromium for the lecture portal's browser tests (tests/portal);
# libpq and a PostgreSQL server for examples/custom-adapter's test; wrk, gnuplot and ffmpeg (real
# HLS segments for the first-playable checks) for the bench suite's own test (Bench::Suite).
test_pkgs=(chromium libpq-dev postgresql wrk gnuplot-nox ffmpeg)
# What the installed tool links (tests/deploy checks this list against ldd), and CA certificates for
# https:// inputs, S3 and SQS.
runtime_pkgs=(libc6 libgcc-s1 libstdc++6
  libavformat59 libavcodec59 libavfilter8 libswscale6 libswresample4 libavutil57
  libboost-json1.81.0 libboost-url1.81.0 libboost-program-options1.81.0
  libfmt9 libssl3 libsqlite3-0 ca-certificates)
sanitize_pkgs=(clang libclang-rt-14-dev)
# the ladder's reference (ffmpeg), the portal's load generator (wrk), the suite's plots (gnuplot)
bench_pkgs=(ffmpeg wrk gnuplot-nox)
# make format-check and make tidy: Debian 12's clang-format and clang-tidy (LLVM 14, as clang above);
# clang-tidy brings run-clang-tidy.
lint_pkgs=(clang-format clang-tidy)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  runtime) want=("${runtime_pkgs[@]}") ;;
  sanitize) want+=("${sanitize_pkgs[@]}") ;;
  fuzz) want+=("${sanitize_pkgs[@]}") ;;  # libFuzzer ships in libclang-rt-14-dev
  bench) want+=("${bench_pkgs[@]}") ;;
  lint) want+=("${lint_pkgs[@]}") ;;
  all) want+=("${test_pkgs[@]}" "${sanitize_pkgs[@]}" "${bench_pkgs[@]}" "${lint_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|runtime|bench|sanitize|fuzz|lint|all]" >&2; exit 2 ;;
esac
if [ -n "${SPOOL_DEPS_LIST:-}" ]; then
  printf '%s\n' "${want[@]}"
  exit 0
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
