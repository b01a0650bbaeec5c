#!/usr/bin/env bash
# bench.sh — zkd against Apache ZooKeeper 3.8 (Debian's `zookeeper` package), row by
# row, with zkbench as the client; what `make bench` runs. Prints one table
# (row | metric | ZooKeeper | zkd | zkd/ZK) and writes every raw result to one JSON file.
#
# Rows (sizes are the full run; BENCH_QUICK=1 shrinks them, see below):
#   1  depth-1 latency: 1 session, 1 in flight: get, set, create (p50, p99)
#   2  saturated get: 16 sessions x 32 in flight, 10k keys x 100 B
#   3  saturated set (fsync on), same shape
#   4  saturated create (fsync on), same shape
#   5  mix 90 % get / 10 % set, same shape
#   6  open loop at 75 % of ZooKeeper's row-5 throughput (the same offered rate for both):
#      p99, p99.9 (latency from each request's intended send time). Just before each
#      server's run, the machine alone (zkbench --pause-probe, every server stopped):
#      the pauses it imposes on a spinning thread per CPU and the p99.9 they imply; and
#      the same open loop with reads only (no disk in the path) on each server
#   7  RSS idle (fresh server), and RSS with 1M znodes x 100 B (after creating them)
#   8  restart-to-serving with 1M znodes: SIGTERM, start on the same dataDir, time from
#      exec to the first session a probe gets (zkbench --ops 0 --wait)
#   9  longest pause seen by a depth-1 get client while a snapshot of the 1M znodes is
#      written under an open-loop set load. The probe is one session with one request in
#      flight, paced at BENCH_PROBE_RATE gets/s (open loop), so both servers get the same
#      probe load; a request held up by a pause is timed from when it was due, so the
#      longest latency is the longest pause the client saw. The pace stays far below
#      either server's depth-1 capacity under the load (ZooKeeper managed ~1300/s here),
#      or the probe would queue behind itself and report its own backlog. The headline
#      is the slowest probe request due in a second of the window in which a snapshot
#      file was being written (zkbench's max_us_by_s, the file's creation to its last
#      write); the slowest over the whole window is reported beside it.
#   10 10k idle sessions: time for all to connect, RSS per session, CPU while idle
#
# Fairness:
#   - Both servers get the same zoo.cfg apart from port and dataDir: tickTime=2000,
#     forceSync=yes (the default, written out), maxClientCnxns=0 (row 10 opens 10k
#     sessions from one address; ZooKeeper's default of 60 per address would refuse
#     them), admin.enableServer=false (ZooKeeper's Jetty admin port would collide between
#     runs), fsync.warningthresholdms=5 (each logs its slow txn-log fsyncs; row 6 counts
#     them), defaults otherwise (snapCount 100000, globalOutstandingLimit 1000, ...).
#   - ZooKeeper runs as `java $ZK_JVMFLAGS -cp /etc/zookeeper/conf:zookeeper.jar:<slf4j
#     binding and log4j, see ZK_LOG_CP> QuorumPeerMain zoo.cfg` with ZK_JVMFLAGS=-Xmx2g by default: a 2 GiB heap cap holds
#     1M znodes x 100 B (a live set of roughly 0.5 GiB) with room for G1; the initial
#     heap and the collector are the JVM's defaults (G1), as a stock install runs them.
#   - Each server group starts fresh (new dataDirs under one mktemp directory) and both
#     servers of a group run side by side; every measurement is taken on ZooKeeper and
#     then on zkd right after it, so drifting machine noise hits both alike. While one
#     is measured the other is stopped (SIGSTOP, then SIGCONT): an idle JVM's GC and JIT
#     threads would otherwise take CPU from zkd's runs (BENCH_QUIET=0 turns this off).
#   - JIT: ZooKeeper (and zkd, for symmetry) runs a 90/10 mix for $JIT_WARM s before
#     the small rows, and every measured run starts with its own warm-up phase. zkbench
#     uses the same seed, keys and values on both servers.
#   - Snapshots (row 9): both servers snapshot by the same rule (ZooKeeper's
#     SyncRequestProcessor, copied by zkd): after snapCount/2 + random(snapCount/2)
#     logged txns. After row 8's restart both run with snapCount = 2 * rate * (warm-up
#     + window/3), and the set load runs open loop at the same fixed rate (BENCH_SNAP_RATE)
#     on both, so each server's first snapshot starts between 1/3 and (warm-up + 2/3) of
#     the measured window; the table shows how many snapshots each wrote in the window.
#     SIGUSR1 (zkd's "snapshot now") is not used, so both are triggered the same way.
#
# Environment:
#   BENCH_QUICK=1       smaller, shorter run for a smoke test (100k znodes, 2k idle
#                       sessions, 3 s measurements): about 3 minutes instead of ~15
#   BENCH_ROWS=2,3      only these rows (servers a row does not need are not started)
#   BENCH_OUT=dir       where the JSON result and the logs go (default build/bench)
#   BENCH_SNAP_RATE=R   row 9 set load in ops/s (default 2000)
#   BENCH_PROBE_RATE=R  row 9 probe: gets/s of the depth-1 client (default 200)
#   BENCH_SEED=S        zkbench seed (default 42)
#   BENCH_TMPDIR=dir    parent of the data dirs (default /tmp; needs a real disk for fsync)
#   ZKBENCH, ZKD_BIN    binaries (default build/release/zkbench, bin/zkd)
#   ZK_JAR, ZK_CONF_DIR, JAVA, ZK_JVMFLAGS   how ZooKeeper is started (see above)
#   BENCH_PIN=1         each server on CPU 0 and zkbench on CPU 1 (taskset), so client and
#                       server do not compete for a core; on 2 cores row 6's tail depends
#                       on it (docs/PERFORMANCE.md). Off by default.
#   BENCH_QUIET=0       keep the other server running while one is measured (by default
#                       it is stopped with SIGSTOP for the run and continued after; see
#                       quiet_others)
#
# Exit status: 0 when every step worked; 1 if a server failed to start, zkbench
# reported an error (the table then shows FAIL), or zkd did not exit 0 on SIGTERM.
# Servers are started and stopped by PID; an EXIT trap stops whatever is still running
# and removes the data dirs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$2/$1" ;; esac; }
# Paths given in the environment are relative to the caller's directory, defaults to the repo.
ZKBENCH=$(abs "${ZKBENCH:-build/release/zkbench}" "$([ -n "${ZKBENCH:-}" ] && pwd || echo "$REPO")")
ZKD_BIN=$(abs "${ZKD_BIN:-bin/zkd}" "$([ -n "${ZKD_BIN:-}" ] && pwd || echo "$REPO")")
OUT_DIR=$(abs "${BENCH_OUT:-build/bench}" "$([ -n "${BENCH_OUT:-}" ] && pwd || echo "$REPO")")
cd "$REPO"
ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
ZK_CONF_DIR=${ZK_CONF_DIR:-/etc/zookeeper/conf}
# Debian's zookeeper.jar names no slf4j binding, so without these ZooKeeper logs nothing
# (slf4j's no-op logger); with them it logs WARN and above to server.log, as zkd does,
# among them the slow-fsync warnings row 6 counts. Both jars come with libzookeeper-java.
ZK_LOG_CP=${ZK_LOG_CP:-/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar}
ZK_JVMFLAGS=${ZK_JVMFLAGS:--Xmx2g}
JAVA=${JAVA:-$(command -v java || echo /usr/bin/java)}
PY=/usr/bin/python3

