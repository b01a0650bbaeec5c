# tests/sim/sim.mk — the ZAB core (src/quorum/) and the deterministic cluster
# simulator (tests/sim/). Meant to be included by the top-level Makefile, after
# it has defined CC, CFLAGS, LDFLAGS_MODE, LDLIBS, BUILD and LIB and its
# pattern rules $(BUILD)/obj/%.o: src/%.c and $(BUILD)/obj/tests/%.o: tests/%.c:
#
#     include tests/sim/sim.mk
#
# The top-level SRC is $(wildcard src/*.c), which does not reach src/quorum/,
# so the quorum objects are listed here and linked next to $(LIB).
#
#   make MODE=asan sim-test    scripts with golden output, each script's
#                              mutants (must fail), the crash-at-effect sweep,
#                              and SIM_SEEDS random seeds on two cores (every
#                              25th seed run twice: same trace hash)
#   make MODE=asan sim-soak    random seeds until stopped
#   make MODE=asan sim-rewrite regenerate the golden .out files (review the diff)

QUORUM_SRC := $(wildcard src/quorum/*.c)
QUORUM_OBJ := $(QUORUM_SRC:src/%.c=$(BUILD)/obj/%.o)
SIM_SRC := $(wildcard tests/sim/*.c)
SIM_OBJ := $(SIM_SRC:tests/%.c=$(BUILD)/obj/tests/%.o)
SIM_BIN := $(BUILD)/sim
SIM_SCRIPTS := $(wildcard tests/sim/testdata/*.txt)
SIM_SEEDS ?= 500
SIM_FIRST_SEED ?= 1

# Flags that re-introduce a known bug; each script names the ones it must
# catch with a line "# mutant: NAME". Core mutants live in src/quorum/zab.c
# (list at its top); driver mutants live where the bug would be in a server's
# driver code: the simulator's log writer and snapshots (tests/sim/sim_node.c)
# or its SNAP image (tests/sim/sim_world.c).
SIM_CORE_MUTATIONS := ACK_BEFORE_FSYNC NEWLEADER_ACK_EARLY EPOCH_BEFORE_FSYNC ACKEPOCH_EARLY \
  ADVERTISE_MEMORY OBSERVER_QUORUM LOCAL_SYNC STALE_VOTE SYNC_GAP \
  EPOCH_AHEAD_LOOP PROPOSE_AFTER_NLACK DUP_FORWARD UPTODATE_STALE_COMMIT BOUNCE_NO_FSYNC \
  RESYNC_SKIPS_LOGGED DIFF_BELOW_WINDOW WINDOW_EDGE RECOVERY_CURRENT_EPOCH TRUNC_AS_DIFF
#   SNAP_LATE         the SNAP image is serialized when it reaches the learner, not
#                     when its zxid and the stream after it were fixed (ZK-3104)
#   ROLE_DROPS_QUEUE  leaving a role drops queued log writes/fsyncs, yet reports
#                     them done (ZK-4712)
#   EIO_IGNORED       an EIO on a log write or fsync is ignored and the op reported
#                     done (ZK-4882)
#   SNAP_UNCOMMITTED  a node's own snapshot replays its logged, uncommitted txns
#                     into the image (ZK-1549)
#   INSTALL_LOG_FIRST a SNAP install empties the old log before the image is durable
#                     (ZK-3642: a crash in between loses the data)
SIM_DRIVER_MUTATIONS := SNAP_LATE ROLE_DROPS_QUEUE EIO_IGNORED SNAP_UNCOMMITTED INSTALL_LOG_FIRST
SIM_MUTATIONS := $(SIM_CORE_MUTATIONS) $(SIM_DRIVER_MUTATIONS)
SIM_MUT_BINS := $(SIM_MUTATIONS:%=$(BUILD)/sim-mut/%/sim)
SIM_DRIVER_MUT_OBJ := sim_node.o sim_world.o

$(SIM_BIN): $(SIM_OBJ) $(QUORUM_OBJ) $(LIB)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LDLIBS)

$(BUILD)/sim-mut/%/zab.o: src/quorum/zab.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DZK_MUTATE_$* -c $< -o $@

$(BUILD)/sim-mut/%/sim_node.o: tests/sim/sim_node.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DZK_MUTATE_$* -c $< -o $@

$(BUILD)/sim-mut/%/sim_world.o: tests/sim/sim_world.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DZK_MUTATE_$* -c $< -o $@

$(SIM_CORE_MUTATIONS:%=$(BUILD)/sim-mut/%/sim): $(BUILD)/sim-mut/%/sim: $(SIM_OBJ) \
  $(filter-out %/zab.o,$(QUORUM_OBJ)) $(BUILD)/sim-mut/%/zab.o $(LIB)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LDLIBS)

$(SIM_DRIVER_MUTATIONS:%=$(BUILD)/sim-mut/%/sim): $(BUILD)/sim-mut/%/sim: \
  $(filter-out $(addprefix %/,$(SIM_DRIVER_MUT_OBJ)),$(SIM_OBJ)) \
  $(BUILD)/sim-mut/%/sim_node.o $(BUILD)/sim-mut/%/sim_world.o $(QUORUM_OBJ) $(LIB)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LDLIBS)

.SECONDARY: $(SIM_CORE_MUTATIONS:%=$(BUILD)/sim-mut/%/zab.o) \
  $(foreach m,$(SIM_DRIVER_MUTATIONS),$(SIM_DRIVER_MUT_OBJ:%=$(BUILD)/sim-mut/$(m)/%))
-include $(wildcard $(BUILD)/sim-mut/*/*.d)

sim-test: $(SIM_BIN) $(SIM_MUT_BINS)
	@fail=0; for f in $(SIM_SCRIPTS); do \
	  if $(SIM_BIN) --script $$f; then echo "sim script $$f: ok"; \
	  else echo "sim script $$f: FAILED"; fail=1; fi; \
	  for m in $$(sed -n 's/^# mutant: *//p' $$f); do \
	    if $(BUILD)/sim-mut/$$m/sim --script $$f >/dev/null 2>&1; then \
	      echo "  mutant $$m: NOT caught by $$f"; fail=1; \
	    else echo "  mutant $$m: caught"; fi; \
	  done; \
	done; \
	$(SIM_BIN) --sweep || fail=1; \
	half=$$(( $(SIM_SEEDS) / 2 )); \
	$(SIM_BIN) --seeds $(SIM_FIRST_SEED) $$half --twice 25 & p1=$$!; \
	$(SIM_BIN) --seeds $$(( $(SIM_FIRST_SEED) + half )) $$(( $(SIM_SEEDS) - half )) --twice 25 & p2=$$!; \
	wait $$p1 || fail=1; wait $$p2 || fail=1; \
	exit $$fail

sim-soak: $(SIM_BIN)
	$(SIM_BIN) --soak

sim-rewrite: $(SIM_BIN)
	@for f in $(SIM_SCRIPTS); do $(SIM_BIN) --script $$f --rewrite || exit 1; done

.PHONY: sim-test sim-soak sim-rewrite
