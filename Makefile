# The two commands of the README: `make demo` and `make test`. Everything installs what is missing.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
# ccache (installed with the build dependencies) keeps compiled objects between builds and between the
# sanitizer, fuzz and consumer builds of the same sources; SPOOL_CCACHE=0 builds without it. Expanded
# when a recipe runs, so a machine whose `deps` just installed it uses it at once.
SPOOL_CCACHE ?= 1
# Paths relative to the checkout, so clones in other folders share the cache (debug info keeps the
# path of the build that filled it).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
LAUNCHER = $(if $(filter 1,$(SPOOL_CCACHE)),$(if $(shell command -v ccache),-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache))
BENCH_ARGS ?=
BENCH_QUEUE_ARGS ?=
BENCH_AWS_ARGS ?=
BENCH_PORTAL_ARGS ?=
BENCH_PLAYABLE_ARGS ?=
BENCH_SUITE_ARGS ?=
DEMO_OUT   ?= demo-out
DEMO_LISTEN ?= 127.0.0.1:8080
TSAN_ENV    = TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp"

# clang-format and clang-tidy: Debian 12's (LLVM 14), installed by scripts/install-deps.sh lint.
CLANG_FORMAT ?= clang-format
RUN_CLANG_TIDY ?= run-clang-tidy
FORMAT_DIRS = include lib cli tests examples bench

.PHONY: all deps aws-tools web-tools build test demo asan tsan fuzz corpus bench bench-quick bench-ladder bench-queue \
  bench-aws format format-check tidy clean

all: build

deps:
	@scripts/install-deps.sh build

# The aws tests' local emulators (npm, pinned by tests/aws/tools/package-lock.json) and AWS's SigV4 suite.
aws-tools:
	@scripts/install-aws-tools.sh $(BUILD)/aws-tools

# The lecture portal's player libraries and the browser tests' driver (npm, pinned by
# examples/lecture-portal/web/package-lock.json).
web-tools:
	@scripts/install-web-tools.sh $(BUILD)/web-tools

build: deps
	cmake -S . -B $(BUILD) -DSPOOL_WERROR=ON $(LAUNCHER) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build aws-tools web-tools
	@scripts/install-deps.sh test
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 900

# Every C++ file laid out as .clang-format says: `format` rewrites them, `format-check` fails on the
# first file that differs.
format:
	@scripts/install-deps.sh lint
	find $(FORMAT_DIRS) -name '*.cpp' -o -name '*.hpp' | sort | xargs $(CLANG_FORMAT) -i

format-check:
	@scripts/install-deps.sh lint
	find $(FORMAT_DIRS) -name '*.cpp' -o -name '*.hpp' | sort | xargs $(CLANG_FORMAT) --dry-run --Werror

# clang-tidy (.clang-tidy: bugprone, concurrency, performance; every finding an error) over the
# library's sources, on the compile database of the default build (configured, not built). Not
# lib/test: it uses std::source_location, which clang 14 cannot compile against GCC 12's library.
# FFmpeg's AV_TIME_BASE_Q and friends are C compound literals, which clang names an extension.
tidy: deps
	@scripts/install-deps.sh lint
	cmake -S . -B $(BUILD) -DSPOOL_WERROR=ON $(LAUNCHER) $(CMAKE_ARGS) > /dev/null
	$(RUN_CLANG_TIDY) -p $(BUILD) -j $(JOBS) -quiet -extra-arg=-Wno-c99-extensions \
	  '$(CURDIR)/lib/(core|storage|queue|media|worker|aws)/.*\.cpp$$'

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps aws-tools
	cmake -S . -B $(ASAN_BUILD) -DSPOOL_SANITIZE=address,undefined -DSPOOL_BUILD_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPOOL_AWS_TOOLS_DIR=$(CURDIR)/$(BUILD)/aws-tools $(LAUNCHER) $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 1800 -LE consumer