QUICK=${BENCH_QUICK:-0}
ROWS=${BENCH_ROWS:-1,2,3,4,5,6,7,8,9,10}
SEED=${BENCH_SEED:-42}
SNAP_RATE=${BENCH_SNAP_RATE:-2000}
PROBE_RATE=${BENCH_PROBE_RATE:-200}

CLIENTS=16 INFLIGHT=32 KEYS=10000 VALUE=100 READ_PCT=90
if [ "$QUICK" = 1 ]; then
    JIT_WARM=4 WARM=1 DUR=3 D1_WARM=1 D1_DUR=2 OPEN_DUR=4
    BIG=100000 IDLE_N=2000 IDLE_MEASURE=4 SNAP_WARM=3 SNAP_WIN=12
else
    JIT_WARM=15 WARM=3 DUR=10 D1_WARM=2 D1_DUR=5 OPEN_DUR=15
    BIG=1000000 IDLE_N=10000 IDLE_MEASURE=10 SNAP_WARM=6 SNAP_WIN=30
fi
# Snapshot between window/3 and warm-up + 2*window/3 (see "Snapshots" above).
SNAP_COUNT=$(awk -v r="$SNAP_RATE" -v w="$SNAP_WARM" -v d="$SNAP_WIN" 'BEGIN{printf "%d", 2*r*(w+d/3)}')
START_TIMEOUT=120  # seconds until a fresh server must accept sessions
STOP_TIMEOUT=60    # seconds between SIGTERM and SIGKILL
SLOW_FSYNC_MS=5    # both servers log each log fsync slower than this (row 6 counts them)

fail() { echo "bench.sh: FAIL: $*" >&2; exit 1; }
say() { echo "bench.sh: $*"; }
has_row() { case ",$ROWS," in *",$1,"*) return 0 ;; esac; return 1; }

