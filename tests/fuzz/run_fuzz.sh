#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (docs/fuzzing.md). Usage: run_fuzz.sh BUILD_DIR SECONDS [TARGET...]
# Seeds are made here, never committed (except the hand-written JSON in seeds/job_spec): synthetic
# media variants from spool-test-input, real-world files under 1 MB from the corpus cache when
# `make corpus` has filled it, and a valid queue database from spool-fuzz-seeds. New coverage is kept in
# BUILD_DIR/fuzz/corpus/TARGET between runs. Exits non-zero if any target found something, after
# printing each reproducer and the command that replays it.
set -uo pipefail

build=${1:?usage: run_fuzz.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run_fuzz.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "$build" && pwd)
bin=$build/bin
work=$build/fuzz
corpus_cache=${CORPUS_CACHE:-$repo/build/corpus-cache}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_open fuzz_decode fuzz_job_spec fuzz_file_queue fuzz_manifest)

# Per-input time limit (s) and memory limit (MB); the decode target runs whole transcodes.
declare -A timeout=([fuzz_open]=20 [fuzz_decode]=60 [fuzz_job_spec]=10 [fuzz_file_queue]=30 [fuzz_manifest]=10)
declare -A rss=([fuzz_open]=2048 [fuzz_decode]=3072 [fuzz_job_spec]=1024 [fuzz_file_queue]=1024 [fuzz_manifest]=1024)

# ---- seeds ----
media_seeds=$work/seeds/media
if [ ! -f "$media_seeds/.done" ]; then
  rm -rf "$media_seeds" && mkdir -p "$media_seeds"
  small=(--seconds 1 --width 64 --height 48 --fps 10)
  make_seed() {  # NAME ARGS...: a failure (an encoder this FFmpeg lacks) only loses that seed
    local name=$1
    shift
    # The generator is not what is being fuzzed: its encoders' own leaks at exit (x265) do not matter.
    ASAN_OPTIONS=detect_leaks=0 "$bin/spool-test-input" "$media_seeds/$name" "$@" 2>/dev/null ||
      { rm -f "$media_seeds/$name"; echo "fuzz: seed $name not made" >&2; }
  }
  make_seed plain.mp4 "${small[@]}"
  make_seed plain.mov "${small[@]}" --container mov
  make_seed plain.mkv "${small[@]}" --container mkv
  make_seed plain.ts "${small[@]}" --container ts
  make_seed plain.avi "${small[@]}" --container avi
  make_seed raw.h264 "${small[@]}" --container h264 --no-audio
  make_seed audio-only.mp4 --seconds 1 --no-video
  make_seed audio-only-mono.mkv --seconds 1 --no-video --container mkv --channels 1 --sample-rate 44100
  make_seed video-only.mp4 "${small[@]}" --no-audio
  make_seed rotated.mp4 "${small[@]}" --rotation 90
  make_seed interlaced.mkv --seconds 1 --width 64 --height 64 --fps 10 --interlaced --container mkv
  make_seed vfr-alternating.mkv "${small[@]}" --vfr alternating --container mkv
  make_seed vfr-dropped.mp4 "${small[@]}" --vfr dropped
  make_seed yuv422.mov "${small[@]}" --pix-fmt yuv422p --container mov
  make_seed 10bit.mkv "${small[@]}" --pix-fmt yuv420p10le --container mkv
  make_seed late-start.ts "${small[@]}" --start 1.5 --container ts
  make_seed long-gop.mp4 --seconds 2 --width 64 --height 48 --fps 10 --gop 2
  make_seed hevc.mp4 "${small[@]}" --codec libx265
  touch "$media_seeds/.done"
fi
# Real-world files: whatever the corpus run downloaded (media files under 1 MB and its derived broken
# ones), linked so they are read where they are. Made once; remove the directory to look again.
real_seeds=$work/seeds/real
mkdir -p "$real_seeds"
if [ -d "$corpus_cache/unpacked" ] && [ -z "$(ls -A "$real_seeds")" ]; then
  find "$corpus_cache/unpacked" "$corpus_cache/derived" -type f -size -1024k -regextype posix-extended \
    -iregex '.*\.(mp4|m4v|mov|mkv|webm|avi|ogv|flv|mpg|mpeg|ts|wmv|asf|3gp|dv|gif|rm|rmvb|mp3|wav|flac|m4a|opus|ogg|oga|aac|ac3|amr|mka|wma|bin|avif)$' \
    2>/dev/null | while read -r f; do
    ln -sf "$f" "$real_seeds/$(echo "$f" | md5sum | cut -c1-12)-$(basename "$f")"
  done
fi
echo "fuzz: $(ls "$media_seeds" | wc -l) synthetic and $(ls "$real_seeds" | wc -l) real-world media seeds"

queue_seeds=$work/seeds/queue
mkdir -p "$queue_seeds"
"$bin/spool-fuzz-seeds" "$queue_seeds/queue.db" || { echo "fuzz: cannot make the queue seed" >&2; exit 1; }

declare -A seeds=([fuzz_open]="$media_seeds $real_seeds" [fuzz_decode]="$media_seeds $real_seeds"
                  [fuzz_job_spec]="$here/seeds/job_spec" [fuzz_file_queue]="$queue_seeds" [fuzz_manifest]="")
declare -A extra=([fuzz_job_spec]="-dict=$here/job_spec.dict")

# ---- runs ----
failed=()
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  findings=$work/findings/$t
  log=$work/logs/$t.log
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  started=$(date +%s)
  # shellcheck disable=SC2086 # the seed directories and extra flags are word lists
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin/$t" -max_total_time="$seconds" -timeout="${timeout[$t]}" -rss_limit_mb="${rss[$t]}" -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$findings/" ${extra[$t]:-} "$corpus" ${seeds[$t]} >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  echo "fuzz: $t: exit $rc, ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}, $(($(date +%s) - started)) s"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED; the last lines of $log:"
    grep -E 'FUZZ FINDING|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/    /'
    tail -n 25 "$log" | sed 's/^/    /'
    for a in $(grep -o "Test unit written to [^ ]*" "$log" | awk '{print $5}' | sort -u); do
      echo "fuzz: reproducer: $a"
      echo "fuzz:   replay: $bin/$t $a"
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (reproducers under $work/findings/)"
fi
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
