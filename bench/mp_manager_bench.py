#!/usr/bin/env python3
"""mp_manager_bench.py -- the workloads of mpb-bench on Python's
multiprocessing.Manager, the thing mpbroker rebuilds in C.

  fifo      Manager().Queue()          put + get
  lifo      a registered queue.LifoQueue     put + get
  priority  a registered queue.PriorityQueue put((random priority, seq, item)) + get
  dict      Manager().dict()           d[k] = item + d[k] (1000 keys per thread)
  incr      Manager().dict()           d["counter"] += 1, which is a get and a
                                       set (two round trips, counted as one
                                       request; not atomic: the Manager has no
                                       atomic increment)
  list      Manager().list()           append(item) + pop()

-c client processes (forked before any proxy is used), each with -P
threads; a Manager proxy keeps one connection per thread, so -P N is N
requests in flight per process, as in mpb-bench.  Items are -d bytes.
Prints the same columns as the C tools (--csv, --json or text).
Exit status 0 if every request succeeded and every count checked out.
"""

import argparse
import json
import multiprocessing as mp
import os
import queue
import random
import sys
import threading
import time
from multiprocessing.managers import SyncManager


class BenchManager(SyncManager):
    pass


BenchManager.register("LifoQueue", queue.LifoQueue)
BenchManager.register("PriorityQueue", queue.PriorityQueue)

QUEUES = ("fifo", "lifo", "priority")
WORKLOADS = QUEUES + ("dict", "incr", "list")

COLUMNS = ("peer,workload,mode,clients,inflight,payload,prefill,ops,errors,"
           "seconds,ops_per_s,p50_us,p99_us,p999_us,rss_kb,bytes_per_item,note")


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def client(idx, q, kind, nthreads, pairs, payload, ready, start, results,
           deadline):
    """One client process: nthreads threads, each doing put+get pairs."""
    lat = []
    errors = [0]
    first_err = [""]
    lock = threading.Lock()
    barrier = threading.Barrier(nthreads + 1)
    item = b"x" * payload

    def run(k, n):
        rnd = random.Random(os.getpid() * 1000 + k)
        mine = []
        errs = 0
        err = ""
        try:
            # opens this thread's connection before the clock
            q.qsize() if kind in QUEUES else len(q)
        except Exception as e:  # noqa: BLE001 - report anything
            errs, err = 1, repr(e)
        barrier.wait()
        for i in range(n):
            if errs >= 100 or time.monotonic() > deadline:
                if not err:
                    err = "time limit reached"
                    errs += 1
                break
            try:
                if kind == "incr":
                    t = time.perf_counter_ns()
                    q["counter"] = q.get("counter", 0) + 1
                    mine.append(time.perf_counter_ns() - t)
                    continue
                t = time.perf_counter_ns()
                if kind == "dict":
                    key = "k%d:%d:%d" % (idx, k, i % 1000)
                    q[key] = item
                elif kind == "list":
                    q.append(item)
                else:
                    q.put((rnd.randrange(2**31), (idx, k, i), item)
                          if kind == "priority" else item)
                t2 = time.perf_counter_ns()
                if kind == "dict":
                    got = q[key]
                elif kind == "list":
                    got = q.pop()
                else:
                    got = q.get(True, 5)
                t3 = time.perf_counter_ns()
                mine.append(t2 - t)
                mine.append(t3 - t2)
                if kind == "priority":
                    got = got[2]
                if len(got) != payload:
                    errs += 1
                    err = err or "wrong item size"
            except Exception as e:  # noqa: BLE001
                errs += 1
                err = err or repr(e)
        with lock:
            lat.extend(mine)
            errors[0] += errs
            if err and not first_err[0]:
                first_err[0] = err

    share = [pairs // nthreads + (1 if k < pairs % nthreads else 0)
             for k in range(nthreads)]
    ts = [threading.Thread(target=run, args=(k, share[k])) for k in range(nthreads)]
    for t in ts:
        t.start()
    ready.release()
    start.wait()
    t0 = time.monotonic()
    barrier.wait()
    for t in ts:
        t.join()
    t1 = time.monotonic()
    results.put((idx, t0, t1, lat, errors[0], first_err[0]))


def pct(sorted_ns, p):
    if not sorted_ns:
        return 0.0
    i = min(len(sorted_ns) - 1, max(0, int(round(len(sorted_ns) * p / 100.0)) - 1))
    return sorted_ns[i] / 1000.0