[ -x "$ZKBENCH" ] || fail "zkbench not found at $ZKBENCH (make bench builds it, or set ZKBENCH)"
[ -x "$ZKD_BIN" ] || fail "zkd not found at $ZKD_BIN (run make, or set ZKD_BIN)"
[ -r "$ZK_JAR" ] || fail "Apache ZooKeeper not installed ($ZK_JAR missing; run scripts/deps.sh)"
[ -x "$JAVA" ] || fail "java not found"
SRV_CPU=()
CLI_CPU=()
QUIET=${BENCH_QUIET:-1}
if [ "${BENCH_PIN:-0}" = 1 ]; then
    command -v taskset >/dev/null || fail "BENCH_PIN=1 needs taskset (util-linux)"
    [ "$(nproc)" -ge 2 ] || fail "BENCH_PIN=1 needs at least 2 CPUs"
    SRV_CPU=(taskset -c 0)
    CLI_CPU=(taskset -c 1)
fi
[ -x "$PY" ] || fail "$PY not found"
for r in ${ROWS//,/ }; do
    case $r in 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10) ;; *) fail "BENCH_ROWS: unknown row '$r'" ;; esac
done

# Row 10 needs 10k sockets in zkbench and in each server; servers inherit this limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE_N + 200)) ] ||
    say "warning: open-files limit $(ulimit -n) is below $((IDLE_N + 200)); row 10 may fail"

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT_DIR"
RESULT_JSON=$OUT_DIR/bench-$STAMP.json
LOGS=$OUT_DIR/bench-$STAMP.logs
RAW=$LOGS/raw.jsonl
mkdir -p "$LOGS"
: >"$RAW"
TMP=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/zkbench.XXXXXX")
CLK_TCK=$(getconf CLK_TCK)
FAILED=0

declare -A PID=() PORT=() KIND=() DIR=() ZB=()

# ---------- process control ----------

stop_pid() { # stop_pid <pid> -> STOP_RC
    local pid=$1 i
    STOP_RC=0
    kill -CONT "$pid" 2>/dev/null || true # in case quiet_others stopped it
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || STOP_RC=$?
}

