# Entry points for people and CI. Meson is the build system; this file only wraps it.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps demo test bench fuzz fuzz-smoke clean

all: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=release
	ninja -C $(BUILD)

deps:
	@./scripts/install-deps.sh

# The README's first command: colo in standalone mode on this machine.
demo: all
	./scripts/demo.sh $(BUILD)/colo

# The README's second command: every test, under AddressSanitizer and UBSan.
test: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 || \
		{ ./scripts/test-failures.sh $(ASAN_BUILD); exit 1; }

bench: all
	./bench/run-all.sh $(BUILD)

fuzz: deps
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-fuzz

# Each libFuzzer target for its budget (tests/fuzz/budget.txt), from its committed corpus (CI
# runs this); FUZZ_SECONDS=N runs each for N seconds instead.
fuzz-smoke: fuzz
	./scripts/fuzz-smoke.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
