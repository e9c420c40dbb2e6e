#!/usr/bin/env python3
"""compare_table.py RESULTS.csv -- the table bench/compare.sh prints.

RESULTS.csv has the columns of mpb-bench --csv with a first column "mode"
("pinned", "free", ...) and optionally "test" ("matrix", "async", "batch",
"many", "standing", "memory").  Prints, per mode, one row per workload and client
configuration with each peer's ops/s and mpbroker's ratio to each, then
the extra tests and the issue's targets, each marked met or MISSED.
"""

import csv
import sys

PEERS = ("mpbroker", "nng-echo", "redis", "py-manager")
SHORT = {"mpbroker": "mpb", "nng-echo": "echo", "redis": "redis", "py-manager": "py"}


# The workloads of issue 6's -P 64 >= Redis target.
TARGET_P64 = ("fifo", "priority", "dict")


def num(v, default=0.0):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def key(r):
    return (r["mode"], r["workload"], int(r["clients"]), int(r["inflight"]))


def main():
    rows = load(sys.argv[1])
    matrix = [r for r in rows if r.get("test", "matrix") == "matrix"]
    out = []
    modes = []
    for r in matrix:
        if r["mode"] not in modes:
            modes.append(r["mode"])
    by = {}
    for r in matrix:
        by.setdefault(key(r), {})[r["peer"]] = r
    targets = []

    for mode in modes:
        desc = {"pinned": "every process pinned to CPU 0 (taskset -c 0)",
                "free": "no pinning"}.get(mode, mode)
        out.append("")
        out.append("== %s: %s ==" % (mode, desc))
        out.append("%-9s %4s %4s | %9s %15s | %9s %9s %9s | %8s %9s %7s | %s" % (
            "workload", "c", "P", "mpb ops/s", "mpb p50/p99 us", "echo",
            "redis", "py-mgr", "mpb/echo", "mpb/redis", "mpb/py", "errors"))
        ks = sorted((k for k in by if k[0] == mode),
                    key=lambda k: (k[2] * k[3], k[2], k[1] != "fifo", k[1]))
        for k in ks:
            peers = by[k]
            m = peers.get("mpbroker")
            ops = {p: num(peers[p]["ops_per_s"]) if p in peers else None for p in PEERS}

            def ratio(p):
                if m is None or not ops.get(p):
                    return "-"
                return "%.2fx" % (ops["mpbroker"] / ops[p])

            def cell(p):
                return "%9.0f" % ops[p] if ops[p] is not None else "%9s" % "-"
            errs = ",".join("%s:%s" % (SHORT[p], peers[p]["errors"]) for p in PEERS
                            if p in peers and int(num(peers[p]["errors"])) != 0) or "0"
            lat = ("%6.0f/%-7.0f" % (num(m["p50_us"]), num(m["p99_us"]))) if m else "-"
            out.append("%-9s %4d %4d | %s %15s | %s %s %s | %8s %9s %7s | %s" % (
                k[1], k[2], k[3], cell("mpbroker"), lat, cell("nng-echo"),
                cell("redis"), cell("py-manager"), ratio("nng-echo"),
                ratio("redis"), ratio("py-manager"), errs))

    def get(mode, wl, c, p, peer):
        r = by.get((mode, wl, c, p), {}).get(peer)
        return num(r["ops_per_s"]) if r else None

    # Target 1: synchronous put+get, 1 and 8 clients, >= 0.9x the echo floor.
    for mode in modes:
        for c in (1, 8):
            parts, ok = [], True
            for wl in ("fifo", "lifo", "priority"):
                a, b = get(mode, wl, c, 1, "mpbroker"), get(mode, wl, c, 1, "nng-echo")
                if a is None or not b:
                    continue
                parts.append("%s %.2fx" % (wl, a / b))
                ok = ok and a / b >= 0.9
            if parts:
                targets.append((ok, "sync put+get, %d client(s), %s: >= 0.9x nng echo floor: %s"
                                % (c, mode, ", ".join(parts))))
    # Target 2: -P 64 at least Redis for fifo, priority and dict (1 and 8
    # clients).
    for mode in modes:
        for c in (1, 8):
            parts, ok = [], True
            for wl in TARGET_P64:
                a, b = get(mode, wl, c, 64, "mpbroker"), get(mode, wl, c, 64, "redis")
                if a is None or not b:
                    continue
                parts.append("%s %.0f vs %.0f ops/s = %.2fx" % (wl, a, b, a / b))
                ok = ok and a >= b
            if parts:
                targets.append((ok, "-P 64 threads (%d client(s)), %s: >= Redis: %s"
                                % (c, mode, "; ".join(parts))))
    # Target 3: >= 3x Python Manager with >= 8 in flight.
    for mode in modes:
        parts, ok = [], True
        for k in sorted(k for k in by if k[0] == mode and k[2] * k[3] >= 8):
            a, b = get(*k, "mpbroker"), get(*k, "py-manager")
            if a is None or not b:
                continue
            parts.append("%s c%d P%d %.2fx" % (k[1], k[2], k[3], a / b))
            ok = ok and a / b >= 3
        if parts:
            targets.append((ok, ">= 3x Python Manager with >= 8 in flight, %s: %s"
                            % (mode, ", ".join(parts))))

    # Asynchronous calls (peer "mpbroker-async"): one handle per client,
    # P calls in flight, beside the peers at the same clients x P, and the
    # thread-based mpbroker row there.
    asy = [r for r in rows if r.get("test") == "async"]
    if asy:
        out.append("")
        out.append("== async: mpbroker, one handle per client with P calls in flight "
                   "(mpb_async_*); peers and mpbroker threads at the same c x P ==")
        out.append("%-7s %-9s %3s %3s | %9s %15s | %9s %9s %9s %9s | %9s %9s %7s | %s" % (
            "mode", "workload", "c", "P", "async", "p50/p99 us", "mpb thr", "echo",
            "redis", "py-mgr", "vs thr", "mpb/redis", "mpb/py", "errors"))
        for r in asy:
            a = num(r["ops_per_s"])
            c, p = int(r["clients"]), int(r["inflight"])
            peer = {q: get(r["mode"], r["workload"], c, p, q) for q in PEERS}

            def vs(q):
                return "%.2fx" % (a / peer[q]) if peer[q] else "-"

            def cell(q):
                return "%9.0f" % peer[q] if peer[q] else "%9s" % "-"
            out.append("%-7s %-9s %3d %3d | %9.0f %6.0f/%-8.0f | %s %s %s %s | %9s %9s %7s | %s"
                       % (r["mode"], r["workload"], c, p, a, num(r["p50_us"]),
                          num(r["p99_us"]), cell("mpbroker"), cell("nng-echo"), cell("redis"),
                          cell("py-manager"), vs("mpbroker"), vs("redis"), vs("py-manager"),
                          r["errors"]))
            errs = int(num(r["errors"]))
            if p == 64 and r["workload"] in TARGET_P64 and peer["redis"]:
                targets.append((a >= peer["redis"] and errs == 0,
                                "mpbroker-async -P 64 (%d client(s)), %s, %s: >= Redis -P 64: "
                                "%.0f vs %.0f ops/s = %.2fx" % (c, r["mode"], r["workload"], a,
                                                                peer["redis"], a / peer["redis"])))
            if c * p >= 8 and peer["py-manager"]:
                targets.append((a >= 3 * peer["py-manager"] and errs == 0,
                                "mpbroker-async c%d P%d, %s, %s: >= 3x Python Manager: %.2fx"
                                % (c, p, r["mode"], r["workload"], a / peer["py-manager"])))

    # Batches: B requests per frame (peer "mpbroker-B<B>"), beside the
    # same number of clients x 64 in flight of the same mode.
    batch = [r for r in rows if r.get("test") == "batch"]
    if batch:
        out.append("")
        out.append("== batches: mpbroker, requests per frame as named; "
                   "peers at the same clients x 64 in flight ==")
        out.append("%-7s %-9s %3s %-13s | %9s %15s | %9s %9s %9s | %9s %7s | %s" % (
            "mode", "workload", "c", "peer", "ops/s", "p50/p99 us/frm", "echo P64",
            "redis P64", "py P64", "mpb/redis", "mpb/py", "errors"))
        for r in batch:
            a = num(r["ops_per_s"])
            c = int(r["clients"])
            peer = {p: get(r["mode"], r["workload"], c, 64, p) for p in PEERS}

            def vs(p):
                return "%.2fx" % (a / peer[p]) if peer[p] else "-"

            def cell(p):
                return "%9.0f" % peer[p] if peer[p] else "%9s" % "-"
            out.append("%-7s %-9s %3d %-13s | %9.0f %6.0f/%-8.0f | %s %s %s | %9s %7s | %s" % (
                r["mode"], r["workload"], c, r["peer"], a, num(r["p50_us"]), num(r["p99_us"]),
                cell("nng-echo"), cell("redis"), cell("py-manager"), vs("redis"),
                vs("py-manager"), r["errors"]))
            if r["workload"] in TARGET_P64 and peer["redis"]:
                targets.append((a >= peer["redis"] and int(num(r["errors"])) == 0,
                                "%s (%d client(s)), %s, %s: >= Redis -P 64: %.0f vs %.0f ops/s "
                                "= %.2fx" % (r["peer"], c, r["mode"], r["workload"], a,
                                             peer["redis"], a / peer["redis"])))

    # 256 clients.
    many = [r for r in rows if r.get("test") == "many"]
    if many:
        out.append("")
        out.append("== many clients (fifo put+get, mpbroker) ==")
        for r in many:
            ref = get(r["mode"], "fifo", 8, 1, "mpbroker")
            a = num(r["ops_per_s"])
            out.append("%-7s c=%-4s %8.0f ops/s  p50 %.0f us  p99 %.0f us  p99.9 %.0f us"
                       "  errors %s  (8 clients: %s ops/s)%s" % (
                           r["mode"], r["clients"], a, num(r["p50_us"]), num(r["p99_us"]),
                           num(r["p999_us"]), r["errors"], "%.0f" % ref if ref else "-",
                           "  " + r["note"] if r["note"] else ""))
            ok = int(num(r["errors"])) == 0 and ref is not None and a >= ref
            targets.append((ok, "%s clients at once, %s: no errors (%s) and >= the 8-client "
                            "figure: %.0f vs %s ops/s" % (r["clients"], r["mode"], r["errors"], a,
                                                          "%.0f" % ref if ref else "-")))

    # Standing depth.
    stand = [r for r in rows if r.get("test") == "standing"]
    if stand:
        out.append("")
        out.append("== standing depth: priority put+get with N items queued ==")
        for r in stand:
            out.append("%-10s %-7s c=%-3s P=%-3s prefill=%-8s %8.0f ops/s  p50 %.0f us  "
                       "p99 %.0f us  errors %s" % (
                           r["peer"], r["mode"], r["clients"], r["inflight"], r["prefill"],
                           num(r["ops_per_s"]), num(r["p50_us"]), num(r["p99_us"]),
                           r["errors"]))
        for peer in ("mpbroker", "redis"):
            pr = sorted((int(r["prefill"]), num(r["ops_per_s"]), r["mode"]) for r in stand
                        if r["peer"] == peer)
            if len(pr) >= 2 and pr[-1][1] > 0:
                slow = pr[0][1] / pr[-1][1]
                line = ("%s: priority put+get with %d standing takes %.2fx the time of "
                        "%d standing" % (peer, pr[-1][0], slow, pr[0][0]))
                if peer == "mpbroker":
                    targets.append((slow <= 2.0, line + " (target <= 2x)"))
                else:
                    out.append("  " + line)

    # Memory.
    mem = [r for r in rows if r.get("test") == "memory"]
    if mem:
        out.append("")
        out.append("== memory: RSS per queued item beyond the empty server ==")
        for r in mem:
            out.append("%-10s %-9s %s items of %s bytes: %6.1f bytes/item   (%s)" % (
                r["peer"], r["workload"], r["prefill"], r["payload"],
                num(r["bytes_per_item"], -1), r["note"]))
            if r["peer"] == "mpbroker":
                lim = 64 if r["workload"] == "priority" else 28
                targets.append((num(r["bytes_per_item"], 1e9) <= lim and
                                int(num(r["errors"])) == 0,
                                "RSS per item, %s: %.1f bytes (target <= %d)" % (
                                    r["workload"], num(r["bytes_per_item"], -1), lim)))

    if targets:
        out.append("")
        out.append("== issue 6 targets (ratios within this one run) ==")
        for ok, text in targets:
            out.append("%-6s %s" % ("met" if ok else "MISSED", text))
    print("\n".join(out))


if __name__ == "__main__":
    main()