cleanup() {
    local rc=$? k
    trap - EXIT INT TERM
    for k in "${!ZB[@]}"; do
        kill -TERM "${ZB[$k]}" 2>/dev/null || true
        wait "${ZB[$k]}" 2>/dev/null || true
    done
    for k in "${!PID[@]}"; do
        stop_pid "${PID[$k]}"
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cpu_ticks() { # utime + stime of all threads of a live pid (fields 14, 15 of /proc/<pid>/stat)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

now_ns() { date +%s%N; }

json_str() { "$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

record_value() { # record_value <row> <name(server)> <metric> <number>
    printf '{"row":%s,"server":"%s","name":"%s","value":%s}\n' "$1" "${KIND[$2]}" "$3" "$4" >>"$RAW"
}

record_error() { # record_error <row> <server-kind> <step> <message>
    printf '{"row":%s,"server":"%s","name":"%s","error":%s}\n' "$1" "$2" "$3" "$(json_str "$4")" >>"$RAW"
    FAILED=1
    say "ERROR: row $1 $2 $3: $4"
}

write_cfg() { # write_cfg <name> [extra zoo.cfg lines]
    local name=$1 extra=${2:-}
    cat >"${DIR[$name]}/zoo.cfg" <<EOF
tickTime=2000
clientPort=${PORT[$name]}
clientPortAddress=127.0.0.1
dataDir=${DIR[$name]}/data
forceSync=yes
maxClientCnxns=0
admin.enableServer=false
fsync.warningthresholdms=$SLOW_FSYNC_MS
$extra
EOF
}

launch() { # launch <name>: exec the server in the background, PID[name]
    local name=$1 dir=${DIR[$1]}
    if [ "${KIND[$name]}" = zkd ]; then
        "${SRV_CPU[@]}" "$ZKD_BIN" "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
    else
        # shellcheck disable=SC2086  # ZK_JVMFLAGS is a list of flags
        "${SRV_CPU[@]}" "$JAVA" $ZK_JVMFLAGS -cp "$ZK_CONF_DIR:$ZK_JAR:$ZK_LOG_CP" "-Dzookeeper.log.dir=$dir" \
            -Dzookeeper.root.logger=WARN,CONSOLE \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
    fi
    PID[$name]=$!
}

# wait_serving <name> <timeout-s>: blocks until a probe session succeeds; sets READY_S to
# the seconds since LAUNCH_NS. Fails if the server exits first.
wait_serving() {
    local name=$1 tmo=$2 probe done_pid="" rc=0 t1
    "${CLI_CPU[@]}" "$ZKBENCH" --port "${PORT[$name]}" --clients 1 --ops 0 --wait "$tmo" >/dev/null 2>"${DIR[$name]}/probe.err" &
    probe=$!
    wait -n -p done_pid "$probe" "${PID[$name]}" || rc=$?
    t1=$(now_ns)
    if [ "$done_pid" != "$probe" ]; then
        kill -TERM "$probe" 2>/dev/null || true
        wait "$probe" 2>/dev/null || true
        unset "PID[$name]"
        tail -n 30 "${DIR[$name]}/server.log" >&2 || true
        fail "${KIND[$name]} ($name) exited with status $rc while starting (log above)"
    fi
    if [ "$rc" != 0 ]; then
        tail -n 30 "${DIR[$name]}/server.log" >&2 || true
        cat "${DIR[$name]}/probe.err" >&2 || true
        fail "${KIND[$name]} ($name) did not accept a session within ${tmo}s"
    fi
    READY_S=$(awk -v a="$LAUNCH_NS" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
}

start_server() { # start_server <name> <zookeeper|zkd> [extra cfg]: fresh dataDir
    local name=$1
    KIND[$name]=$2
    DIR[$name]=$TMP/$name
    mkdir -p "${DIR[$name]}/data"
    PORT[$name]=$(free_port)
    write_cfg "$name" "${3:-}"
    LAUNCH_NS=$(now_ns)
    launch "$name"
    wait_serving "$name" "$START_TIMEOUT"
    say "started ${KIND[$name]} ($name) pid ${PID[$name]} on 127.0.0.1:${PORT[$name]}, serving after ${READY_S}s"
}

stop_server() { # stop_server <name>
    local name=$1
    [ -n "${PID[$name]:-}" ] || return 0
    stop_pid "${PID[$name]}"
    unset "PID[$name]"
    if [ "${KIND[$name]}" = zkd ] && [ "$STOP_RC" != 0 ]; then
        say "ERROR: zkd ($name) exited $STOP_RC on SIGTERM (expected 0); log tail:"
        tail -n 20 "${DIR[$name]}/server.log" || true
        FAILED=1
    fi
    cp "${DIR[$name]}/server.log" "$LOGS/$name.server.log" 2>/dev/null || true
}

# restart_server <name> [extra cfg]: SIGTERM, then start on the same dataDir; READY_S is
# the time from exec to the first session.
restart_server() {
    local name=$1
    stop_server "$name"
    PORT[$name]=$(free_port)
    write_cfg "$name" "${2:-}"
    echo "---- restart ----" >>"${DIR[$name]}/server.log"
    quiet_others "$name"
    LAUNCH_NS=$(now_ns)
    launch "$name"
    wait_serving "$name" 900
    wake_others
    say "restarted ${KIND[$name]} ($name) pid ${PID[$name]}: serving after ${READY_S}s"
}

alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }

# While one server is measured (a zkbench run, or a restart), the other servers are
# stopped with SIGSTOP and continued after. Both servers of a group stay up between
# measurements, and on 2 cores an idle JVM is not idle: after a load or a restart its
# GC and JIT threads keep running and would take CPU from the server being measured
# (zkd has no such background work, so without this only zkd's runs were disturbed).
# BENCH_QUIET=0 keeps them all running.
declare -A PAUSED=()
quiet_others() { # quiet_others <server>
    local k
    [ "$QUIET" = 1 ] || return 0
    for k in "${!PID[@]}"; do
        if [ "$k" != "$1" ] && [ -z "${PAUSED[$k]:-}" ] && kill -STOP "${PID[$k]}" 2>/dev/null; then
            PAUSED[$k]=1
        fi
    done
    return 0
}
wake_others() {
    local k
    for k in "${!PAUSED[@]}"; do
        [ -n "${PID[$k]:-}" ] && kill -CONT "${PID[$k]}" 2>/dev/null || true
        unset "PAUSED[$k]"
    done
    return 0
}

# ---------- zkbench runs ----------

# zb_start <row> <server> <step> <timeout-s> [zkbench args]: starts zkbench --json in the
# background; zb_finish <row> <server> <step> waits and records its phases.
zb_start() {
    local row=$1 srv=$2 step=$3 tmo=$4
    shift 4
    quiet_others "$srv"
    timeout --signal=TERM "$tmo" "${CLI_CPU[@]}" "$ZKBENCH" --port "${PORT[$srv]}" --json --seed "$SEED" "$@" \
        >"$LOGS/$step.$srv.json" 2>"$LOGS/$step.$srv.err" &
    ZB[$step.$srv]=$!
}

zb_finish() {
    local row=$1 srv=$2 step=$3 rc=0 line
    wait "${ZB[$step.$srv]}" || rc=$?
    unset "ZB[$step.$srv]"
    [ "${#ZB[@]}" != 0 ] || wake_others
    if [ "$rc" != 0 ]; then
        local msg
        msg=$(grep -m1 'FAIL' "$LOGS/$step.$srv.err" || tail -n 1 "$LOGS/$step.$srv.err" || true)
        [ "$rc" = 124 ] && msg="timed out; $msg"
        alive "$srv" || msg="server is not running; $msg"
        record_error "$row" "${KIND[$srv]}" "$step" "zkbench exited $rc: $msg"
        return 1
    fi
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        printf '{"row":%s,"server":"%s","name":"%s","zkbench":%s}\n' "$row" "${KIND[$srv]}" "$step" "$line" >>"$RAW"
    done <"$LOGS/$step.$srv.json"
    return 0
}

run_zb() { # run_zb <row> <server> <step> <timeout-s> [zkbench args]; prints the measured line
    zb_start "$@"
    if zb_finish "$1" "$2" "$3"; then
        grep -v '^connect \|^populate-keys\|^warmup' "$LOGS/$3.$2.err" | grep -v '^zkbench ' |
            sed "s/^/  ${KIND[$2]}	$3: /" || true
        return 0
    fi
    return 1
}

# zb_field <server> <step> <phase> <key>: a number from a recorded zkbench phase.
zb_field() {
    "$PY" - "$RAW" "${KIND[$1]}" "$2" "$3" "$4" <<'EOF'
import json, sys
raw, server, step, phase, key = sys.argv[1:]
for line in open(raw):
    r = json.loads(line)
    if r.get("server") == server and r.get("name") == step and r.get("zkbench", {}).get("phase") == phase:
        print(r["zkbench"][key])
        break
EOF
}

snap_files() { find "${DIR[$1]}/data" -name 'snapshot.*' 2>/dev/null | wc -l; }

# snap_times <server> <window start, unix s>: records when each snapshot file was created
# and last written, in seconds from the start of the measured window (row 9 context).
snap_times() {
    local s=$1 t0=$2 f b m
    [ -n "$t0" ] || return 0
    while read -r f; do
        b=$(stat -c %.3W "$f")
        m=$(stat -c %.3Y "$f")
        awk -v m="$m" -v t="$t0" 'BEGIN{exit !(m >= t)}' || continue
        say "  ${KIND[$s]}: $(basename "$f"): created at $(awk -v a="$b" -v t="$t0" 'BEGIN{printf "%.1f", a-t}')s," \
            "last written at $(awk -v a="$m" -v t="$t0" 'BEGIN{printf "%.1f", a-t}')s of the window"
        record_value 9 "$s" snapshot_created_at_s "$(awk -v a="$b" -v t="$t0" 'BEGIN{printf "%.3f", a-t}')"
        record_value 9 "$s" snapshot_last_written_at_s "$(awk -v a="$m" -v t="$t0" 'BEGIN{printf "%.3f", a-t}')"
    done < <(find "${DIR[$s]}/data" -name 'snapshot.*' 2>/dev/null | sort)
}

# ---------- rows 1-6: one fresh pair, 10k keys x 100 B ----------

SHAPE=(--clients "$CLIENTS" --inflight "$INFLIGHT" --keys "$KEYS" --value-bytes "$VALUE")

group_small() {
    local s wl row rate
    say "== rows 1-6: fresh ZooKeeper and zkd, $KEYS keys x $VALUE B"
    start_server zk-s zookeeper
    start_server zkd-s zkd
    for s in zk-s zkd-s; do
        run_zb 0 "$s" populate-small 600 "${SHAPE[@]}" --workload populate || true
    done
    say "JIT warm-up: ${JIT_WARM}s of 90/10 mix on each server"
    for s in zk-s zkd-s; do
        run_zb 0 "$s" jit-warmup $((JIT_WARM + 120)) "${SHAPE[@]}" --no-populate --workload mix \
            --read-pct "$READ_PCT" --duration "$JIT_WARM" || true
    done
    if has_row 1; then
        say "-- row 1: depth-1 latency (1 session, 1 in flight)"
        for wl in get set create; do
            for s in zk-s zkd-s; do
                run_zb 1 "$s" "d1-$wl" $((D1_WARM + D1_DUR + 120)) --clients 1 --inflight 1 \
                    --keys "$KEYS" --value-bytes "$VALUE" --no-populate --workload "$wl" \
                    --warmup "$D1_WARM" --duration "$D1_DUR" || true
            done
        done
    fi
    # Row 4 (create) goes last: it adds many nodes, which the other rows should not carry.
    for row in 2 3 5 4; do
        has_row "$row" || continue
        case $row in 2) wl="get" ;; 3) wl="set" ;; 4) wl="create" ;; 5) wl="mix" ;; esac
        say "-- row $row: saturated $wl ($CLIENTS sessions x $INFLIGHT in flight)"
        for s in zk-s zkd-s; do
            run_zb "$row" "$s" "sat-$wl" $((WARM + DUR + 120)) "${SHAPE[@]}" --no-populate \
                --workload "$wl" --read-pct "$READ_PCT" --warmup "$WARM" --duration "$DUR" || true
        done
        if [ "$row" = 5 ] && has_row 6; then group_open_loop; fi
    done
    if has_row 6 && ! has_row 5; then group_open_loop; fi
    stop_server zk-s
    stop_server zkd-s
}

