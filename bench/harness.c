// harness.c -- see harness.h.

#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------------
// Histogram

static unsigned
hist_index(uint64_t v)
{
	unsigned msb;
	unsigned shift;
	unsigned idx;

	if (v < 2 * HIST_SUB) {
		return ((unsigned) v);
	}
	msb   = 63u - (unsigned) __builtin_clzll(v);
	shift = msb - 6u; // keeps 7 significant bits
	idx   = (shift + 1u) * HIST_SUB + (unsigned) ((v >> shift) & (HIST_SUB - 1));
	return (idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1);
}

// The middle of bucket idx.
static uint64_t
hist_value(unsigned idx)
{
	unsigned shift;
	uint64_t lo;

	if (idx < 2 * HIST_SUB) {
		return (idx);
	}
	shift = idx / HIST_SUB - 1u;
	lo    = (uint64_t) (idx % HIST_SUB + HIST_SUB) << shift;
	return (lo + ((1ull << shift) >> 1));
}

void
hist_add(hist *h, uint64_t ns)
{
	h->b[hist_index(ns)]++;
	h->count++;
	if (ns > h->max) {
		h->max = ns;
	}
}

void
hist_merge(hist *into, const hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		into->b[i] += from->b[i];
	}
	into->count += from->count;
	if (from->max > into->max) {
		into->max = from->max;
	}
}

uint64_t
hist_pct(const hist *h, double pct)
{
	uint64_t want;
	uint64_t seen = 0;

	if (h->count == 0) {
		return (0);
	}
	want = (uint64_t) ((double) h->count * pct / 100.0 + 0.5);
	if (want < 1) {
		want = 1;
	}
	if (want > h->count) {
		want = h->count;
	}
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return (v > h->max ? h->max : v);
		}
	}
	return (h->max);
}

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec);
}

void
wresult_error(wresult *r, const char *fmt, ...)
{
	va_list ap;

	r->errors++;
	if (r->err[0] != '\0') {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

// ---------------------------------------------------------------------
// Client processes

struct hw_ctx {
	int  ready_w;
	int  start_r;
	int  result_w;
	int  exit_r;
	bool readied;
	bool done;
};

static void
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return;
		}
		p += n;
		len -= (size_t) n;
	}
}

// Blocks until the other end of fd is closed (the parent's signal).
static void
wait_eof(int fd)
{
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return;
		}
	}
}

void
hw_ready(hw_ctx *hw)
{
	char c = 'r';

	if (hw->readied) {
		return;
	}
	hw->readied = true;
	write_all(hw->ready_w, &c, 1);
	close(hw->ready_w);
	wait_eof(hw->start_r);
}

void
hw_done(hw_ctx *hw, const wresult *r)
{
	if (hw->done) {
		return;
	}
	hw_ready(hw);
	hw->done = true;
	write_all(hw->result_w, r, sizeof(*r));
	close(hw->result_w);
	wait_eof(hw->exit_r);
}

static int
ms_left(uint64_t deadline)
{
	uint64_t now = now_ns();

	if (now >= deadline) {
		return (0);
	}
	return ((int) ((deadline - now) / 1000000u) + 1);
}

// Reads exactly len bytes from fd before the deadline; 0 or -1.
static int
read_full(int fd, void *buf, size_t len, uint64_t deadline)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int           ms  = ms_left(deadline);
		ssize_t       n;

		int           pr;

		if (ms == 0) {
			return (-1);
		}
		if ((pr = poll(&pfd, 1, ms)) < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			return (-1);
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (-1);
		}
		p += n;
		len -= (size_t) n;
	}
	return (0);
}

