#!/usr/bin/env bash
# bench.sh — the same fixed, seeded workload against a fresh zkd and a fresh Apache
# ZooKeeper 3.8, one after the other, each on its own free loopback port, each
# started and stopped by PID. Prints zkbench's per-phase lines for each server and a
# side-by-side table with zkd/ZooKeeper ratios.
#
# Workload (per server, fresh data): create 20000 nodes of 100 bytes, then a read
# phase (getData) and a write phase (setData), 8 clients x pipeline 16, seed 42.
#
# Environment:
#   ZKBENCH      zkbench binary      (default build/release/zkbench)
#   ZKD_BIN      zkd binary          (default bin/zkd)
#   ZK_JAR       ZooKeeper jar       (default /usr/share/java/zookeeper.jar)
#   ZK_JVMFLAGS  JVM flags for ZooKeeper (default -Xmx512m, as tests/lib/zkservers.py)
#   BENCH_NODES / BENCH_OPS (per phase) / BENCH_CLIENTS / BENCH_PIPELINE /
#   BENCH_VALUE_BYTES / BENCH_SEED   override the workload (defaults below)
#
# Exits non-zero if either server fails to start, zkbench reports an error, or zkd
# does not exit 0 on SIGTERM. Never leaves a server running (EXIT trap, kill by PID).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$2/$1" ;; esac; }
# Paths given in the environment are relative to the caller's directory, defaults to the repo.
ZKBENCH=$(abs "${ZKBENCH:-build/release/zkbench}" "$( [ -n "${ZKBENCH:-}" ] && pwd || echo "$REPO")")
ZKD_BIN=$(abs "${ZKD_BIN:-bin/zkd}" "$( [ -n "${ZKD_BIN:-}" ] && pwd || echo "$REPO")")
cd "$REPO"
ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
ZK_CONF_DIR=${ZK_CONF_DIR:-/etc/zookeeper/conf}
ZK_JVMFLAGS=${ZK_JVMFLAGS:--Xmx512m}
JAVA=${JAVA:-$(command -v java || echo /usr/bin/java)}

NODES=${BENCH_NODES:-20000}
OPS=${BENCH_OPS:-200000}   # per phase: read, then write
CLIENTS=${BENCH_CLIENTS:-8}
PIPELINE=${BENCH_PIPELINE:-16}
VALUE_BYTES=${BENCH_VALUE_BYTES:-100}
SEED=${BENCH_SEED:-42}

START_TIMEOUT=30   # seconds until a server must accept sessions
RUN_TIMEOUT=80     # seconds for one server's whole workload
STOP_TIMEOUT=20    # seconds between SIGTERM and SIGKILL

fail() { echo "bench.sh: FAIL: $*" >&2; exit 1; }

[ -x "$ZKBENCH" ] || fail "zkbench not found at $ZKBENCH (make bench builds it, or set ZKBENCH)"
[ -x "$ZKD_BIN" ] || fail "zkd not found at $ZKD_BIN (run make, or set ZKD_BIN)"
[ -r "$ZK_JAR" ] || fail "Apache ZooKeeper not installed ($ZK_JAR missing; run scripts/deps.sh)"
[ -x "$JAVA" ] || fail "java not found"

TMP=$(mktemp -d /tmp/zkbench.XXXXXX)
SERVER_PID=""
ZB_PID=""
CLK_TCK=$(getconf CLK_TCK)