group_open_loop() {
    local s rate zk_mix
    zk_mix=$(zb_field zk-s sat-mix mix ops_per_sec 2>/dev/null || true)
    if [ -z "$zk_mix" ]; then
        say "-- row 6: calibrating: ZooKeeper's saturated 90/10 mix"
        run_zb 6 zk-s calib-mix $((WARM + DUR + 120)) "${SHAPE[@]}" --no-populate --workload mix \
            --read-pct "$READ_PCT" --warmup "$WARM" --duration "$DUR" || true
        zk_mix=$(zb_field zk-s calib-mix mix ops_per_sec 2>/dev/null || true)
    fi
    if [ -z "$zk_mix" ]; then
        record_error 6 zookeeper open-mix "no saturated mix figure to take 75 % of"
        return 0
    fi
    rate=$(awk -v x="$zk_mix" 'BEGIN{printf "%d", x * 0.75}')
    OPEN_RATE=$rate
    say "-- row 6: open loop at $rate ops/s (75 % of ZooKeeper's $zk_mix)"
    for s in zk-s zkd-s; do
        machine_pauses 6 "pauses-${KIND[$s]/zookeeper/zk}"
        local lines0
        lines0=$(wc -l <"${DIR[$s]}/server.log")
        run_zb 6 "$s" open-mix $((WARM + OPEN_DUR * 3 + 120)) "${SHAPE[@]}" --no-populate --workload mix \
            --read-pct "$READ_PCT" --rate "$rate" --warmup "$WARM" --duration "$OPEN_DUR" || true
        # Both servers warn of each txn-log fsync over SLOW_FSYNC_MS (zoo.cfg
        # fsync.warningthresholdms): the disk's share of the tail, warm-up included.
        record_value 6 "$s" slow_fsyncs \
            "$(tail -n +"$((lines0 + 1))" "${DIR[$s]}/server.log" | grep -ci 'fsync' || true)"
    done
    # The same offered load with reads only: the tail each server has with no disk in
    # the path, beside the one the 10 % writes and their fsyncs add.
    for s in zk-s zkd-s; do
        run_zb 6 "$s" open-reads $((WARM + OPEN_DUR * 3 + 120)) "${SHAPE[@]}" --no-populate --workload mix \
            --read-pct 100 --rate "$rate" --warmup "$WARM" --duration "$OPEN_DUR" || true
    done
}

