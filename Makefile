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
LDLIBS := -lcrypto -lm

SRC := $(filter-out src/main.c,$(wildcard src/*.c))
OBJ := $(SRC:src/%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libzk.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(BUILD)/unit_tests

.PHONY: all run test test-unit test-integration deps clean bench

all: bin/zkd

bin/zkd: $(BUILD)/zkd
	@mkdir -p bin
	cp $< $@

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
$(BUILD)/java/ZkdJavaTest.class: tests/integration/ZkdJavaTest.java
	@mkdir -p $(BUILD)/java
	javac -nowarn -cp /usr/share/java/zookeeper.jar -d $(BUILD)/java $<

# Load generator (tools/zkbench.c), linked with the same library as zkd.
$(BUILD)/zkbench: tools/zkbench.c $(LIB)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LIB) $(LDFLAGS_MODE) $(LDLIBS)

# Side-by-side benchmark against Apache ZooKeeper 3.8 (not part of `make test`).
bench: deps
	$(MAKE) MODE=release bin/zkd build/release/zkbench
	ZKBENCH=$(abspath build/release/zkbench) ZKD_BIN=$(abspath bin/zkd) ./tools/bench.sh

deps:
	./scripts/deps.sh

run: deps
	$(MAKE) all
	./bin/zkd

test: deps
	$(MAKE) MODE=asan test-unit test-integration

test-unit: $(UNIT_BIN)
	$(UNIT_BIN)

INTEG_DEPS := $(BUILD)/zkd $(if $(wildcard tests/integration/cclient_test.c),$(BUILD)/cclient_test) \
  $(if $(wildcard tests/integration/ZkdJavaTest.java),$(BUILD)/java/ZkdJavaTest.class)

test-integration: $(INTEG_DEPS)
	ZKD_BIN=$(abspath $(BUILD)/zkd) ZKD_BUILD=$(abspath $(BUILD)) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  /usr/bin/python3 -m pytest -q -x -p no:cacheprovider tests/integration

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
