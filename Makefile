# gen3db — plain Makefile.
#   make            build build/gen3db
#   make check      install what is missing, build, run every test (also under
#                   AddressSanitizer + UndefinedBehaviorSanitizer)
#   make demo       throwaway PostgreSQL + test search server, restore a bundled
#                   gen3-like snapshot, print a summary (make demo-stop ends it)
#   make bench      side-by-side benchmarks (not part of check)
#   make fuzz       every fuzz target for FUZZ_SECONDS (default 300) each
#   make reliability  the fault suite, then docs/RELIABILITY.md from its results
#   make install PREFIX=/usr/local

PKGS      := libpq libcurl libzstd libarchive json-c libcrypto zlib
CC        ?= cc
BUILD     ?= build
PREFIX    ?= /usr/local
PYTHON    ?= python3
INSTALL_DEPS ?= scripts/install-deps

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(PKG_CFLAGS) -pthread
LDLIBS_ALL = $(PKG_LIBS) -pthread $(EXTRA_LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/common/*/*.c))
CMD_SRC  := $(sort $(filter-out src/common/%,$(wildcard src/*/*.c)))
MAIN_SRC := src/main.c
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o) $(MAIN_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libgen3db.a
BIN      := $(BUILD)/gen3db

.PHONY: all check deps unit integration asan lint demo demo-stop bench install clean \
        fuzz fuzz-check fuzz-build reliability

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(LIB) $(LDLIBS_ALL) $(shell pkg-config --libs cmocka)

# test_options checks every command's option table: it links the commands too
$(BUILD)/tests/test_options: tests/unit/test_options.c $(CMD_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(CMD_SRC:%.c=$(BUILD)/%.o) $(LIB) $(LDLIBS_ALL) \
		$(shell pkg-config --libs cmocka)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(LIB) $(LDLIBS_ALL)

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d)

# ---- tests -----------------------------------------------------------------
deps:
	@$(INSTALL_DEPS)

lint:
	@scripts/check-banned

unit: $(BIN) $(TEST_BIN)
	@scripts/run-unit $(TEST_BIN)

integration: $(BIN)
	$(PYTHON) tests/run-integration --bin $(abspath $(BIN))

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="-fsanitize=address,undefined" all unit

# Targets that need deps build in a new make: this one read PKG_CFLAGS and
# PKG_LIBS from pkg-config when it started, before deps installed the -dev
# packages (tests/integration/test_makefile.py keeps it so).
check: deps
	$(MAKE) lint
	$(MAKE) all unit
	$(MAKE) asan
	$(MAKE) fuzz-check
	$(PYTHON) tests/run-integration --bin $(abspath $(BUILD))/gen3db --bin-asan $(abspath build-asan)/gen3db

# ---- fuzzing (clang's libFuzzer; tests/fuzz/README.md) ------------------------
# The library is built again with clang and the sanitizers into build-fuzz/,
# with the same PKGS as every other build.
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                -Wno-unknown-warning-option \
                -fno-sanitize-recover=all
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 10
FUZZ_CHECK_RUNS ?= 40000

fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) CFLAGS="$(FUZZ_FLAGS)" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" $(FUZZ_TARGETS:%=build-fuzz/fuzz/%)

fuzz-check: fuzz-build
	@FUZZ_SEED=1 FUZZ_RUNS=$(FUZZ_CHECK_RUNS) tests/fuzz/run $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

fuzz: fuzz-build
	@tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---- demo and benchmarks -------------------------------------------------------
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo start

demo-stop:
	@scripts/demo stop

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run

# GEN3DB_FAULTS_PENDING_OK=1 reports cases waiting for a guard as pending
reliability: all
	rm -f $(BUILD)/reliability/faults.json
	cd tests/integration && GEN3DB_BIN=$(abspath $(BIN)) \
	  GEN3DB_FAULTS_JSON=$(abspath $(BUILD))/reliability/faults.json \
	  $(PYTHON) -m unittest test_faults
	scripts/reliability-report $(BUILD)/reliability/faults.json docs/RELIABILITY.md

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/gen3db
	if [ -f docs/gen3db.1 ]; then install -m 0644 docs/gen3db.1 $(DESTDIR)$(PREFIX)/share/man/man1/gen3db.1; fi

clean:
	rm -rf build build-asan build-fuzz