# machine_pauses <row> <label>: the machine alone for OPEN_DUR seconds, every server
# stopped (SIGSTOP). zkbench --pause-probe spins one thread per CPU and reports the gaps
# the machine took them off the CPU, and the open-loop p99.9 those gaps alone imply (an
# estimate of the machine's own tail at that moment, not a bound; zkbench --help).
machine_pauses() {
    local row=$1 label=$2 rc=0
    QUIET=1 quiet_others ""
    "$ZKBENCH" --pause-probe "$(nproc)" --duration "$OPEN_DUR" --json >"$LOGS/$label.json" \
        2>"$LOGS/$label.err" || rc=$?
    wake_others
    if [ "$rc" != 0 ] || [ ! -s "$LOGS/$label.json" ]; then
        record_error "$row" machine "$label" "zkbench --pause-probe exited $rc: $(tail -n 1 "$LOGS/$label.err")"
        return 0
    fi
    printf '{"row":%s,"server":"machine","name":"%s","zkbench":%s}\n' "$row" "$label" \
        "$(head -n 1 "$LOGS/$label.json")" >>"$RAW"
    sed "s/^/  machine	$label: /" "$LOGS/$label.err"
}

# ---------- row 10: one fresh pair, idle sessions ----------

group_idle() {
    local s rss0 rss1 cpu0 cpu1 t0 t1 hold i
    say "== row 10: $IDLE_N idle sessions on a fresh ZooKeeper and zkd"
    start_server zk-i zookeeper
    start_server zkd-i zkd
    # Warm the session paths (JIT) on both; the baseline RSS is taken after it.
    for s in zk-i zkd-i; do
        run_zb 0 "$s" idle-warmup 300 --idle-sessions 1000 --duration 1 || true
    done
    sleep 2
    hold=$((IDLE_MEASURE + 4))
    for s in zk-i zkd-i; do
        alive "$s" || { record_error 10 "${KIND[$s]}" idle "server is not running"; continue; }
        rss0=$(rss_kib "${PID[$s]}")
        rss1="" cpu0="" cpu1="" t0="" t1=""
        zb_start 10 "$s" idle $((hold + 300)) --idle-sessions "$IDLE_N" --duration "$hold"
        # The connect line appears once every session is established.
        for ((i = 0; i < 3000; i++)); do
            grep -q '"phase":"connect"' "$LOGS/idle.$s.json" 2>/dev/null && break
            kill -0 "${ZB[idle.$s]}" 2>/dev/null || break
            sleep 0.1
        done
        if grep -q '"phase":"connect"' "$LOGS/idle.$s.json" 2>/dev/null; then
            sleep 1
            cpu0=$(cpu_ticks "${PID[$s]}")
            t0=$(now_ns)
            sleep "$IDLE_MEASURE"
            cpu1=$(cpu_ticks "${PID[$s]}")
            t1=$(now_ns)
            rss1=$(rss_kib "${PID[$s]}")
        fi
        zb_finish 10 "$s" idle || continue
        if [ -z "$rss1" ]; then
            record_error 10 "${KIND[$s]}" idle "the sessions were not all connected in time"
            continue
        fi
        record_value 10 "$s" idle_connect_s "$(zb_field "$s" idle connect secs)"
        record_value 10 "$s" idle_rss_before_kib "$rss0"
        record_value 10 "$s" idle_rss_after_kib "$rss1"
        record_value 10 "$s" idle_rss_per_session_kib \
            "$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE_N" 'BEGIN{printf "%.3f", (b-a)/n}')"
        record_value 10 "$s" idle_cpu_pct \
            "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" -v x="$t0" -v y="$t1" \
                'BEGIN{printf "%.3f", (b-a)/t/((y-x)/1e9)*100}')"
        say "  ${KIND[$s]}: connect $(zb_field "$s" idle connect secs)s, RSS $rss0 -> $rss1 KiB"
    done
    stop_server zk-i
    stop_server zkd-i
}