# The threaded parts (queues, job_queue, the worker, storage's https reader) under ThreadSanitizer;
# the queue tests carry the `unit` label as well as `queue`. FFmpeg itself is not
# instrumented; tsan.supp says which of its internals are excused.
tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DSPOOL_SANITIZE=thread -DSPOOL_BUILD_BENCH=OFF -DSPOOL_BUILD_EXAMPLES=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER) $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target spool-unit-tests spool-queue-tests spool-worker-tests spool-media-tests \
	  spool-storage-tests
	$(TSAN_ENV) ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(JOBS) --timeout 1800 -L 'unit|worker|storage'
	# and the media pipeline's own threads: async completion, cancellation, progress, the remux copy
	$(TSAN_ENV) $(TSAN_BUILD)/bin/spool-media-tests '[async],[cancel],[progress],[remux]'

# libFuzzer targets (tests/fuzz, docs/fuzzing.md) with clang, ASan and UBSan, FUZZ_SECONDS each; fails on
# any finding and prints its reproducer. Seeds include the corpus cache when `make corpus` has run.
fuzz:
	@scripts/install-deps.sh fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DSPOOL_FUZZ=ON -DSPOOL_BUILD_BENCH=OFF \
	  -DSPOOL_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER) $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target spool-fuzz
	tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Real-world media from Debian's own packages through the whole ladder.
corpus: build
	python3 tests/corpus/run_corpus.py --spool $(BUILD)/bin/spool

# The bench suite (bench/README.md): every workload into one folder, bench-results/<UTC stamp>/, with
# JSON, summary.md and plots. BENCH_ARGS goes to the ladder, BENCH_QUEUE_ARGS to the queue bench,
# BENCH_PORTAL_ARGS to the portal's latency, BENCH_PLAYABLE_ARGS to the first-playable workload,
# BENCH_AWS_ARGS to the S3/SQS bench (run when $(BUILD)/aws-tools exists); BENCH_SUITE_ARGS to
# bench/run_bench.py itself (e.g. --only portal).
BENCH_SUITE = python3 bench/run_bench.py --build $(BUILD) --ladder-args "$(BENCH_ARGS)" \
  --queue-args "$(BENCH_QUEUE_ARGS)" --portal-args "$(BENCH_PORTAL_ARGS)" \
  --playable-args "$(BENCH_PLAYABLE_ARGS)" --aws-args "$(BENCH_AWS_ARGS)" $(BENCH_SUITE_ARGS)

bench: build
	@scripts/install-deps.sh bench
	$(BENCH_SUITE)

# The same report on short inputs, in a few minutes.
bench-quick: build
	@scripts/install-deps.sh bench
	$(BENCH_SUITE) --quick

# The ladder alone, e.g. BENCH_ARGS="--baseline-spool OTHER/bin/spool --runs 4" (bench/README.md).
bench-ladder: build
	@scripts/install-deps.sh bench
	$(BUILD)/bin/spool-bench-ladder --spool $(BUILD)/bin/spool $(BENCH_ARGS)

# The queue backends' throughput and latency, next to the disk's durable-commit rate (about a minute).
bench-queue: build
	$(BUILD)/bin/spool-bench-queue $(BENCH_QUEUE_ARGS)

# SQS and S3 against fauxqs on 127.0.0.1: batching, S3 publish against `aws s3 cp`, peak memory.
bench-aws: build aws-tools
	$(BUILD)/bin/spool-bench-aws --spool $(BUILD)/bin/spool --make-sample $(BUILD)/bin/spool-make-sample \
	  --tools $(BUILD)/aws-tools --out $(BUILD)/bench-aws-out --json $(BUILD)/bench-aws-out/aws.json $(BENCH_AWS_ARGS)

# The lecture portal with the worker embedded, a generated 30 s lecture uploaded through its own API.
# It prints the page's URL and serves until Ctrl-C; without a terminal on stdin it exits once the
# sample is playable. DEMO_LISTEN=127.0.0.1:0 picks any free port.
demo: build web-tools
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(BUILD)/bin/spool-make-sample $(DEMO_OUT)/lecture.mp4 --duration 30
	$(BUILD)/bin/lecture-portal --listen $(DEMO_LISTEN) --data $(DEMO_OUT)/portal --demo $(DEMO_OUT)/lecture.mp4

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(DEMO_OUT)
