#!/usr/bin/python3
"""bench_report.py — turns the raw records of tools/bench.sh into the final table and
one JSON file.

usage: bench_report.py RAW.jsonl OUT.json ROWS [key=value ...]

RAW.jsonl has one record per line, written by bench.sh:
  {"row": R, "server": "zookeeper"|"zkd", "name": N, "zkbench": {...}}  one zkbench phase
  {"row": R, "server": S, "name": N, "value": X}                        a scalar (RSS, time..)
  {"row": R, "server": S, "name": N, "error": "..."}                    a failed step
  {"row": R, "server": "machine", "name": "pauses-zk"|"pauses-zkd", "zkbench": {...}}
      zkbench --pause-probe with every server stopped, just before that server's run
ROWS is the comma list of selected rows; key=value pairs describe the machine and the
settings and go to OUT.json under "meta". Prints the table on stdout. Stdlib only.
"""
import json
import sys

SERVERS = ("zookeeper", "zkd")


def zb(name, phase, field):
    """A field of a zkbench phase: ops_per_sec, or p50/p90/p99/p999/max (µs)."""
    def get(recs, server):
        for r in recs:
            if r.get("server") == server and r.get("name") == name and "zkbench" in r:
                z = r["zkbench"]
                if z.get("phase") != phase:
                    continue
                if field in z:
                    return z[field]
                return z.get("latency_us", {}).get(field)
        return None
    return get


def val(name, scale=1.0):
    def get(recs, server):
        for r in recs:
            if r.get("server") == server and r.get("name") == name and "value" in r:
                v = r["value"]
                return None if v is None else v * scale
        return None
    return get


def err(recs, row, server):
    for r in recs:
        if r.get("row") == row and r.get("server") == server and "error" in r:
            return r["error"]
    return None


def machine(field):
    """A field of the pause probe taken just before this server's open-loop run."""
    def get(recs, server):
        label = "pauses-zk" if server == "zookeeper" else "pauses-zkd"
        for r in recs:
            if r.get("server") == "machine" and r.get("name") == label and "zkbench" in r:
                return r["zkbench"].get(field)
        return None
    return get


def during_snapshots(name, phase):
    """The slowest request of a zkbench phase whose intended send time fell in a second
    in which a snapshot file was being written (from its creation to its last write,
    both rounded out to whole seconds of the phase), in µs; None without a snapshot."""
    def get(recs, server):
        series = zb(name, phase, "max_us_by_s")(recs, server)
        made = [r["value"] for r in recs if r.get("server") == server and
                r.get("name") == "snapshot_created_at_s" and "value" in r]
        done = [r["value"] for r in recs if r.get("server") == server and
                r.get("name") == "snapshot_last_written_at_s" and "value" in r]
        if series is None or not made or len(made) != len(done):
            return None
        worst = None
        for a, b in zip(made, done):
            for sec in range(max(0, int(a)), min(len(series) - 1, int(b)) + 1):
                worst = series[sec] if worst is None else max(worst, series[sec])
        return worst
    return get


def us_to_ms(f):
    def get(recs, server):
        v = f(recs, server)
        return None if v is None else v / 1000.0
    return get