def run_workload(mgr, kind, args):
    q = {"fifo": mgr.Queue, "lifo": mgr.LifoQueue,
         "priority": mgr.PriorityQueue, "dict": mgr.dict, "incr": mgr.dict,
         "list": mgr.list}[kind]()
    item = b"x" * args.data_size
    for i in range(args.prefill):
        if kind in ("dict", "incr"):
            q["prefill:%d" % i] = item
        elif kind == "list":
            q.append(item)
        else:
            q.put((random.randrange(2**31), (-1, 0, i), item)
                  if kind == "priority" else item)
    ctx = mp.get_context("fork")
    ready = ctx.Semaphore(0)
    start = ctx.Event()
    results = ctx.Queue()
    # Steps: put+get pairs, but single increments for incr.
    pairs = args.requests if kind == "incr" else (args.requests + 1) // 2
    deadline = time.monotonic() + args.timeout
    procs = []
    for idx in range(args.clients):
        share = pairs // args.clients + (1 if idx < pairs % args.clients else 0)
        p = ctx.Process(target=client,
                        args=(idx, q, kind, args.pipeline, share, args.data_size,
                              ready, start, results, deadline))
        p.start()
        procs.append(p)
    errors = 0
    note = ""
    for _ in procs:
        if not ready.acquire(timeout=max(1.0, deadline - time.monotonic())):
            errors += 1
            note = "a client did not get ready in time"
            break
    start.set()
    lat = []
    t0s, t1s = [], []
    got = 0
    while got < len(procs):
        try:
            idx, t0, t1, l, e, err = results.get(timeout=max(1.0, deadline + 30 - time.monotonic()))
        except queue.Empty:
            errors += len(procs) - got
            note = note or "a client sent no result"
            break
        got += 1
        t0s.append(t0)
        t1s.append(t1)
        lat.extend(l)
        errors += e
        if err and not note:
            note = "client %d: %s" % (idx, err)
    rss = rss_kb(mgr._process.pid)
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join()
            errors += 1
        elif p.exitcode != 0:
            errors += 1
            note = note or "a client exited with %s" % p.exitcode
    left = len(q) if kind == "list" else q.qsize() if kind in QUEUES else args.prefill
    if left != args.prefill:
        errors += 1
        note = note or "queue holds %d items after the run, expected %d" % (left, args.prefill)
    secs = (max(t1s) - min(t0s)) if t0s else 0.0
    lat.sort()
    ops = len(lat)
    return {
        "peer": args.label, "workload": kind, "mode": "", "clients": args.clients,
        "inflight": args.pipeline, "payload": args.data_size,
        "prefill": args.prefill, "ops": ops, "errors": errors,
        "seconds": round(secs, 3), "ops_per_s": round(ops / secs) if secs > 0 else 0,
        "p50_us": round(pct(lat, 50), 1), "p99_us": round(pct(lat, 99), 1),
        "p999_us": round(pct(lat, 99.9), 1), "rss_kb": rss, "bytes_per_item": -1.0,
        "note": note,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--clients", type=int, default=1)
    ap.add_argument("-n", "--requests", type=int, default=20000,
                    help="requests, all clients together (put + get = 2)")
    ap.add_argument("-d", "--data-size", type=int, default=16)
    ap.add_argument("-P", "--pipeline", type=int, default=1,
                    help="requests in flight per client (threads)")
    ap.add_argument("--prefill", type=int, default=0)
    ap.add_argument("-t", "--tests", default=",".join(WORKLOADS))
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--label", default="py-manager")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true")
    fmt.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not (1 <= args.clients <= 4096 and 1 <= args.pipeline <= 1024
            and args.requests >= 1 and args.data_size >= 1):
        ap.error("out of range")

    rows = []
    errors = 0
    if args.csv:
        print(COLUMNS, flush=True)
    with BenchManager() as mgr:
        for kind in args.tests.split(","):
            if kind not in WORKLOADS:
                ap.error("no workload %r" % kind)
            r = run_workload(mgr, kind, args)
            errors += r["errors"]
            rows.append(r)
            if args.csv:
                vals = [str(r[k]) for k in COLUMNS.split(",")[:-1]]
                print(",".join(vals) + ',"%s"' % r["note"].replace('"', '""'), flush=True)
            elif not args.json:
                print("%-10s %-9s c=%-3d P=%-3d d=%-4d prefill=%-7d %9d ops/s  p50 %7.1f us"
                      "  p99 %7.1f us  p99.9 %8.1f us  rss %6.1f MiB  errors %d%s" % (
                          r["peer"], kind, args.clients, args.pipeline, args.data_size,
                          args.prefill, r["ops_per_s"], r["p50_us"], r["p99_us"],
                          r["p999_us"], r["rss_kb"] / 1024.0, r["errors"],
                          "  " + r["note"] if r["note"] else ""), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    if errors:
        print("mp_manager_bench: %d request(s) or check(s) failed" % errors, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
