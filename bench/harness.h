// harness.h -- what every C benchmark client in bench/ shares: a latency
// histogram, the client-process harness and the output formats.
//
// The harness never touches nng (or hiredis): it forks the client
// processes, so the parent can fork again for the next workload, and each
// child is a fresh process that may connect on its own (nng aborts in a
// child forked after its parent used nng).
//
// A run:  the parent forks N children; each connects, calls hw_ready()
// (which reports "connected" and blocks until every child is connected),
// does its bounded work, and calls hw_done() (which sends its result and
// blocks until the parent has read every result and the target's RSS).
// Only then do the children disconnect and exit.

#ifndef MPB_BENCH_HARNESS_H
#define MPB_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Latency histogram in nanoseconds: exact below 128 ns, then 64 buckets
// per power of two (at most 1.6% error), up to about 2^40 ns (18 min).
#define HIST_SUB 64
#define HIST_BUCKETS (HIST_SUB * 36)

typedef struct hist {
	uint64_t b[HIST_BUCKETS];
	uint64_t count;
	uint64_t max;
} hist;

void     hist_add(hist *h, uint64_t ns);
void     hist_merge(hist *into, const hist *from);
uint64_t hist_pct(const hist *h, double pct); // ns; 0 if empty

uint64_t now_ns(void); // CLOCK_MONOTONIC, comparable across processes

// What one client process reports.
typedef struct wresult {
	uint64_t ops;    // requests that succeeded
	uint64_t errors; // requests that failed (or checks that did)
	uint64_t t0;     // now_ns() when its work started
	uint64_t t1;     // ... and ended
	char     err[200]; // the first error, or ""
	hist     h;
} wresult;

void wresult_error(wresult *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct hw_ctx hw_ctx;

// Called by a client process: it is connected (or failed to connect, with
// r->errors set); blocks until all are and the parent says go.
void hw_ready(hw_ctx *hw);
// Called by a client process after its work: sends r to the parent and
// blocks until the parent has read all results.
void hw_done(hw_ctx *hw, const wresult *r);

typedef int (*hw_worker_fn)(hw_ctx *hw, int idx, void *arg, wresult *r);

typedef struct hw_run {
	int          nclients;
	int          timeout_s; // the whole run, from the first fork
	hw_worker_fn worker;
	void        *arg;
	// Parent-side hooks: all clients connected (before go), and all
	// results in (before the clients disconnect).  May be NULL.
	void (*on_ready)(void *hook_arg);
	void (*on_done)(void *hook_arg);
	void  *hook_arg;
} hw_run;

// Runs one measurement.  On return *total holds the sum of every
// client's result (t0 the earliest start, t1 the latest end); errors
// include clients that died, timed out or reported nothing.  Returns 0,
// or -1 if the harness itself failed (fork, pipes).
int hw_run_clients(const hw_run *run, wresult *total);

// Resident set size of pid (VmRSS) and its peak (VmHWM) in KiB; -1 if
// unknown.
long proc_rss_kb(pid_t pid, long *hwm_kb);

// Broker (or Redis) RSS around a run: pass hw_rss_ready/hw_rss_done as
// hw_run's on_ready/on_done with a hw_rss as hook_arg.
typedef struct hw_rss {
	pid_t pid;
	long  before_kb; // all clients connected, before go
	long  after_kb;  // all results in, clients still connected
} hw_rss;
void hw_rss_ready(void *arg);
void hw_rss_done(void *arg);

// Output: one row per measurement, the same columns from every tool in
// bench/, so compare.sh can put them side by side.
typedef enum out_fmt { OUT_TEXT, OUT_CSV, OUT_JSON } out_fmt;

typedef struct row {
	const char *peer;     // "mpbroker", "nng-echo", "redis", ...
	const char *workload; // "fifo", ...
	const char *mode;     // "" or e.g. "memory"
	int         clients;
	int         inflight; // per client
	int         payload;
	long long   prefill;
	uint64_t    ops;
	uint64_t    errors;
	double      seconds;
	double      ops_per_s;
	double      p50_us;
	double      p99_us;
	double      p999_us;
	long        rss_kb;        // target's RSS after the run, -1 unknown
	double      bytes_per_item; // memory mode, else < 0
	const char *note;
} row;

void out_begin(out_fmt f);
void out_row(out_fmt f, const row *r);
void out_end(out_fmt f);
void row_from_result(row *out, const wresult *total);

// Options shared by the C tools.
long long parse_ll(const char *opt, const char *s, long long lo, long long hi);

#endif // MPB_BENCH_HARNESS_H