def table_spec(meta):
    big = meta.get("big_nodes", "1M")
    idle = meta.get("idle_sessions", "10k")
    rate = meta.get("open_rate", "?")
    snap = meta.get("snap_rate", "?")
    return [
        (1, "get p50 µs (1 session, 1 in flight)", zb("d1-get", "get", "p50"), "%.0f"),
        (1, "get p99 µs", zb("d1-get", "get", "p99"), "%.0f"),
        (1, "set p50 µs", zb("d1-set", "set", "p50"), "%.0f"),
        (1, "set p99 µs", zb("d1-set", "set", "p99"), "%.0f"),
        (1, "create p50 µs", zb("d1-create", "create", "p50"), "%.0f"),
        (1, "create p99 µs", zb("d1-create", "create", "p99"), "%.0f"),
        (2, "get ops/s (16 x 32, 10k x 100 B)", zb("sat-get", "get", "ops_per_sec"), "%.0f"),
        (2, "get p99 µs", zb("sat-get", "get", "p99"), "%.0f"),
        (3, "set ops/s (fsync on)", zb("sat-set", "set", "ops_per_sec"), "%.0f"),
        (3, "set p99 µs", zb("sat-set", "set", "p99"), "%.0f"),
        (4, "create ops/s (fsync on)", zb("sat-create", "create", "ops_per_sec"), "%.0f"),
        (4, "create p99 µs", zb("sat-create", "create", "p99"), "%.0f"),
        (5, "mix 90/10 ops/s", zb("sat-mix", "mix", "ops_per_sec"), "%.0f"),
        (5, "mix p99 µs", zb("sat-mix", "mix", "p99"), "%.0f"),
        (6, "open loop %s ops/s: p99 µs" % rate, zb("open-mix", "mix", "p99"), "%.0f"),
        (6, "open loop p99.9 µs", zb("open-mix", "mix", "p999"), "%.0f"),
        (6, "open loop achieved ops/s", zb("open-mix", "mix", "ops_per_sec"), "%.0f"),
        (6, "  same rate, reads only: p99.9 µs", zb("open-reads", "mix", "p999"), "%.0f"),
        (6, "  log fsyncs over 5 ms during the run", val("slow_fsyncs"), "%.0f", False),
        (6, "  zkbench's own longest oversleep µs", zb("open-mix", "mix", "oversleep_max_us"),
         "%.0f", False),
        (6, "  machine alone just before: implied p99.9 µs", machine("implied_p999_us"),
         "%.0f", False),
        (6, "  machine alone: pauses > 5 ms", machine("over_5ms"), "%.0f", False),
        (6, "  machine alone: longest pause µs", machine("max_us"), "%.0f", False),
        (7, "RSS idle MiB", val("rss_idle_kib", 1 / 1024), "%.1f"),
        (7, "RSS with %s znodes x 100 B MiB" % big, val("rss_big_kib", 1 / 1024), "%.1f"),
        (7, "  (populate %s creates/s)" % big, zb("populate-big", "populate", "ops_per_sec"),
         "%.0f"),
        (7, "  (RSS after restart MiB)", val("rss_restarted_kib", 1 / 1024), "%.1f"),
        (8, "restart to serving s (%s znodes)" % big, val("restart_s"), "%.2f"),
        (9, "snapshot: longest depth-1 pause while written ms",
         us_to_ms(during_snapshots("snap-probe", "get")), "%.1f"),
        (9, "  longest over the whole window ms", us_to_ms(zb("snap-probe", "get", "max")),
         "%.1f"),
        (9, "  probe p99.9 ms (%s get/s; load %s set/s)" % (meta.get("probe_rate", "?"), snap),
         us_to_ms(zb("snap-probe", "get", "p999")), "%.2f"),
        (9, "  snapshots written in window", val("snapshots_in_window"), "%.0f"),
        (9, "  slowest probe at s of the window", zb("snap-probe", "get", "max_at_s"), "%.1f"),
        (9, "  first snapshot created at s", val("snapshot_created_at_s"), "%.1f"),
        (9, "  first snapshot last written at s", val("snapshot_last_written_at_s"), "%.1f"),
        (9, "  zkd log: fork paused the loop ms", val("zkd_fork_pause_ms"), "%.1f"),
        (10, "%s idle sessions: connect all s" % idle, val("idle_connect_s"), "%.2f"),
        (10, "  RSS per session KiB", val("idle_rss_per_session_kib"), "%.2f"),
        (10, "  CPU while idle % of a core", val("idle_cpu_pct"), "%.2f"),
    ]


def fmt(v, f):
    if v is None:
        return "-"
    return f % v


def main():
    raw, out, rows_arg = sys.argv[1], sys.argv[2], sys.argv[3]
    meta = dict(a.split("=", 1) for a in sys.argv[4:])
    rows = {int(x) for x in rows_arg.split(",") if x.strip()}
    recs = []
    with open(raw) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    table = []
    for spec in table_spec(meta):
        row, label, get, f = spec[:4]
        with_ratio = spec[4] if len(spec) > 4 else True
        if row not in rows:
            continue
        entry = {"row": row, "metric": label}
        for s in SERVERS:
            v = get(recs, s)
            entry[s] = v
            if v is None and err(recs, row, s):
                entry[s + "_error"] = err(recs, row, s)
        z, k = entry["zookeeper"], entry["zkd"]
        entry["ratio"] = k / z if with_ratio and z not in (None, 0) and k is not None else None
        entry["fmt"] = f
        table.append(entry)

    w = max([len(e["metric"]) for e in table] + [10])
    head = "%-4s %-*s %14s %14s %12s" % ("row", w, "metric", "ZooKeeper", "zkd", "zkd/ZK")
    print(head)
    print("-" * len(head))
    for e in table:
        zs = fmt(e["zookeeper"], e["fmt"]) if "zookeeper_error" not in e else "FAIL"
        ks = fmt(e["zkd"], e["fmt"]) if "zkd_error" not in e else "FAIL"
        r = "-" if e["ratio"] is None else ("%.3f" % e["ratio"] if e["ratio"] < 10 else
                                             "%.1f" % e["ratio"])
        print("%-4s %-*s %14s %14s %12s" % (e["row"], w, e["metric"], zs, ks, r))
    print("ratio = zkd / ZooKeeper: above 1 favours zkd for ops/s; below 1 favours zkd for "
          "latency, memory, CPU and time.")
    if 6 in rows:
        print("row 6 'machine alone': zkbench --pause-probe (one spinning thread per CPU, every "
              "server stopped) just before each server's run: the pauses the machine itself "
              "imposed, and the p99.9 those pauses alone would give an open loop (an estimate, "
              "not a bound: zkbench --help).")
    errors = [r for r in recs if "error" in r]
    for r in errors:
        print("FAILED: row %s %s %s: %s" % (r["row"], r["server"], r["name"], r["error"]))
    for e in table:
        del e["fmt"]
    with open(out, "w") as f:
        json.dump({"meta": meta, "rows": sorted(rows), "table": table, "records": recs}, f,
                  indent=1)
        f.write("\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