int
hw_run_clients(const hw_run *run, wresult *total)
{
	int       n = run->nclients;
	int       ready_p[2], start_p[2], exit_p[2];
	int      *res_r;
	pid_t    *pids;
	wresult  *r;
	uint64_t  deadline = now_ns() + (uint64_t) run->timeout_s * 1000000000ull;
	int       nready   = 0;
	int       alive;

	memset(total, 0, sizeof(*total));
	res_r = calloc((size_t) n, sizeof(*res_r));
	pids  = calloc((size_t) n, sizeof(*pids));
	r     = calloc(1, sizeof(*r));
	if (res_r == NULL || pids == NULL || r == NULL || pipe(ready_p) != 0) {
		free(res_r), free(pids), free(r);
		return (-1);
	}
	if (pipe(start_p) != 0 || pipe(exit_p) != 0) {
		return (-1);
	}
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		int rp[2];

		res_r[i] = -1;
		if (pipe(rp) != 0) {
			wresult_error(total, "pipe: %s", strerror(errno));
			break;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			wresult_error(total, "fork: %s", strerror(errno));
			close(rp[0]), close(rp[1]);
			break;
		}
		if (pids[i] == 0) {
			hw_ctx hw = { .ready_w = ready_p[1], .start_r = start_p[0],
				.result_w = rp[1], .exit_r = exit_p[0] };
			for (int j = 0; j < i; j++) {
				close(res_r[j]);
			}
			close(rp[0]), close(ready_p[0]), close(start_p[1]);
			close(exit_p[1]);
			alarm((unsigned) run->timeout_s + 5u); // last resort bound
			memset(r, 0, sizeof(*r));
			(void) run->worker(&hw, i, run->arg, r);
			hw_done(&hw, r);
			_exit(r->errors > 0 ? 1 : 0);
		}
		close(rp[1]);
		res_r[i] = rp[0];
	}
	close(ready_p[1]), close(start_p[0]), close(exit_p[0]);

	// Everyone connected (or gone), or the deadline.
	while (nready < n) {
		struct pollfd pfd = { .fd = ready_p[0], .events = POLLIN };
		char          buf[256];
		int           ms = ms_left(deadline);
		ssize_t       k;

		if (ms == 0) {
			break;
		}
		if (poll(&pfd, 1, ms) <= 0) {
			continue;
		}
		if ((k = read(ready_p[0], buf, sizeof(buf))) <= 0) {
			break; // every client closed its end
		}
		nready += (int) k;
	}
	close(ready_p[0]);
	if (nready < n) {
		wresult_error(total, "only %d of %d clients got ready in time", nready, n);
	}
	if (run->on_ready != NULL) {
		run->on_ready(run->hook_arg);
	}
	close(start_p[1]); // go

	for (int i = 0; i < n; i++) {
		if (res_r[i] < 0) {
			wresult_error(total, "client %d never started", i);
			continue;
		}
		if (read_full(res_r[i], r, sizeof(*r), deadline) != 0) {
			wresult_error(total, "client %d sent no result (died or timed out)", i);
			close(res_r[i]);
			continue;
		}
		close(res_r[i]);
		if (r->err[0] != '\0' && total->err[0] == '\0') {
			snprintf(total->err, sizeof(total->err), "client %d: %.180s", i, r->err);
		}
		total->ops += r->ops;
		total->errors += r->errors;
		if (r->t0 != 0 && (total->t0 == 0 || r->t0 < total->t0)) {
			total->t0 = r->t0;
		}
		if (r->t1 > total->t1) {
			total->t1 = r->t1;
		}
		hist_merge(&total->h, &r->h);
	}
	if (run->on_done != NULL) {
		run->on_done(run->hook_arg);
	}
	close(exit_p[1]); // disconnect and exit

	// Reap, bounded: 10 s past the deadline at most, then SIGKILL.
	deadline += 10000000000ull;
	do {
		alive = 0;
		for (int i = 0; i < n; i++) {
			int st;
			if (pids[i] <= 0) {
				continue;
			}
			pid_t w = waitpid(pids[i], &st, WNOHANG);
			if (w == 0) {
				alive++;
				continue;
			}
			if (w == pids[i] && !(WIFEXITED(st) && WEXITSTATUS(st) <= 1)) {
				wresult_error(total, "client %d died (status 0x%x)", i, st);
			}
			pids[i] = 0;
		}
		if (alive > 0) {
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
	} while (alive > 0 && now_ns() < deadline);
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			wresult_error(total, "client %d killed: did not exit", i);
		}
	}
	free(res_r), free(pids), free(r);
	return (0);
}

long
proc_rss_kb(pid_t pid, long *hwm_kb)
{
	char  path[64];
	char  line[256];
	FILE *f;
	long  rss = -1;

	if (hwm_kb != NULL) {
		*hwm_kb = -1;
	}
	if (pid <= 0) {
		return (-1);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			rss = strtol(line + 6, NULL, 10);
		} else if (hwm_kb != NULL && strncmp(line, "VmHWM:", 6) == 0) {
			*hwm_kb = strtol(line + 6, NULL, 10);
		}
	}
	fclose(f);
	return (rss);
}

// ---------------------------------------------------------------------
// Output

static bool out_first;

void
out_begin(out_fmt f)
{
	out_first = true;
	if (f == OUT_CSV) {
		printf("peer,workload,mode,clients,inflight,payload,prefill,ops,"
		       "errors,seconds,ops_per_s,p50_us,p99_us,p999_us,rss_kb,"
		       "bytes_per_item,note\n");
	} else if (f == OUT_JSON) {
		printf("[");
	}
	fflush(stdout);
}

