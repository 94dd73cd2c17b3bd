#!/usr/bin/env bash
# Installs what spool needs from Debian 12's packages, and only what is missing.
# Usage: scripts/install-deps.sh [build|bench|sanitize|fuzz|lint|all]
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config python3
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  libfmt-dev catch2 libssl-dev libsqlite3-dev
  libpq-dev postgresql)  # examples/custom-adapter: libpq, and a server its test starts
sanitize_pkgs=(clang libclang-rt-14-dev)
bench_pkgs=(ffmpeg)
# make format-check and make tidy: Debian 12's clang-format and clang-tidy (LLVM 14, as clang above);
# clang-tidy brings run-clang-tidy.
lint_pkgs=(clang-format clang-tidy)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  sanitize) want+=("${sanitize_pkgs[@]}") ;;
  fuzz) want+=("${sanitize_pkgs[@]}") ;;  # libFuzzer ships in libclang-rt-14-dev
  bench) want+=("${bench_pkgs[@]}") ;;
  lint) want+=("${lint_pkgs[@]}") ;;
  all) want+=("${sanitize_pkgs[@]}" "${bench_pkgs[@]}" "${lint_pkgs[@]}") ;;
  *) echo "usage: $0 [build|bench|sanitize|fuzz|lint|all]" >&2; exit 2 ;;
esac

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
