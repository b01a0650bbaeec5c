# zkd — one plain, non-recursive GNU Makefile.
#   make            build bin/zkd (release, -O2, warnings are errors)
#   make run        install deps, build, start a standalone zkd on 127.0.0.1:2181
#   make test       install deps, build with ASan+UBSan, run every test
MODE ?= release
BUILD := build/$(MODE)
CC ?= gcc

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wformat=2 -Wimplicit-fallthrough -Wundef -Wwrite-strings -Wno-format-nonliteral
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -fno-omit-frame-pointer $(WARN) -MMD -MP
ifeq ($(MODE),asan)
CFLAGS_MODE := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -DZK_DEBUG
LDFLAGS_MODE := -fsanitize=address,undefined
else
CFLAGS_MODE := -O2
LDFLAGS_MODE :=
endif
CFLAGS += $(CFLAGS_BASE) $(CFLAGS_MODE)
LDLIBS := -lz -lm

SRC := $(filter-out src/main.c,$(wildcard src/*.c))
OBJ := $(SRC:src/%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libzk.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(BUILD)/unit_tests

.PHONY: all run test test-unit test-integration test-integration-release deps clean bench

all: bin/zkd bin/zkctl bin/zkbench

bin/zkd: $(BUILD)/zkd
	@mkdir -p bin
	cp -f $< $@

bin/zkctl: $(BUILD)/zkctl
	@mkdir -p bin
	cp -f $< $@

bin/zkbench: $(BUILD)/zkbench
	@mkdir -p bin
	cp -f $< $@

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -Itests -c $< -o $@

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/zkd: $(BUILD)/obj/main.o $(LIB)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LDLIBS)

$(UNIT_BIN): $(UNIT_SRC:tests/%.c=$(BUILD)/obj/tests/%.o) $(BUILD)/obj/tests/test.o $(LIB)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LDLIBS)

# C-client integration program (links Debian's libzookeeper-mt).
$(BUILD)/cclient_test: tests/integration/cclient_test.c
	$(CC) -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror $(LDFLAGS_MODE:%=) \
	  -I/usr/include/zookeeper -o $@ $< -lzookeeper_mt -lpthread

# Java-client integration program (Debian's zookeeper.jar).
$(BUILD)/java/ZkdJavaTest.class: tests/integration/ZkdJavaTest.java tests/integration/TcpRelay.java
	@mkdir -p $(BUILD)/java
	javac -nowarn -cp /usr/share/java/zookeeper.jar -d $(BUILD)/java $^

# Load generator (tools/zkbench.c), linked with the same library as zkd.
$(BUILD)/zkbench: tools/zkbench.c $(LIB)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LIB) $(LDFLAGS_MODE) $(LDLIBS)

# Data-file tool (tools/zkctl.c): dump and verify txn logs, snapshots, dataDirs.
$(BUILD)/zkctl: tools/zkctl.c $(LIB)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LIB) $(LDFLAGS_MODE) $(LDLIBS)

# Side-by-side benchmark against Apache ZooKeeper 3.8 (not part of `make test`):
# docs/PERFORMANCE.md. BENCH_QUICK=1 for a ~3 minute smoke run, BENCH_ROWS=2,3 for some rows.
bench: deps
	$(MAKE) MODE=release bin/zkd bin/zkbench
	ZKBENCH=$(abspath bin/zkbench) ZKD_BIN=$(abspath bin/zkd) ./tools/bench.sh

deps:
	./scripts/deps.sh

run: deps
	$(MAKE) all
	./bin/zkd

# Unit tests run twice: in the release build (the allocator zkd ships: mem.c over
# the arena) and under ASan+UBSan (every block from malloc, so ASan sees each).
test: deps
	$(MAKE) MODE=release test-unit test-integration-release
	$(MAKE) MODE=asan test-unit test-fuzz-replay sim-test test-integration

test-unit: $(UNIT_BIN)
	$(UNIT_BIN)

INTEG_DEPS := $(BUILD)/zkd $(BUILD)/zkctl $(BUILD)/zkbench $(if $(wildcard tests/integration/cclient_test.c),$(BUILD)/cclient_test) \
  $(if $(wildcard tests/integration/ZkdJavaTest.java),$(BUILD)/java/ZkdJavaTest.class)

test-integration: $(INTEG_DEPS)
	ZKD_BIN=$(abspath $(BUILD)/zkd) ZKD_BUILD=$(abspath $(BUILD)) ZKCTL_BIN=$(abspath $(BUILD)/zkctl) ZKBENCH_BIN=$(abspath $(BUILD)/zkbench) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  /usr/bin/python3 -m pytest -q -x -p no:cacheprovider tests/integration

# The release zkd (arena allocator, huge-page re-collapse after snapshots) on the
# tests that load it most: snapshots, kill -9 recovery, the ZooKeeper round trip.
INTEG_RELEASE := tests/integration/test_snapshots.py tests/integration/test_crash.py \
  tests/integration/test_datadir_roundtrip.py tests/integration/test_kazoo_crud.py \
  tests/integration/test_kazoo_sessions.py

test-integration-release: $(INTEG_DEPS)
	ZKD_BIN=$(abspath $(BUILD)/zkd) ZKD_BUILD=$(abspath $(BUILD)) ZKCTL_BIN=$(abspath $(BUILD)/zkctl) ZKBENCH_BIN=$(abspath $(BUILD)/zkbench) \
	  /usr/bin/python3 -m pytest -q -x -p no:cacheprovider $(INTEG_RELEASE)

# ---- fuzzing (tests/fuzz/README.md) ----
FUZZ_TARGETS := jute txn config acl pipeline wal snap

# (a) corpus replay with the project compiler and flags (gcc + ASan/UBSan in MODE=asan)
$(BUILD)/fuzz/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/fuzz_replay.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LDLIBS)

test-fuzz-replay: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  UBSAN_OPTIONS=print_stacktrace=1:abort_on_error=1 $(BUILD)/fuzz/replay_$$t tests/fuzz/corpus/$$t || fail=1; \
	done; exit $$fail

.SECONDARY: $(FUZZ_TARGETS:%=$(BUILD)/obj/tests/fuzz/fuzz_%.o) $(BUILD)/obj/tests/fuzz/fuzz_replay.o

# (b) libFuzzer binaries (clang 14 + libclang-rt-14-dev), each run FUZZ_SECONDS
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build/fuzz
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -DZK_DEBUG -g -O1 -fno-omit-frame-pointer $(WARN) -MMD -MP \
  -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(SRC:src/%.c=$(FUZZ_DIR)/obj/%.o)

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/obj/tests/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Isrc -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz_%.o $(FUZZ_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz_%.o) $(FUZZ_OBJ)

fuzz: deps $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts/$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS)s"; \
	  $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t || fail=1; \
	done; exit $$fail

.PHONY: test-fuzz-replay fuzz

# ---- ZAB core and the deterministic cluster simulator (tests/sim/README.md) ----
include tests/sim/sim.mk

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