# ---------- rows 7-9: one fresh pair, BIG znodes ----------

group_big() {
    local s n0 n1
    say "== rows 7-9: fresh ZooKeeper and zkd, $BIG znodes x $VALUE B"
    start_server zk-b zookeeper
    start_server zkd-b zkd
    sleep 2
    for s in zk-b zkd-b; do
        record_value 7 "$s" rss_idle_kib "$(rss_kib "${PID[$s]}")"
    done
    for s in zk-b zkd-b; do
        say "-- row 7: creating $BIG znodes on ${KIND[$s]}"
        run_zb 7 "$s" populate-big 3600 --clients "$CLIENTS" --inflight "$INFLIGHT" --keys "$BIG" \
            --value-bytes "$VALUE" --workload populate || true
    done
    sleep 5
    for s in zk-b zkd-b; do
        alive "$s" && record_value 7 "$s" rss_big_kib "$(rss_kib "${PID[$s]}")"
    done
    # Row 8, and the snapCount for row 9 (see "Snapshots" in the header).
    for s in zk-b zkd-b; do
        alive "$s" || { record_error 8 "${KIND[$s]}" restart "server is not running"; continue; }
        restart_server "$s" "snapCount=$SNAP_COUNT"
        record_value 8 "$s" restart_s "$READY_S"
    done
    sleep 2
    for s in zk-b zkd-b; do
        alive "$s" && record_value 7 "$s" rss_restarted_kib "$(rss_kib "${PID[$s]}")"
    done
    say "-- row 9: depth-1 probe during snapshots (set load $SNAP_RATE/s open loop, snapCount=$SNAP_COUNT)"
    for s in zk-b zkd-b; do
        alive "$s" || { record_error 9 "${KIND[$s]}" snap-probe "server is not running"; continue; }
        local log_lines
        log_lines=$(wc -l <"${DIR[$s]}/server.log")
        n0=$(snap_files "$s")
        zb_start 9 "$s" snap-load $((SNAP_WARM + SNAP_WIN * 3 + 120)) --clients "$CLIENTS" \
            --inflight "$INFLIGHT" --keys "$BIG" --value-bytes "$VALUE" --no-populate --workload set \
            --rate "$SNAP_RATE" --warmup "$SNAP_WARM" --duration "$SNAP_WIN"
        zb_start 9 "$s" snap-probe $((SNAP_WARM + SNAP_WIN * 3 + 120)) --clients 1 --inflight 1 \
            --rate "$PROBE_RATE" --keys "$BIG" --value-bytes "$VALUE" --no-populate --workload get \
            --warmup "$SNAP_WARM" --duration "$SNAP_WIN"
        zb_finish 9 "$s" snap-load || true
        zb_finish 9 "$s" snap-probe || true
        n1=$(snap_files "$s")
        record_value 9 "$s" snapshots_in_window $((n1 - n0))
        snap_times "$s" "$(zb_field "$s" snap-probe get start_unix_s)"
        if [ "${KIND[$s]}" = zkd ]; then
            local fp
            fp=$(tail -n +"$((log_lines + 1))" "${DIR[$s]}/server.log" |
                sed -n 's/.*fork paused the loop \([0-9.]*\) ms.*/\1/p' | sort -n | tail -n 1)
            [ -n "$fp" ] && record_value 9 "$s" zkd_fork_pause_ms "$fp"
        fi
        grep -h '^probe\|^get\|^set' "$LOGS/snap-probe.$s.err" "$LOGS/snap-load.$s.err" 2>/dev/null |
            sed "s/^/  ${KIND[$s]}: /" || true
        say "  ${KIND[$s]}: $((n1 - n0)) snapshot(s) written during the window"
    done
    stop_server zk-b
    stop_server zkd-b
}

