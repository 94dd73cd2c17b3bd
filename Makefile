# The two commands of the README: `make demo` and `make test`. Everything installs what is missing.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
DEMO_OUT   ?= demo-out

.PHONY: all deps build test demo asan corpus bench clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	cmake -S . -B $(BUILD) -DSPOOL_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 900

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DSPOOL_SANITIZE=address,undefined -DSPOOL_BUILD_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 1800 -LE consumer

# Real-world media from Debian's own packages through the whole ladder.
corpus: build
	python3 tests/corpus/run_corpus.py --spool $(BUILD)/bin/spool

bench: build
	@scripts/install-deps.sh bench
	$(BUILD)/bin/spool-bench-ladder --spool $(BUILD)/bin/spool

demo: build
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(BUILD)/bin/spool-make-sample $(DEMO_OUT)/lecture.mp4 --duration 30
	$(BUILD)/bin/spool transcode $(DEMO_OUT)/lecture.mp4 $(DEMO_OUT)/package > $(DEMO_OUT)/result.json
	@echo
	@echo "spool demo: the HLS+DASH ladder is in $(CURDIR)/$(DEMO_OUT)/package"
	@echo "  HLS:  $(CURDIR)/$(DEMO_OUT)/package/master.m3u8"
	@echo "  DASH: $(CURDIR)/$(DEMO_OUT)/package/manifest.mpd"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEMO_OUT)
