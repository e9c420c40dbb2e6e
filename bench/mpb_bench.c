// mpb_bench.c -- mpb-bench: load generator and benchmark for mpbroker, in
// the spirit of redis-benchmark.
//
// Each workload runs in real client processes (-c), each with -P requests
// in flight.  -P N is realised as N threads per client process sharing
// one mpb_client handle (the library is thread-safe; every call runs on
// its own nng context).  Each thread runs its share of -n synchronously.
// -B N sends the same requests N to a frame through libmpb's batches
// (mpb_batch_*): each thread then has one batch of N requests in flight.
// -A (async) uses no threads: each client process submits through libmpb's
// asynchronous calls (mpb_async_*) on its one handle, up to -P in flight
// (mpb_async_set_limit), latency from submission to callback.
//
// --target echo sends the same request frames, through the same client
// path as libmpb (req0, resend off, one nng context per call in flight),
// to mpb-echo-server: that is the transport floor a broker cannot beat.
//
// The parent process never uses nng: it forks every client (and every
// set-up and check step) as a fresh process, so no child is a fork of a
// process that used nng (nng aborts there).
//
// Exit status: 0 if every request succeeded and every count checked out,
// 1 if any failed (so it doubles as a load check), 2 on bad usage.

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <mpb.h>

#include "harness.h"

#define MAX_SPAWN_ARGS 32
#define MAX_VALUE (1 << 20)

typedef enum target { T_MPB, T_ECHO } target;

typedef struct workload workload;

typedef struct bcfg {
	target          tgt;
	const char     *url;
	int             clients;
	int             inflight;
	int             batch; // requests per batch frame; 0: no batches
	bool            async; // -A: mpb_async_* on one handle, -P in flight
	int             payload;
	long long       nreq;
	long long       prefill;
	long long       memory_items;
	int             timeout_s;
	out_fmt         fmt;
	bool            quiet;
	const char     *label;
	pid_t           broker_pid;
	const char     *spawn_path;
	const char     *spawn_args[MAX_SPAWN_ARGS];
	int             nspawn_args;
	const char     *broker_log;
	unsigned char  *value; // one msgpack object of exactly payload bytes
	size_t          vlen;
	// Per workload:
	const workload *wl;
	char            name[64];
	long long       units;       // steps (or fills) to share out
	int             threads;     // per client process
	uint64_t        deadline_ns; // no thread starts a step after this
	bool            fill;        // run wl->fill instead of wl->step
	bool            setup_only;  // set-up child: create (and prefill)
	bool            verify_only; // check child: count and tear down
} bcfg;

typedef struct thr {
	const bcfg         *cfg;
	mpb_client        *c;       // T_MPB
	nng_socket         sock;    // T_ECHO
	nng_ctx            ctx;
	nng_aio           *aio;
#ifdef MPB_BENCH_BATCH
	mpb_batch         *batch; // -B
#endif
	long long          units;
	long long          gidx; // thread number among all clients' threads
	uint64_t           seq;
	uint64_t           rng;
	pthread_barrier_t *bar;
	wresult            r;
} thr;

// A workload is one row here.  step is one unit of the benchmark (which
// may be several requests: put+get is two), fill adds one standing item
// (for --prefill and --memory), count reads how many stand.  echo_step
// sends the same request frames to the echo server, or is NULL.
struct workload {
	const char *name;
	const char *what;
	int         qkind; // mpb_queue_kind, or -1 for other objects
	int         reqs;  // requests per step
	mpb_err (*setup)(mpb_client *c, const bcfg *cfg);
	int (*step)(thr *t);
	int (*fill)(thr *t);
	mpb_err (*count)(mpb_client *c, const bcfg *cfg, uint64_t *np);
	mpb_err (*teardown)(mpb_client *c, const bcfg *cfg);
	int (*echo_step)(thr *t);
#ifdef MPB_BENCH_BATCH
	// Adds the requests of one step to a batch (-B), or NULL.
	mpb_err (*batch_add)(thr *t, mpb_batch *b);
#endif
};