stop_server() { # stop_server <pid> -> sets STOP_RC
    local pid=$1 i
    STOP_RC=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench.sh: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || STOP_RC=$?
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$ZB_PID" ]; then
        kill -TERM "$ZB_PID" 2>/dev/null || true
        wait "$ZB_PID" 2>/dev/null || true
    fi
    if [ -n "$SERVER_PID" ]; then
        stop_server "$SERVER_PID"
        SERVER_PID=""
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cpu_ticks() { # utime + stime of a live pid (fields 14, 15 of /proc/<pid>/stat)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

status_kib() { # status_kib <pid> <VmRSS|VmHWM>
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

result() { # result <file> <phase> <key>
    awk -v ph="phase=$2" -v key="$3=" '
        $1 == "RESULT" && $2 == ph { for (i = 3; i <= NF; i++) if (index($i, key) == 1) print substr($i, length(key) + 1) }
    ' "$1"
}

# run_one <kind>: start, wait for sessions, run the workload, sample /proc, stop.
# Leaves results in $TMP/<kind>.{out,vals}.
run_one() {
    local kind=$1 dir="$TMP/$1" port
    port=$(free_port)
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
clientPort=$port
clientPortAddress=127.0.0.1
dataDir=$dir/data
4lw.commands.whitelist=*
admin.enableServer=false
EOF
    local t0 t1
    t0=$(date +%s.%N)
    if [ "$kind" = zkd ]; then
        "$ZKD_BIN" "$dir/zoo.cfg" >"$dir/server.log" 2>&1 </dev/null &
    else
        # shellcheck disable=SC2086  # ZK_JVMFLAGS is a list of flags
        "$JAVA" $ZK_JVMFLAGS -cp "$ZK_CONF_DIR:$ZK_JAR" "-Dzookeeper.log.dir=$dir" \
            -Dzookeeper.root.logger=WARN,CONSOLE \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >"$dir/server.log" 2>&1 </dev/null &
    fi
    SERVER_PID=$!
    local pid=$SERVER_PID ready=0 i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            SERVER_PID=""
            wait "$pid" 2>/dev/null || true
            tail -n 30 "$dir/server.log" >&2 || true
            fail "$kind exited during startup (log above)"
        fi
        if "$ZKBENCH" --port "$port" --clients 1 --ops 0 >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    if [ "$ready" != 1 ]; then
        tail -n 30 "$dir/server.log" >&2 || true
        fail "$kind did not accept sessions on 127.0.0.1:$port within ${START_TIMEOUT}s"
    fi
    t1=$(date +%s.%N)

    local cpu0 rss0 cpu1 rss1 hwm1 rc=0
    cpu0=$(cpu_ticks "$pid")
    rss0=$(status_kib "$pid" VmRSS)
    echo "== $kind (pid $pid, 127.0.0.1:$port, ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')s)"
    # In the background + wait, so that a SIGTERM/SIGINT to this script runs the trap at once.
    timeout "$RUN_TIMEOUT" "$ZKBENCH" --port "$port" --clients "$CLIENTS" --pipeline "$PIPELINE" \
        --nodes "$NODES" --value-bytes "$VALUE_BYTES" --seed "$SEED" --create \
        --mix read,write --ops "$OPS" >"$dir.out" 2>&1 &
    ZB_PID=$!
    wait "$ZB_PID" || rc=$?
    ZB_PID=""
    cat "$dir.out"
    [ "$rc" = 0 ] || fail "zkbench against $kind exited $rc (see above)"
    if ! kill -0 "$pid" 2>/dev/null; then
        fail "$kind died during the run"
    fi
    cpu1=$(cpu_ticks "$pid")
    rss1=$(status_kib "$pid" VmRSS)
    hwm1=$(status_kib "$pid" VmHWM)
    local cpu_total=$cpu1
    stop_server "$pid"
    SERVER_PID=""
    if [ "$kind" = zkd ] && [ "$STOP_RC" != 0 ]; then
        tail -n 30 "$dir/server.log" >&2 || true
        fail "zkd exited $STOP_RC on SIGTERM (expected 0)"
    fi
    cat >"$dir.vals" <<EOF
cpu_run=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/t}')
cpu_total=$(awk -v b="$cpu_total" -v t="$CLK_TCK" 'BEGIN{printf "%.2f", b/t}')
rss_idle=$rss0
rss_end=$rss1
hwm=$hwm1
EOF
}

# ---------- main ----------

echo "bench.sh: $(nproc) cpu(s), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)," \
    "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench.sh: $("$JAVA" -version 2>&1 | head -n 1), ZooKeeper flags: $ZK_JVMFLAGS;" \
    "dataDir on $(stat -f -c %T "$TMP")"
echo "bench.sh: workload: create $NODES nodes x $VALUE_BYTES B, then read $OPS and write $OPS ops," \
    "$CLIENTS clients x pipeline $PIPELINE, seed $SEED"

T_START=$(date +%s)
run_one zkd
run_one zookeeper

val() { awk -F= -v k="$2" '$1 == k { print $2 }' "$TMP/$1.vals"; }

Z=$TMP/zkd.out
J=$TMP/zookeeper.out
total_ops=$((NODES + 2 * OPS))

# Table: metric, zkd, ZooKeeper, ratio (zkd/ZooKeeper). Throughput ratio > 1 and
# RSS/CPU ratios < 1 favour zkd.
{
    printf "%-26s %14s %14s %12s\n" "metric" "zkd" "ZooKeeper" "zkd/ZK"
    for ph in create read write; do
        zr=$(result "$Z" "$ph" ops_per_sec)
        jr=$(result "$J" "$ph" ops_per_sec)
        printf "%-26s %14s %14s %12s\n" "$ph ops/s" "$zr" "$jr" \
            "$(awk -v a="$zr" -v b="$jr" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }')"
        for q in p50 p99 p999; do
            printf "%-26s %14s %14s %12s\n" "  $ph $q us" "$(result "$Z" "$ph" "${q}_us")" \
                "$(result "$J" "$ph" "${q}_us")" ""
        done
    done
    for m in rss_idle rss_end hwm; do
        case $m in
        rss_idle) label="VmRSS before run MiB" ;;
        rss_end) label="VmRSS after run MiB" ;;
        hwm) label="VmHWM (peak) MiB" ;;
        esac
        zv=$(val zkd "$m")
        jv=$(val zookeeper "$m")
        printf "%-26s %14s %14s %12s\n" "$label" \
            "$(awk -v a="$zv" 'BEGIN{printf "%.1f", a/1024}')" \
            "$(awk -v a="$jv" 'BEGIN{printf "%.1f", a/1024}')" \
            "$(awk -v a="$zv" -v b="$jv" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print "-" }')"
    done
    zc=$(val zkd cpu_run)
    jc=$(val zookeeper cpu_run)
    printf "%-26s %14s %14s %12s\n" "CPU s during run" "$zc" "$jc" \
        "$(awk -v a="$zc" -v b="$jc" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print "-" }')"
    printf "%-26s %14s %14s %12s\n" "CPU s incl. startup" "$(val zkd cpu_total)" "$(val zookeeper cpu_total)" ""
    printf "%-26s %14s %14s %12s\n" "CPU us per op (run)" \
        "$(awk -v a="$zc" -v n="$total_ops" 'BEGIN{printf "%.2f", a*1e6/n}')" \
        "$(awk -v a="$jc" -v n="$total_ops" 'BEGIN{printf "%.2f", a*1e6/n}')" \
        "$(awk -v a="$zc" -v b="$jc" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print "-" }')"
} >"$TMP/table"
echo
echo "== zkd vs Apache ZooKeeper ($total_ops ops per server; CPU = utime+stime of the server process," \
    "all threads; ratios are zkd/ZooKeeper)"
cat "$TMP/table"
echo "bench.sh: done in $(($(date +%s) - T_START))s"