void
row_from_result(row *out, const wresult *t)
{
	out->ops     = t->ops;
	out->errors  = t->errors;
	out->seconds = t->t1 > t->t0 ? (double) (t->t1 - t->t0) / 1e9 : 0.0;
	out->ops_per_s = out->seconds > 0 ? (double) t->ops / out->seconds : 0.0;
	out->p50_us  = (double) hist_pct(&t->h, 50.0) / 1000.0;
	out->p99_us  = (double) hist_pct(&t->h, 99.0) / 1000.0;
	out->p999_us = (double) hist_pct(&t->h, 99.9) / 1000.0;
}

void
out_row(out_fmt f, const row *r)
{
	const char *note = r->note != NULL ? r->note : "";
	const char *mode = r->mode != NULL ? r->mode : "";

	switch (f) {
	case OUT_CSV:
		printf("%s,%s,%s,%d,%d,%d,%lld,%" PRIu64 ",%" PRIu64
		       ",%.3f,%.0f,%.1f,%.1f,%.1f,%ld,%.1f,\"",
		    r->peer, r->workload, mode, r->clients, r->inflight,
		    r->payload, r->prefill, r->ops, r->errors, r->seconds,
		    r->ops_per_s, r->p50_us, r->p99_us, r->p999_us, r->rss_kb,
		    r->bytes_per_item);
		for (const char *p = note; *p != '\0'; p++) {
			if (*p == '"') {
				putchar('"');
			}
			putchar(*p == '\n' ? ' ' : *p);
		}
		printf("\"\n");
		break;
	case OUT_JSON:
		printf("%s\n  {\"peer\": \"%s\", \"workload\": \"%s\", \"mode\": \"%s\", "
		       "\"clients\": %d, \"inflight\": %d, \"payload\": %d, "
		       "\"prefill\": %lld, \"ops\": %" PRIu64 ", \"errors\": %" PRIu64
		       ", \"seconds\": %.3f, \"ops_per_s\": %.0f, \"p50_us\": %.1f, "
		       "\"p99_us\": %.1f, \"p999_us\": %.1f, \"rss_kb\": %ld, "
		       "\"bytes_per_item\": %.1f, \"note\": \"",
		    out_first ? "" : ",", r->peer, r->workload, mode, r->clients,
		    r->inflight, r->payload, r->prefill, r->ops, r->errors,
		    r->seconds, r->ops_per_s, r->p50_us, r->p99_us, r->p999_us,
		    r->rss_kb, r->bytes_per_item);
		for (const char *p = note; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\') {
				putchar('\\');
			}
			putchar((unsigned char) *p < 0x20 ? ' ' : *p);
		}
		printf("\"}");
		break;
	case OUT_TEXT:
		if (r->bytes_per_item >= 0) {
			printf("%-9s %-9s memory: %lld items of %d bytes: %.1f bytes "
			       "of RSS per item (RSS %.1f MiB)%s%s\n",
			    r->peer, r->workload, r->prefill, r->payload,
			    r->bytes_per_item, (double) r->rss_kb / 1024.0,
			    note[0] ? "  " : "", note);
			break;
		}
		printf("%-9s %-9s c=%-3d P=%-3d d=%-4d prefill=%-7lld %9.0f ops/s  "
		       "p50 %7.1f us  p99 %7.1f us  p99.9 %8.1f us  rss %6.1f MiB"
		       "  errors %" PRIu64 "%s%s\n",
		    r->peer, r->workload, r->clients, r->inflight, r->payload,
		    r->prefill, r->ops_per_s, r->p50_us, r->p99_us, r->p999_us,
		    r->rss_kb >= 0 ? (double) r->rss_kb / 1024.0 : -1.0,
		    r->errors, note[0] ? "  " : "", note);
		break;
	}
	out_first = false;
	fflush(stdout);
}

void
out_end(out_fmt f)
{
	if (f == OUT_JSON) {
		printf("\n]\n");
	}
	fflush(stdout);
}

long long
parse_ll(const char *opt, const char *s, long long lo, long long hi)
{
	char     *end;
	long long v;

	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "%s: '%s' is not a number from %lld to %lld\n",
		    opt, s, lo, hi);
		exit(2);
	}
	return (v);
}

void
hw_rss_ready(void *arg)
{
	hw_rss *h    = arg;
	h->before_kb = proc_rss_kb(h->pid, NULL);
}

void
hw_rss_done(void *arg)
{
	hw_rss *h   = arg;
	h->after_kb = proc_rss_kb(h->pid, NULL);
}