static uint64_t
rng_next(uint64_t *s)
{
	// splitmix64
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z          = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

static int64_t
rand_prio(thr *t)
{
	return ((int64_t) (rng_next(&t->rng) & 0x7fffffff));
}

// Records one request's latency and outcome.
static int
account(thr *t, uint64_t start, mpb_err rv, const char *what)
{
	hist_add(&t->r.h, now_ns() - start);
	if (rv != MPB_OK) {
		const char *txt = mpb_last_error_text();
		wresult_error(&t->r, "%s: %s%s%s", what, mpb_strerror(rv),
		    txt[0] ? ": " : "", txt);
		return (-1);
	}
	t->r.ops++;
	return (0);
}

// ---------------------------------------------------------------------
// Queue workloads (fifo, lifo, priority): put then get, so the queue's
// depth stays at its prefill and a get never finds it empty.

static mpb_err
obj_fresh(mpb_client *c, const bcfg *cfg)
{
	mpb_err rv = mpb_object_delete(c, cfg->name);

	return (rv == MPB_ENOENT ? MPB_OK : rv);
}

static mpb_err
obj_teardown(mpb_client *c, const bcfg *cfg)
{
	return (mpb_object_delete(c, cfg->name));
}

static mpb_err
q_setup(mpb_client *c, const bcfg *cfg)
{
	mpb_err rv = obj_fresh(c, cfg);

	if (rv != MPB_OK) {
		return (rv);
	}
	return (mpb_queue_create(c, cfg->name, (mpb_queue_kind) cfg->wl->qkind, 0, NULL));
}

static int
q_fill(thr *t)
{
	uint64_t s  = now_ns();
	mpb_err  rv = mpb_queue_put(
            t->c, t->cfg->name, t->cfg->value, t->cfg->vlen, rand_prio(t), 0);

	return (account(t, s, rv, "put"));
}

static int
q_step(thr *t)
{
	void    *v;
	size_t   len;
	uint64_t s;
	mpb_err  rv;

	if (q_fill(t) != 0) {
		return (-1);
	}
	s  = now_ns();
	rv = mpb_queue_get(t->c, t->cfg->name, 0, &v, &len, NULL);
	if (account(t, s, rv, "get") != 0) {
		return (-1);
	}
	if (len != t->cfg->vlen) {
		wresult_error(&t->r, "get returned %zu bytes, expected %zu", len, t->cfg->vlen);
	}
	mpb_free(v);
	return (0);
}

static mpb_err
q_count(mpb_client *c, const bcfg *cfg, uint64_t *np)
{
	return (mpb_queue_qsize(c, cfg->name, np));
}

#ifdef MPB_BENCH_BATCH
// A step of q_step in a batch: inside it the put runs before the get, so
// the get finds an item as in q_step.
static mpb_err
q_batch_add(thr *t, mpb_batch *b)
{
	mpb_err rv = mpb_batch_queue_put(
	    b, t->cfg->name, t->cfg->value, t->cfg->vlen, rand_prio(t));

	return (rv != MPB_OK ? rv : mpb_batch_queue_get(b, t->cfg->name));
}
#endif

#ifdef MPB_BENCH_DICT_LIST
// ---------------------------------------------------------------------
// Dicts and lists (built when mpb.h has them).

// A msgpack str key unique to this thread and counter: "k<thread>:<n>".
static size_t
dict_key(thr *t, char *buf, size_t cap, uint64_t n)
{
	int len = snprintf(buf + 1, cap - 1, "k%lld:%llu", t->gidx, (unsigned long long) n);

	buf[0] = (char) (0xa0 | len); // fixstr: len < 32
	return ((size_t) len + 1);
}

static mpb_err
dict_setup(mpb_client *c, const bcfg *cfg)
{
	mpb_err rv = obj_fresh(c, cfg);

	return (rv != MPB_OK ? rv : mpb_dict_create(c, cfg->name, NULL));
}

static int
dict_fill(thr *t)
{
	char     k[32];
	size_t   kl = dict_key(t, k, sizeof(k), t->seq++);
	uint64_t s  = now_ns();
	mpb_err  rv = mpb_dict_set(t->c, t->cfg->name, k, kl, t->cfg->value, t->cfg->vlen);

	return (account(t, s, rv, "dict set"));
}

// set then get of one of 1000 keys per thread: the dict stays at most
// prefill + 1000 per thread keys big.
static int
dict_step(thr *t)
{
	char     k[32];
	size_t   kl = dict_key(t, k, sizeof(k), t->seq++ % 1000 + (1ull << 40));
	void    *v;
	size_t   len;
	uint64_t s = now_ns();
	mpb_err  rv = mpb_dict_set(t->c, t->cfg->name, k, kl, t->cfg->value, t->cfg->vlen);

	if (account(t, s, rv, "dict set") != 0) {
		return (-1);
	}
	s  = now_ns();
	rv = mpb_dict_get(t->c, t->cfg->name, k, kl, &v, &len);
	if (account(t, s, rv, "dict get") != 0) {
		return (-1);
	}
	if (len != t->cfg->vlen) {
		wresult_error(&t->r, "dict get returned %zu bytes, expected %zu", len, t->cfg->vlen);
	}
	mpb_free(v);
	return (0);
}

// Every thread increments the same counter (contention, as Redis INCR).
static int
incr_step(thr *t)
{
	uint64_t s  = now_ns();
	mpb_err  rv = mpb_dict_incr_str(t->c, t->cfg->name, "counter", 1, NULL);

	return (account(t, s, rv, "dict incr"));
}

static mpb_err
list_setup(mpb_client *c, const bcfg *cfg)
{
	mpb_err rv = obj_fresh(c, cfg);

	return (rv != MPB_OK ? rv : mpb_list_create(c, cfg->name, NULL));
}

static int
list_fill(thr *t)
{
	uint64_t s  = now_ns();
	mpb_err  rv = mpb_list_append(t->c, t->cfg->name, t->cfg->value, t->cfg->vlen);

	return (account(t, s, rv, "list append"));
}

static int
list_step(thr *t)
{
	void    *v;
	size_t   len;
	uint64_t s;
	mpb_err  rv;

	if (list_fill(t) != 0) {
		return (-1);
	}
	s  = now_ns();
	rv = mpb_list_pop(t->c, t->cfg->name, -1, &v, &len);
	if (account(t, s, rv, "list pop") != 0) {
		return (-1);
	}
	if (len != t->cfg->vlen) {
		wresult_error(&t->r, "list pop returned %zu bytes, expected %zu", len, t->cfg->vlen);
	}
	mpb_free(v);
	return (0);
}

static mpb_err
list_count(mpb_client *c, const bcfg *cfg, uint64_t *np)
{
	return (mpb_list_len(c, cfg->name, np));
}

#ifdef MPB_BENCH_BATCH
// The steps above, for batches.
static mpb_err
dict_batch_add(thr *t, mpb_batch *b)
{
	char    k[32];
	size_t  kl = dict_key(t, k, sizeof(k), t->seq++ % 1000 + (1ull << 40));
	mpb_err rv = mpb_batch_dict_set(
	    b, t->cfg->name, k, kl, t->cfg->value, t->cfg->vlen);

	return (rv != MPB_OK ? rv : mpb_batch_dict_get(b, t->cfg->name, k, kl));
}

static mpb_err
incr_batch_add(thr *t, mpb_batch *b)
{
	static const char key[] = "\xa7" "counter"; // msgpack str "counter"

	return (mpb_batch_dict_incr(b, t->cfg->name, key, sizeof(key) - 1, 1));
}

static mpb_err
list_batch_add(thr *t, mpb_batch *b)
{
	mpb_err rv = mpb_batch_list_append(
	    b, t->cfg->name, t->cfg->value, t->cfg->vlen);

	return (rv != MPB_OK ? rv : mpb_batch_list_pop(b, t->cfg->name, -1));
}
#endif
#endif // MPB_BENCH_DICT_LIST

#ifdef MPB_BENCH_BATCH
// ---------------------------------------------------------------------
// Batches (-B): the requests of n steps in one frame, one round trip.
// Latency is per frame; every request counts in ops/s.

static int
batch_step(thr *t, long long n)
{
	const workload *wl = t->cfg->wl;
	mpb_batch      *b  = t->batch;
	const void     *v;
	size_t          len;
	uint64_t        s;
	mpb_err         rv = MPB_OK;

	mpb_batch_clear(b);
	for (long long k = 0; k < n && rv == MPB_OK; k++) {
		rv = wl->batch_add(t, b);
	}
	s = now_ns();
	if (rv == MPB_OK) {
		rv = mpb_batch_run(t->c, b);
	}
	if (account(t, s, rv, "batch") != 0) {
		return (-1);
	}
	t->r.ops--; // account counted the frame; the requests count below
	for (size_t i = 0; i < mpb_batch_len(b); i++) {
		if ((rv = mpb_batch_status(b, i)) != MPB_OK) {
			wresult_error(&t->r, "request %zu of a batch: %s", i,
			    mpb_strerror(rv));
			continue;
		}
		t->r.ops++;
		// Two-request steps end in a read of the value just stored.
		if (wl->reqs == 2 && i % 2 == 1 &&
		    (mpb_batch_value(b, i, &v, &len) != MPB_OK || len != t->cfg->vlen)) {
			wresult_error(&t->r, "request %zu of a batch did not "
			    "return the %zu-byte value", i, t->cfg->vlen);
		}
	}
	return (0);
}

// Runs a thread's units n steps to a frame (-B / requests per step).
static void
batch_loop(thr *t)
{
	const bcfg *c   = t->cfg;
	long long   per = c->batch / c->wl->reqs > 0 ? c->batch / c->wl->reqs : 1;

	for (long long i = 0; i < t->units; i += per) {
		if (now_ns() > c->deadline_ns) {
			wresult_error(&t->r, "time limit (--timeout) reached");
			break;
		}
		(void) batch_step(t, t->units - i < per ? t->units - i : per);
		if (t->r.errors >= 100) {
			break; // it will not get better
		}
	}
}
#endif // MPB_BENCH_BATCH

#ifdef MPB_BENCH_ASYNC
// ---------------------------------------------------------------------
// Asynchronous calls (-A): one handle per client process, one submitting
// thread, up to -P calls in flight.  Queue workloads only: the requests
// alternate put, get, put, get, ... and, since calls in flight may run in
// any order, the queue holds -P extra items per client from the set-up
// on (async_standing): a get then always finds an item (gets submitted <=
// puts submitted, and at most P - 1 of those puts are still in flight), so
// an EEMPTY is an error, as in the synchronous mode.

typedef struct aslot {
	struct actx *a;
	uint64_t     start; // now_ns() just before the submission
	bool         get;
	int          next; // free list
} aslot;

typedef struct actx {
	const bcfg     *cfg;
	pthread_mutex_t mu; // guards everything below, and r
	pthread_cond_t  cv; // a slot became free
	int             inflight;
	int             freeh;
	aslot          *slots; // -P of them
	wresult        *r;
} actx;

// Runs on an nng thread: records and frees the slot, never blocks long.
static void
async_done(void *arg, mpb_err err, const void *value, size_t len)
{
	aslot      *s   = arg;
	actx       *a   = s->a;
	uint64_t    el  = now_ns() - s->start;
	const char *txt = err != MPB_OK ? mpb_last_error_text() : "";

	(void) value;
	pthread_mutex_lock(&a->mu);
	hist_add(&a->r->h, el);
	if (err != MPB_OK) {
		wresult_error(a->r, "async %s: %s%s%s", s->get ? "get" : "put/set/incr",
		    mpb_strerror(err), txt[0] ? ": " : "", txt);
	} else {
		a->r->ops++;
		if (s->get && len != a->cfg->vlen) {
			wresult_error(a->r, "async get returned %zu bytes, expected %zu",
			    len, a->cfg->vlen);
		}
	}
	s->next  = a->freeh;
	a->freeh = (int) (s - a->slots);
	a->inflight--;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static long long
async_standing(const bcfg *c)
{
	return (c->async && c->wl->qkind >= 0 ? (long long) c->clients * c->inflight : 0);
}

// async_submit sends request i of the run: queues alternate put and get
// (timeout 0); dict alternates set and get of one of the thread's 1000
// keys, all set before the run (async_prepare), so a get finds its key
// whichever way calls in flight are ordered; incr increments the one
// shared counter.
static mpb_err
async_submit(thr *t, aslot *s, long long i)
{
	const bcfg *c = t->cfg;

	if (c->wl->qkind >= 0) {
		return (s->get ? mpb_async_queue_get(t->c, c->name, 0, async_done, s)
		               : mpb_async_queue_put(t->c, c->name, c->value,
		                     c->vlen, rand_prio(t), 0, async_done, s));
	}
#ifdef MPB_BENCH_DICT_LIST
	if (strcmp(c->wl->name, "dict") == 0) {
		char   k[32];
		size_t kl = dict_key(t, k, sizeof(k), (uint64_t) (i / 2) % 1000 + (1ull << 40));

		return (s->get ? mpb_async_dict_get(t->c, c->name, k, kl, async_done, s)
		               : mpb_async_dict_set(t->c, c->name, k, kl, c->value,
		                     c->vlen, async_done, s));
	}
	if (strcmp(c->wl->name, "incr") == 0) {
		static const char key[] = "\xa7" "counter"; // msgpack str

		return (mpb_async_dict_incr(
		    t->c, c->name, key, sizeof(key) - 1, 1, async_done, s));
	}
#endif
	return (MPB_ENOTSUP);
}

// async_supported: the workloads -A has calls for.
static bool
async_supported(const workload *wl)
{
	return (wl->qkind >= 0 || strcmp(wl->name, "dict") == 0 ||
	    strcmp(wl->name, "incr") == 0);
}

// async_prepare sets the thread's dict keys before the timed run.
static mpb_err
async_prepare(thr *t)
{
	mpb_err rv = MPB_OK;

#ifdef MPB_BENCH_DICT_LIST
	if (strcmp(t->cfg->wl->name, "dict") == 0) {
		for (uint64_t n = 0; n < 1000 && rv == MPB_OK; n++) {
			char   k[32];
			size_t kl = dict_key(t, k, sizeof(k), n + (1ull << 40));

			rv = mpb_dict_set(t->c, t->cfg->name, k, kl, t->cfg->value, t->cfg->vlen);
		}
	}
#else
	(void) t;
#endif
	return (rv);
}

// Submits t->units steps (wl->reqs requests each) on t->c, at most -P in
// flight, and waits for every callback.  a lives until after mpb_close.
static void
async_run(thr *t, actx *a)
{
	const bcfg        *c   = t->cfg;
	int                P   = c->inflight;
	long long          n   = t->units * c->wl->reqs;
	pthread_condattr_t ca;
	mpb_err            rv;
	int64_t            wait_ms;

	a->cfg   = c;
	a->r     = &t->r;
	a->slots = calloc((size_t) P, sizeof(*a->slots));
	if (a->slots == NULL) {
		wresult_error(&t->r, "out of memory");
		return;
	}
	for (int i = 0; i < P; i++) {
		a->slots[i].a    = a;
		a->slots[i].next = i + 1 < P ? i + 1 : -1;
	}
	a->freeh = 0;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); // now_ns's clock
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = mpb_async_set_limit(t->c, (size_t) P)) != MPB_OK) {
		wresult_error(&t->r, "mpb_async_set_limit: %s", mpb_strerror(rv));
		return;
	}
	for (long long i = 0; i < n; i++) {
		aslot *s;
		bool   stop = false;

		pthread_mutex_lock(&a->mu);
		while (a->inflight >= P) {
			// Every call completes within its own timeouts; the
			// deadline plus 10 s bounds this wait anyway.
			uint64_t        d  = c->deadline_ns + 10000000000ull;
			struct timespec ts = { (time_t) (d / 1000000000ull),
				(long) (d % 1000000000ull) };
			if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT) {
				break;
			}
		}
		if (a->inflight >= P) {
			wresult_error(&t->r, "time limit (--timeout) reached with %d "
			    "calls in flight", a->inflight);
			stop = true;
		} else if ((i & 7) == 0 && now_ns() > c->deadline_ns) {
			wresult_error(&t->r, "time limit (--timeout) reached");
			stop = true;
		} else if (t->r.errors >= 100) {
			stop = true; // it will not get better
		}
		if (stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		s        = &a->slots[a->freeh];
		a->freeh = s->next;
		a->inflight++;
		pthread_mutex_unlock(&a->mu);

		s->get   = c->wl->reqs == 2 && (i & 1) == 1;
		s->start = now_ns();
		rv       = async_submit(t, s, i);
		if (rv != MPB_OK) { // not sent: no callback
			const char *txt = mpb_last_error_text();
			pthread_mutex_lock(&a->mu);
			wresult_error(&t->r, "async %s not sent: %s%s%s",
			    s->get ? "get" : "put", mpb_strerror(rv),
			    txt[0] ? ": " : "", txt);
			s->next  = a->freeh;
			a->freeh = (int) (s - a->slots);
			a->inflight--;
			pthread_mutex_unlock(&a->mu);
		}
	}
	wait_ms = ((int64_t) c->deadline_ns - (int64_t) now_ns()) / 1000000 + 10000;
	if ((rv = mpb_async_wait(t->c, (int) (wait_ms < 1000 ? 1000 : wait_ms))) != MPB_OK) {
		pthread_mutex_lock(&a->mu);
		wresult_error(&t->r, "mpb_async_wait: %s (%d calls in flight)",
		    mpb_strerror(rv), a->inflight);
		pthread_mutex_unlock(&a->mu);
	}
}
#else
static long long
async_standing(const bcfg *c)
{
	(void) c;
	return (0);
}
#endif // MPB_BENCH_ASYNC