# ---------- main ----------

T_START=$(date +%s)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
JAVA_VERSION=$("$JAVA" -version 2>&1 | head -n 1)
FS=$(stat -f -c %T "$TMP")
ZK_VERSION=$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || basename "$(readlink -f "$ZK_JAR")")
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "$(nproc) cpu(s), $CPU_MODEL, $MEM RAM, kernel $(uname -r), loadavg $LOAD0"
say "$JAVA_VERSION; ZooKeeper $ZK_VERSION ($ZK_JAR) with $ZK_JVMFLAGS; dataDirs on $FS ($TMP)"
say "rows $ROWS; $([ "$QUICK" = 1 ] && echo QUICK || echo full) sizes: measure ${DUR}s (+${WARM}s warm-up)," \
    "depth-1 ${D1_DUR}s, open loop ${OPEN_DUR}s, $BIG big znodes, $IDLE_N idle sessions, snapshot window ${SNAP_WIN}s"
OPEN_RATE=""

if has_row 1 || has_row 2 || has_row 3 || has_row 4 || has_row 5 || has_row 6; then group_small; fi
if has_row 10; then group_idle; fi
if has_row 7 || has_row 8 || has_row 9; then group_big; fi

ELAPSED=$(($(date +%s) - T_START))
echo
say "zkd vs Apache ZooKeeper ($([ "$QUICK" = 1 ] && echo "QUICK run: reduced sizes" || echo "full run")$([ "${BENCH_PIN:-0}" = 1 ] && echo ", servers on CPU 0, zkbench on CPU 1"); ${ELAPSED}s)"
report_rc=0
"$PY" "$REPO/tools/bench_report.py" "$RAW" "$RESULT_JSON" "$ROWS" \
    "date=$STAMP" "quick=$QUICK" "cpus=$(nproc)" "cpu=$CPU_MODEL" "mem=$MEM" "kernel=$(uname -r)" \
    "loadavg_start=$LOAD0" "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" "java=$JAVA_VERSION" \
    "zk_jvmflags=$ZK_JVMFLAGS" "zk_version=$ZK_VERSION" "zk_jar=$(readlink -f "$ZK_JAR")" "fs=$FS" "seed=$SEED" \
    "clients=$CLIENTS" "inflight=$INFLIGHT" "keys=$KEYS" "value_bytes=$VALUE" "read_pct=$READ_PCT" \
    "duration_s=$DUR" "warmup_s=$WARM" "jit_warmup_s=$JIT_WARM" "d1_duration_s=$D1_DUR" \
    "open_duration_s=$OPEN_DUR" "open_rate=${OPEN_RATE:-?}" "big_nodes=$BIG" \
    "idle_sessions=$IDLE_N" "idle_measure_s=$IDLE_MEASURE" "snap_rate=$SNAP_RATE" "probe_rate=$PROBE_RATE" \
    "snap_count=$SNAP_COUNT" "snap_warmup_s=$SNAP_WARM" "snap_window_s=$SNAP_WIN" \
    "elapsed_s=$ELAPSED" || report_rc=$?
say "raw results: $RESULT_JSON (logs: $LOGS)"
[ "$FAILED" = 0 ] && [ "$report_rc" = 0 ] || exit 1