// ---------------------------------------------------------------------
// The echo target: libmpb's request frames, libmpb's way of sending them.

static int
msg_write(void *data, const char *buf, size_t len)
{
	return (nng_msg_append((nng_msg *) data, buf, len) == 0 ? 0 : -1);
}

static int
echo_call(thr *t, nng_msg *req, const char *what)
{
	uint64_t s   = now_ns();
	size_t   len = nng_msg_len(req);
	nng_msg *rep;
	int      rv;

	nng_aio_set_msg(t->aio, req);
	nng_aio_set_timeout(t->aio, 5000);
	nng_ctx_send(t->ctx, t->aio);
	nng_aio_wait(t->aio);
	if ((rv = nng_aio_result(t->aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(t->aio));
		hist_add(&t->r.h, now_ns() - s);
		wresult_error(&t->r, "%s send: %s", what, nng_strerror(rv));
		return (-1);
	}
	nng_aio_set_timeout(t->aio, 5000);
	nng_ctx_recv(t->ctx, t->aio);
	nng_aio_wait(t->aio);
	hist_add(&t->r.h, now_ns() - s);
	if ((rv = nng_aio_result(t->aio)) != 0) {
		wresult_error(&t->r, "%s recv: %s", what, nng_strerror(rv));
		return (-1);
	}
	rep = nng_aio_get_msg(t->aio);
	if (nng_msg_len(rep) != len) {
		wresult_error(&t->r, "%s: echo of %zu bytes came back as %zu",
		    what, len, nng_msg_len(rep));
	}
	nng_msg_free(rep);
	t->r.ops++;
	return (0);
}

static int
echo_q_step(thr *t)
{
	const bcfg     *cfg = t->cfg;
	nng_msg       *m;
	msgpack_packer pk;

	// [11, name, value, priority, timeout_ms]
	if (nng_msg_alloc(&m, 0) != 0) {
		wresult_error(&t->r, "out of memory");
		return (-1);
	}
	msgpack_packer_init(&pk, m, msg_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint64(&pk, 11);
	msgpack_pack_str_with_body(&pk, cfg->name, strlen(cfg->name));
	nng_msg_append(m, cfg->value, cfg->vlen);
	msgpack_pack_int64(&pk, rand_prio(t));
	msgpack_pack_uint64(&pk, 0);
	if (echo_call(t, m, "put") != 0) {
		return (-1);
	}
	// [12, name, timeout_ms]
	if (nng_msg_alloc(&m, 0) != 0) {
		wresult_error(&t->r, "out of memory");
		return (-1);
	}
	msgpack_packer_init(&pk, m, msg_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, 12);
	msgpack_pack_str_with_body(&pk, cfg->name, strlen(cfg->name));
	msgpack_pack_uint64(&pk, 0);
	return (echo_call(t, m, "get"));
}

// ---------------------------------------------------------------------
// The workload table.  Dicts and lists (issue 6: dict set+get, dict incr,
// list append+pop) are one row each once mpb_dict_* / mpb_list_* exist.

#ifdef MPB_BENCH_BATCH
#define BATCH_ADD(fn) fn
#else
#define BATCH_ADD(fn)
#endif

static const workload workloads[] = {
	{ "fifo", "fifo queue: put + get", MPB_QUEUE_FIFO, 2, q_setup, q_step,
	    q_fill, q_count, obj_teardown, echo_q_step, BATCH_ADD(q_batch_add) },
	{ "lifo", "lifo queue: put + get", MPB_QUEUE_LIFO, 2, q_setup, q_step,
	    q_fill, q_count, obj_teardown, echo_q_step, BATCH_ADD(q_batch_add) },
	{ "priority", "priority queue: put (random priority) + get",
	    MPB_QUEUE_PRIORITY, 2, q_setup, q_step, q_fill, q_count,
	    obj_teardown, echo_q_step, BATCH_ADD(q_batch_add) },
#ifdef MPB_BENCH_DICT_LIST
	{ "dict", "dict: set + get (1000 keys per thread)", -1, 2, dict_setup,
	    dict_step, dict_fill, NULL, obj_teardown, NULL,
	    BATCH_ADD(dict_batch_add) },
	{ "incr", "dict: incr of one shared counter", -1, 1, dict_setup,
	    incr_step, dict_fill, NULL, obj_teardown, NULL,
	    BATCH_ADD(incr_batch_add) },
	{ "list", "list: append + pop", -1, 2, list_setup, list_step,
	    list_fill, list_count, obj_teardown, NULL,
	    BATCH_ADD(list_batch_add) },
#endif
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static const workload *
workload_find(const char *name)
{
	for (size_t i = 0; i < NWORKLOADS; i++) {
		if (strcmp(workloads[i].name, name) == 0) {
			return (&workloads[i]);
		}
	}
	return (NULL);
}

// ---------------------------------------------------------------------
// Client processes

static void *
thread_main(void *arg)
{
	thr      *t  = arg;
	const bcfg *c = t->cfg;
	int (*fn)(thr *);

	if (c->tgt == T_ECHO) {
		fn = c->wl->echo_step;
	} else {
		fn = c->fill ? c->wl->fill : c->wl->step;
	}
	pthread_barrier_wait(t->bar);
#ifdef MPB_BENCH_BATCH
	if (t->batch != NULL) {
		batch_loop(t);
		return (NULL);
	}
#endif
	for (long long i = 0; i < t->units; i++) {
		if ((i & 7) == 0 && now_ns() > c->deadline_ns) {
			wresult_error(&t->r, "time limit (--timeout) reached");
			break;
		}
		(void) fn(t);
		if (t->r.errors >= 100) {
			break; // it will not get better
		}
	}
	return (NULL);
}

static int
echo_open(const bcfg *c, nng_socket *sp, wresult *r)
{
	int rv;

	if ((rv = nng_req0_open(sp)) != 0 ||
	    (rv = nng_socket_set_ms(*sp, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_ms(*sp, NNG_OPT_SENDTIMEO, 5000)) != 0 ||
	    (rv = nng_socket_set_ms(*sp, NNG_OPT_RECVTIMEO, 5000)) != 0 ||
	    (rv = nng_dial(*sp, c->url, NULL, 0)) != 0) {
		wresult_error(r, "echo server at %s: %s", c->url, nng_strerror(rv));
		return (-1);
	}
	return (0);
}

// One client process: connect, start -P threads on the handle, report.
static int
client_main(hw_ctx *hw, int idx, void *arg, wresult *r)
{
	bcfg               *c   = arg;
	mpb_client        *cl  = NULL;
	nng_socket         sock = NNG_SOCKET_INITIALIZER;
	int                nt  = c->threads;
	long long          tot = (long long) c->clients * nt;
	thr               *ts;
	pthread_t         *tids;
	pthread_barrier_t  bar;
	mpb_err            rv;
	int                started = 0;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (c->tgt == T_MPB) {
		if ((rv = mpb_connect(c->url, 5000, &cl)) != MPB_OK) {
			wresult_error(r, "connect %s: %s", c->url, mpb_strerror(rv));
			return (-1);
		}
	} else if (echo_open(c, &sock, r) != 0) {
		return (-1);
	}

	if (c->setup_only || c->verify_only) {
		// The set-up / check step: one process, no threads of its own
		// but the prefill's.
		uint64_t n;
		if (c->verify_only) {
			if (c->wl->count == NULL) {
				// no standing count to check (dicts)
			} else if ((rv = c->wl->count(cl, c, &n)) != MPB_OK) {
				wresult_error(r, "count: %s", mpb_strerror(rv));
			} else if ((long long) n != c->prefill) {
				wresult_error(r, "%s holds %llu items after the run, "
				    "expected %lld", c->name, (unsigned long long) n,
				    c->prefill);
			}
			if ((rv = c->wl->teardown(cl, c)) != MPB_OK) {
				wresult_error(r, "delete: %s", mpb_strerror(rv));
			}
			hw_done(hw, r);
			mpb_close(cl);
			return (0);
		}
		if ((rv = c->wl->setup(cl, c)) != MPB_OK) {
			wresult_error(r, "create %s: %s", c->name, mpb_strerror(rv));
			hw_done(hw, r);
			mpb_close(cl);
			return (0);
		}
		if (c->units == 0) {
			hw_done(hw, r);
			mpb_close(cl);
			return (0);
		}
		// Fall through: prefill with this process's threads.
	}

#ifdef MPB_BENCH_ASYNC
	if (c->async && c->tgt == T_MPB && !c->fill && !c->setup_only) {
		// -A: no threads; this one submits, nng's threads call back.
		actx *a = calloc(1, sizeof(*a));
		thr  *t = calloc(1, sizeof(*t));

		if (a == NULL || t == NULL) {
			wresult_error(r, "out of memory");
			hw_ready(hw);
			hw_done(hw, r);
			mpb_close(cl);
			return (0);
		}
		t->cfg   = c;
		t->c     = cl;
		t->units = c->units / c->clients + (idx < c->units % c->clients ? 1 : 0);
		t->gidx  = idx;
		t->rng   = now_ns() ^ ((uint64_t) getpid() << 20);
		if ((rv = async_prepare(t)) != MPB_OK) {
			wresult_error(r, "set-up of the dict keys: %s", mpb_strerror(rv));
		}
		hw_ready(hw);
		r->t0 = now_ns();
		async_run(t, a);
		r->t1 = now_ns();
		pthread_mutex_lock(&a->mu); // a late callback (wait timed out)
		r->ops    = t->r.ops;
		r->errors = t->r.errors;
		memcpy(r->err, t->r.err, sizeof(r->err));
		hist_merge(&r->h, &t->r.h);
		pthread_mutex_unlock(&a->mu);
		hw_done(hw, r);
		mpb_close(cl); // fails and waits for any call still in flight
		free(a->slots);
		free(a);
		free(t);
		return (0);
	}
#endif

	ts   = calloc((size_t) nt, sizeof(*ts));
	tids = calloc((size_t) nt, sizeof(*tids));
	if (ts == NULL || tids == NULL) {
		wresult_error(r, "out of memory");
		return (-1);
	}
	pthread_barrier_init(&bar, NULL, (unsigned) nt + 1);
	for (int k = 0; k < nt; k++) {
		long long g = (long long) idx * nt + k;
		thr      *t = &ts[k];

		t->cfg   = c;
		t->c     = cl;
		t->sock  = sock;
		t->bar   = &bar;
		t->units = c->units / tot + (g < c->units % tot ? 1 : 0);
		t->gidx  = c->setup_only ? -1 - k : g;
		t->rng   = now_ns() ^ ((uint64_t) getpid() << 20) ^ (uint64_t) k;
#ifdef MPB_BENCH_BATCH
		// Only the timed run batches; set-up and checks do not.
		if (c->batch > 0 && !c->fill && c->tgt == T_MPB &&
		    c->wl->batch_add != NULL &&
		    (t->batch = mpb_batch_new()) == NULL) {
			wresult_error(r, "out of memory");
			t->units = 0;
		}
#endif
		if (c->tgt == T_ECHO) {
			int e;
			if ((e = nng_aio_alloc(&t->aio, NULL, NULL)) != 0 ||
			    (e = nng_ctx_open(&t->ctx, sock)) != 0 ||
			    (e = nng_ctx_set_ms(t->ctx, NNG_OPT_REQ_RESENDTIME,
			         NNG_DURATION_INFINITE)) != 0) {
				wresult_error(r, "nng context: %s", nng_strerror(e));
				t->units = 0;
			}
		}
	}
	for (; started < nt; started++) {
		if (pthread_create(&tids[started], NULL, thread_main, &ts[started]) != 0) {
			wresult_error(r, "pthread_create failed after %d threads", started);
			break;
		}
	}
	if (started < nt) {
		// The barrier counts nt+1: let the rest through with no work.
		for (int k = 0; k < started; k++) {
			ts[k].units = 0;
		}
		for (int k = started; k < nt; k++) {
			pthread_barrier_wait(&bar);
		}
	}
	hw_ready(hw);
	r->t0 = now_ns();
	pthread_barrier_wait(&bar);
	for (int k = 0; k < started; k++) {
		pthread_join(tids[k], NULL);
	}
	r->t1 = now_ns();
	for (int k = 0; k < nt; k++) {
		r->ops += ts[k].r.ops;
		if (ts[k].r.err[0] != '\0' && r->err[0] == '\0') {
			memcpy(r->err, ts[k].r.err, sizeof(r->err));
		}
		r->errors += ts[k].r.errors;
		hist_merge(&r->h, &ts[k].r.h);
		if (c->tgt == T_ECHO && ts[k].aio != NULL) {
			nng_ctx_close(ts[k].ctx);
			nng_aio_free(ts[k].aio);
		}
#ifdef MPB_BENCH_BATCH
		mpb_batch_free(ts[k].batch);
#endif
	}
	hw_done(hw, r);
	if (c->tgt == T_MPB) {
		mpb_close(cl);
	} else {
		nng_close(sock);
	}
	free(ts);
	free(tids);
	return (0);
}

// Waits until the target answers (a fresh process each try).
static int
probe_main(hw_ctx *hw, int idx, void *arg, wresult *r)
{
	bcfg       *c = arg;
	mpb_client *cl;
	nng_socket sock;
	nng_msg   *m;
	mpb_err    rv;
	int        e;

	(void) idx;
	hw_ready(hw);
	if (c->tgt == T_MPB) {
		if ((rv = mpb_connect(c->url, 1000, &cl)) != MPB_OK) {
			wresult_error(r, "%s", mpb_strerror(rv));
			return (-1);
		}
		mpb_close(cl);
		return (0);
	}
	if (echo_open(c, &sock, r) != 0) {
		return (-1);
	}
	if ((e = nng_msg_alloc(&m, 0)) != 0 || (e = nng_msg_append(m, "\x91\x01", 2)) != 0 ||
	    (e = nng_sendmsg(sock, m, 0)) != 0 || (e = nng_recvmsg(sock, &m, 0)) != 0) {
		wresult_error(r, "ping: %s", nng_strerror(e));
	} else {
		nng_msg_free(m);
	}
	nng_close(sock);
	return (0);
}

// ---------------------------------------------------------------------
// The broker under test

static pid_t spawned_pid;
static char  spawned_path[108];

static void
broker_stop(void)
{
	if (spawned_pid <= 0) {
		return;
	}
	kill(spawned_pid, SIGTERM);
	for (int i = 0; i < 500; i++) { // 5 s, then SIGKILL
		struct timespec ts = { 0, 10000000 };
		if (waitpid(spawned_pid, NULL, WNOHANG) == spawned_pid) {
			spawned_pid = 0;
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (spawned_pid > 0) {
		kill(spawned_pid, SIGKILL);
		waitpid(spawned_pid, NULL, 0);
		spawned_pid = 0;
	}
	unlink(spawned_path);
}

static void
on_signal(int sig)
{
	if (spawned_pid > 0) {
		kill(spawned_pid, SIGKILL);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
wait_answering(bcfg *c)
{
	uint64_t deadline = now_ns() + 10000000000ull;
	hw_run   run      = { .nclients = 1, .timeout_s = 5, .worker = probe_main, .arg = c };
	wresult *r        = malloc(sizeof(*r));
	int      ok       = -1;

	while (r != NULL && now_ns() < deadline) {
		struct timespec ts = { 0, 50000000 };
		if (hw_run_clients(&run, r) == 0 && r->errors == 0) {
			ok = 0;
			break;
		}
		if (spawned_pid > 0 && waitpid(spawned_pid, NULL, WNOHANG) == spawned_pid) {
			spawned_pid = 0;
			fprintf(stderr, "mpb-bench: %s exited at start (see %s)\n",
			    c->spawn_path, c->broker_log);
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (ok != 0 && r != NULL) {
		fprintf(stderr, "mpb-bench: nothing answers at %s: %s\n", c->url, r->err);
	}
	free(r);
	return (ok);
}

static int
broker_start(bcfg *c)
{
	static int  gen;
	static char url[128];
	const char *argv[MAX_SPAWN_ARGS + 8];
	int         argc = 0;

	snprintf(spawned_path, sizeof(spawned_path), "/tmp/mpb-bench-%d-%d.ipc",
	    (int) getpid(), gen++);
	snprintf(url, sizeof(url), "ipc://%s", spawned_path);
	c->url      = url;
	argv[argc++] = c->spawn_path;
	argv[argc++] = "--listen";
	argv[argc++] = url;
	for (int i = 0; i < c->nspawn_args; i++) {
		argv[argc++] = c->spawn_args[i];
	}
	argv[argc] = NULL;
	fflush(NULL);
	if ((spawned_pid = fork()) < 0) {
		perror("fork");
		return (-1);
	}
	if (spawned_pid == 0) {
		FILE *f = freopen(c->broker_log, "a", stderr);
		(void) f;
		execv(c->spawn_path, (char *const *) argv);
		fprintf(stderr, "exec %s: %s\n", c->spawn_path, strerror(errno));
		_exit(127);
	}
	c->broker_pid = spawned_pid;
	return (wait_answering(c));
}

// ---------------------------------------------------------------------
// Runs

// A one-process step (set-up with prefill, or the check); 0 if it went well.
static int
run_step(bcfg *c, bool setup, wresult *r)
{
	bcfg    sc  = *c;
	hw_run run = { .nclients = 1, .timeout_s = c->timeout_s, .worker = client_main, .arg = &sc };

	sc.clients     = 1;
	sc.setup_only  = setup;
	sc.verify_only = !setup;
	sc.fill        = true;
	sc.units       = setup ? c->prefill : 0;
	sc.threads     = c->inflight < 16 ? 16 : c->inflight; // prefill speed
	sc.deadline_ns = now_ns() + (uint64_t) c->timeout_s * 1000000000ull;
	if (hw_run_clients(&run, r) != 0) {
		return (-1);
	}
	return (r->errors == 0 ? 0 : -1);
}

static const char *
peer_name(const bcfg *c)
{
	if (c->label != NULL) {
		return (c->label);
	}
	return (c->tgt == T_ECHO ? "nng-echo" : "mpbroker");
}

// One workload; returns the number of errors.
static uint64_t
run_workload(bcfg *c)
{
	wresult *r    = calloc(1, sizeof(*r));
	wresult *step = calloc(1, sizeof(*step));
	hw_rss hk   = { .pid = c->broker_pid, .before_kb = -1, .after_kb = -1 };
	hw_run   run  = { .nclients = c->clients, .timeout_s = c->timeout_s + 30,
		   .worker = client_main, .arg = c, .on_ready = hw_rss_ready,
		   .on_done = hw_rss_done, .hook_arg = &hk };
	row      out  = { 0 };
	char     note[256] = "";
	uint64_t errors;
	bool     mem  = c->memory_items > 0;

	if (r == NULL || step == NULL) {
		fprintf(stderr, "mpb-bench: out of memory\n");
		exit(1);
	}
	snprintf(c->name, sizeof(c->name), "bench-%s-%d", c->wl->name, (int) getpid());
	if (mem && c->spawn_path != NULL && broker_start(c) != 0) {
		exit(1);
	}
	hk.pid = c->broker_pid;
	if (c->tgt == T_MPB) {
		bcfg sc  = *c;
		sc.prefill = mem ? 0 : c->prefill + async_standing(c);
		if (run_step(&sc, true, step) != 0) {
			fprintf(stderr, "mpb-bench: %s: set-up failed: %s\n", c->wl->name, step->err);
			exit(1);
		}
	}
	c->fill        = mem;
	c->units       = mem ? c->memory_items : (c->nreq + c->wl->reqs - 1) / c->wl->reqs;
	c->threads     = c->inflight;
	c->deadline_ns = now_ns() + (uint64_t) c->timeout_s * 1000000000ull;
	if (hw_run_clients(&run, r) != 0) {
		fprintf(stderr, "mpb-bench: cannot start clients\n");
		exit(1);
	}
	errors = r->errors;
	if (c->tgt == T_MPB) {
		bcfg sc     = *c;
		sc.prefill = mem ? c->memory_items : c->prefill + async_standing(c);
		if (run_step(&sc, false, step) != 0) {
			errors += step->errors;
			snprintf(note, sizeof(note), "check: %s", step->err);
		}
	}
	if (r->err[0] != '\0') {
		snprintf(note, sizeof(note), "%s", r->err);
	}
	row_from_result(&out, r);
	out.peer     = peer_name(c);
	out.workload = c->wl->name;
	out.mode     = mem ? "memory" : "";
	out.clients  = c->clients;
	out.inflight = c->inflight;
	out.payload  = c->payload;
	out.prefill  = mem ? c->memory_items : c->prefill + async_standing(c);
	out.errors   = errors;
	out.rss_kb   = hk.after_kb;
	out.bytes_per_item = -1;
	if (mem && hk.before_kb >= 0 && hk.after_kb >= 0) {
		out.bytes_per_item = (double) (hk.after_kb - hk.before_kb) * 1024.0 /
		    (double) c->memory_items;
		if (note[0] == '\0') {
			snprintf(note, sizeof(note), "RSS %ld KiB with clients connected "
			    "and the object empty, %ld KiB full; filled at %.0f puts/s",
			    hk.before_kb, hk.after_kb, out.ops_per_s);
		}
	}
	out.note = note;
	out_row(c->fmt, &out);
	if (mem && c->spawn_path != NULL) {
		broker_stop();
	}
	free(r);
	free(step);
	return (errors);
}

static void
make_value(bcfg *c)
{
	size_t d = (size_t) c->payload;
	size_t h;

	c->value = malloc(d);
	c->vlen  = d;
	if (c->value == NULL) {
		exit(1);
	}
	if (d == 1) {
		c->value[0] = 0x2a; // positive fixint 42
		return;
	}
	// A msgpack bin of exactly d bytes, header included.
	if (d <= 2 + 255) {
		h           = 2;
		c->value[0] = 0xc4;
		c->value[1] = (unsigned char) (d - h);
	} else if (d <= 3 + 65535) {
		h           = 3;
		c->value[0] = 0xc5;
		c->value[1] = (unsigned char) ((d - h) >> 8);
		c->value[2] = (unsigned char) (d - h);
	} else {
		h           = 5;
		c->value[0] = 0xc6;
		for (int i = 0; i < 4; i++) {
			c->value[1 + i] = (unsigned char) ((d - h) >> (24 - 8 * i));
		}
	}
	for (size_t i = h; i < d; i++) {
		c->value[i] = (unsigned char) ('a' + i % 26);
	}
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mpb-bench [options]\n"
	    "Benchmark mpbroker (or the bare nng transport) with real client processes.\n"
	    "\n"
	    "  -u, --url URL          broker address (default $MPB_URL, else %s)\n"
	    "  -c, --clients N        client processes (default 1)\n"
	    "  -n, --requests N       requests per workload, all clients together\n"
	    "                         (default 20000; put + get is 2 requests)\n"
	    "  -d, --data-size N      item size in bytes: the msgpack value as stored\n"
	    "                         (a bin of N bytes with its header; default 16)\n"
	    "  -P, --pipeline N       requests in flight per client (default 1): N threads\n"
	    "                         per client process sharing one mpb_client handle\n"
	    "  -B, --batch N          N requests per frame through libmpb's batches (each\n"
	    "                         -P thread sends one batch at a time); latency is then\n"
	    "                         per batch frame (default: no batches)\n"
	    "  -A, --async            no threads: each client process keeps up to -P\n"
	    "                         calls in flight on its one handle through libmpb's\n"
	    "                         asynchronous calls (mpb_async_*), which the library\n"
	    "                         coalesces into batch frames; queue workloads (with\n"
	    "                         -P items per client standing extra), dict and incr;\n"
	    "                         latency from submission to callback\n"
	    "      --prefill N        items standing in the queue during the run (default 0)\n"
	    "  -t, --tests LIST       workloads, comma-separated (default: all); -t help lists them\n"
	    "      --target T         mpb (default) or echo: the same frames to mpb-echo-server\n"
	    "      --broker-pid PID   report this process's RSS (VmRSS)\n"
	    "      --spawn-broker PATH  start PATH (mpbroker or mpb-echo-server) on a\n"
	    "                         private ipc path, measure it, stop it at the end\n"
	    "      --broker-arg ARG   pass ARG to the spawned broker (repeatable)\n"
	    "      --broker-log FILE  the spawned broker's stderr (default /dev/null)\n"
	    "      --memory N         memory mode: per workload put N items (with -c/-P\n"
	    "                         clients) and report RSS bytes per item beyond the\n"
	    "                         empty broker; with --spawn-broker each workload\n"
	    "                         gets a fresh broker\n"
	    "      --timeout S        bound on each workload, in seconds (default 300)\n"
	    "      --label NAME       peer name in the output (default mpbroker / nng-echo)\n"
	    "      --csv | --json     machine-readable output\n"
	    "  -h, --help\n"
	    "\n"
	    "Exit status: 0 when every request succeeded and the queue held exactly its\n"
	    "prefill afterwards, 1 otherwise, 2 for bad usage.\n",
	    MPB_DEFAULT_URL);
}

int
main(int argc, char **argv)
{
	enum { O_PREFILL = 256, O_TARGET, O_PID, O_SPAWN, O_BARG, O_BLOG,
		O_MEMORY, O_TIMEOUT, O_LABEL, O_CSV, O_JSON };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "clients", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "data-size", required_argument, NULL, 'd' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "batch", required_argument, NULL, 'B' },
		{ "async", no_argument, NULL, 'A' },
		{ "tests", required_argument, NULL, 't' },
		{ "prefill", required_argument, NULL, O_PREFILL },
		{ "target", required_argument, NULL, O_TARGET },
		{ "broker-pid", required_argument, NULL, O_PID },
		{ "spawn-broker", required_argument, NULL, O_SPAWN },
		{ "broker-arg", required_argument, NULL, O_BARG },
		{ "broker-log", required_argument, NULL, O_BLOG },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "label", required_argument, NULL, O_LABEL },
		{ "csv", no_argument, NULL, O_CSV },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static bcfg  c;
	const char *tests = NULL;
	const workload *sel[NWORKLOADS * 4];
	size_t      nsel = 0;
	uint64_t    errors = 0;
	int         o;

	c.clients    = 1;
	c.inflight   = 1;
	c.payload    = 16;
	c.nreq       = 20000;
	c.timeout_s  = 300;
	c.fmt        = OUT_TEXT;
	c.broker_log = "/dev/null";
	c.url        = getenv("MPB_URL");
	if (c.url != NULL && c.url[0] == '\0') {
		c.url = NULL;
	}
	while ((o = getopt_long(argc, argv, "u:c:n:d:P:B:At:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'u': c.url = optarg; break;
		case 'c': c.clients = (int) parse_ll("-c", optarg, 1, 4096); break;
		case 'n': c.nreq = parse_ll("-n", optarg, 1, 1000000000000ll); break;
		case 'd': c.payload = (int) parse_ll("-d", optarg, 1, MAX_VALUE); break;
		case 'P': c.inflight = (int) parse_ll("-P", optarg, 1, 1024); break;
		case 'B': c.batch = (int) parse_ll("-B", optarg, 1, 4096); break;
		case 'A': c.async = true; break;
		case 't': tests = optarg; break;
		case O_PREFILL: c.prefill = parse_ll("--prefill", optarg, 0, 100000000); break;
		case O_TARGET:
			if (strcmp(optarg, "mpb") == 0) {
				c.tgt = T_MPB;
			} else if (strcmp(optarg, "echo") == 0) {
				c.tgt = T_ECHO;
			} else {
				fprintf(stderr, "--target: mpb or echo\n");
				return (2);
			}
			break;
		case O_PID: c.broker_pid = (pid_t) parse_ll("--broker-pid", optarg, 1, 1 << 30); break;
		case O_SPAWN: c.spawn_path = optarg; break;
		case O_BARG:
			if (c.nspawn_args == MAX_SPAWN_ARGS) {
				fprintf(stderr, "too many --broker-arg\n");
				return (2);
			}
			c.spawn_args[c.nspawn_args++] = optarg;
			break;
		case O_BLOG: c.broker_log = optarg; break;
		case O_MEMORY: c.memory_items = parse_ll("--memory", optarg, 1, 100000000); break;
		case O_TIMEOUT: c.timeout_s = (int) parse_ll("--timeout", optarg, 1, 86400); break;
		case O_LABEL: c.label = optarg; break;
		case O_CSV: c.fmt = OUT_CSV; break;
		case O_JSON: c.fmt = OUT_JSON; break;
		case 'h': usage(stdout); return (0);
		default: usage(stderr); return (2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return (2);
	}
	if (tests != NULL && strcmp(tests, "help") == 0) {
		for (size_t i = 0; i < NWORKLOADS; i++) {
			printf("%-10s %s\n", workloads[i].name, workloads[i].what);
		}
		return (0);
	}
	if (tests == NULL) {
		for (size_t i = 0; i < NWORKLOADS; i++) {
			sel[nsel++] = &workloads[i];
		}
	} else {
		char *dup = strdup(tests);
		for (char *tok = strtok(dup, ","); tok != NULL; tok = strtok(NULL, ",")) {
			const workload *w = workload_find(tok);
			if (w == NULL) {
				fprintf(stderr, "mpb-bench: no workload '%s' (-t help lists them)\n", tok);
				return (2);
			}
			if (nsel == sizeof(sel) / sizeof(sel[0])) {
				fprintf(stderr, "mpb-bench: too many workloads\n");
				return (2);
			}
			sel[nsel++] = w;
		}
		free(dup);
	}
	if (c.tgt == T_ECHO && (c.memory_items > 0 || c.prefill > 0)) {
		fprintf(stderr, "mpb-bench: the echo target stores nothing: no --memory or --prefill\n");
		return (2);
	}
#ifndef MPB_BENCH_BATCH
	if (c.batch > 0) {
		fprintf(stderr, "mpb-bench: -B needs mpb_batch_* in mpb.h\n");
		return (2);
	}
#endif
#ifndef MPB_BENCH_ASYNC
	if (c.async) {
		fprintf(stderr, "mpb-bench: -A needs mpb_async_* in mpb.h\n");
		return (2);
	}
#endif
	if (c.async && (c.tgt == T_ECHO || c.batch > 0 || c.memory_items > 0)) {
		fprintf(stderr, "mpb-bench: -A goes with neither --target echo, -B nor --memory\n");
		return (2);
	}
	if (c.batch > 0 && c.tgt == T_ECHO) {
		fprintf(stderr, "mpb-bench: the echo target has no batches: no -B\n");
		return (2);
	}
	if (c.tgt == T_MPB && c.url == NULL) {
		c.url = MPB_DEFAULT_URL;
	}
	if (c.tgt == T_ECHO && c.url == NULL && c.spawn_path == NULL) {
		fprintf(stderr, "mpb-bench: --target echo needs --url or --spawn-broker\n");
		return (2);
	}
	make_value(&c);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	out_begin(c.fmt);
	if (c.spawn_path != NULL && c.memory_items == 0 && broker_start(&c) != 0) {
		broker_stop();
		return (1);
	}
	if (c.spawn_path == NULL && wait_answering(&c) != 0) {
		return (1);
	}
	for (size_t i = 0; i < nsel; i++) {
		c.wl = sel[i];
		if (c.tgt == T_ECHO && c.wl->echo_step == NULL) {
			continue;
		}
		if (c.async && !async_supported(c.wl)) {
			fprintf(stderr, "mpb-bench: -A: no asynchronous form of %s, left out\n",
			    c.wl->name);
			continue;
		}
		errors += run_workload(&c);
	}
	out_end(c.fmt);
	broker_stop();
	if (errors > 0) {
		fprintf(stderr, "mpb-bench: %llu request(s) or check(s) failed\n",
		    (unsigned long long) errors);
		return (1);
	}
	return (0);
}
