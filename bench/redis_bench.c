// redis_bench.c -- mpb-redis-bench: the same workloads as mpb-bench, run
// against redis-server on a unix socket with hiredis, so compare.sh can
// put Redis beside mpbroker in one run.
//
//   fifo      LPUSH key v  +  RPOP key
//   lifo      LPUSH key v  +  LPOP key
//   priority  ZADD key <random score> v  +  ZPOPMIN key
//   dict      HSET key field v  +  HGET key field (1000 fields per client)
//   incr      HINCRBY key counter 1 (one counter shared by every client)
//   list      RPUSH key v  +  RPOP key
//
// Each client process (-c) has one connection; -P N keeps N requests in
// flight on it by pipelining (send N, then read N replies), as
// redis-benchmark -P does.  A request's latency runs from the send of its
// window to the arrival of its own reply.  Items are -d bytes; sorted-set
// members must be unique, so each item starts with its client's number
// and a counter (items are at least 12 bytes in the priority workload).
//
// Exit status as mpb-bench: 0 if every request succeeded and every count
// checked out, 1 otherwise, 2 for bad usage.

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"

// How a workload's requests are written and checked.
typedef enum rkind {
	R_LIST, // put: PUT key item (an integer reply); get: GET key (the item)
	R_ZSET, // ZADD key score item; ZPOPMIN key ([item, score])
	R_HASH, // HSET key field item; HGET key field (the item)
	R_INCR, // HINCRBY key counter 1 only (an integer reply)
} rkind;

typedef struct rworkload {
	const char *name;
	const char *put;  // the command that stores
	const char *get;  // the command that reads back, or NULL (incr)
	const char *size; // the command that counts what stands, or NULL
	rkind       kind;
} rworkload;

static const rworkload workloads[] = {
	{ "fifo", "LPUSH", "RPOP", "LLEN", R_LIST },
	{ "lifo", "LPUSH", "LPOP", "LLEN", R_LIST },
	{ "priority", "ZADD", "ZPOPMIN", "ZCARD", R_ZSET },
	{ "dict", "HSET", "HGET", NULL, R_HASH },
	{ "incr", "HINCRBY", NULL, NULL, R_INCR },
	{ "list", "RPUSH", "RPOP", "LLEN", R_LIST },
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

typedef struct rcfg {
	const char      *sock;
	int              clients;
	int              inflight;
	int              payload;
	long long        nreq;
	long long        prefill;
	long long        memory_items;
	int              timeout_s;
	out_fmt          fmt;
	const char      *label;
	pid_t            redis_pid;
	const rworkload *wl;
	char             key[64];
	bool             fill;   // puts only
	long long        units;  // requests for all clients together
	bool             setup;  // one-process step: DEL + prefill
	bool             verify; // one-process step: count + DEL
	uint64_t         deadline_ns;
} rcfg;

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z          = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

typedef struct rclient {
	const rcfg    *cfg;
	redisContext  *rc;
	unsigned char *item;
	size_t         ilen;
	uint64_t       seq;
	uint64_t       rng;
	int            idx; // client number
	wresult       *r;
} rclient;

// The hash field of put+get step n: one of 1000 per client, as
// mpb-bench's dict workload.
static int
hash_field(const rclient *cl, uint64_t n, char *buf, size_t cap)
{
	return (snprintf(buf, cap, "k%d:%llu", cl->idx, (unsigned long long) (n % 1000)));
}

static void
append_put(rclient *cl)
{
	const rcfg *c = cl->cfg;
	char        f[32];

	cl->seq++;
	memcpy(cl->item + 4, &cl->seq, sizeof(cl->seq));
	switch (c->wl->kind) {
	case R_ZSET: {
		long long score = (long long) (rng_next(&cl->rng) & 0x7fffffff);
		redisAppendCommand(cl->rc, "ZADD %s %lld %b", c->key, score,
		    cl->item, cl->ilen);
		break;
	}
	case R_HASH:
		hash_field(cl, cl->seq, f, sizeof(f));
		redisAppendCommand(cl->rc, "HSET %s %s %b", c->key, f, cl->item, cl->ilen);
		break;
	case R_INCR:
		redisAppendCommand(cl->rc, "HINCRBY %s counter 1", c->key);
		break;
	case R_LIST:
		redisAppendCommand(cl->rc, "%s %s %b", c->wl->put, c->key,
		    cl->item, cl->ilen);
		break;
	}
}

// The get of a put+get step reads back what its put stored.
static void
append_get(rclient *cl)
{
	char f[32];

	if (cl->cfg->wl->kind == R_HASH) {
		hash_field(cl, cl->seq, f, sizeof(f));
		redisAppendCommand(cl->rc, "HGET %s %s", cl->cfg->key, f);
	} else {
		redisAppendCommand(cl->rc, "%s %s", cl->cfg->wl->get, cl->cfg->key);
	}
}

// Checks one reply; 0 if it is what the request should get.
static int
check_reply(rclient *cl, redisReply *rep, bool put)
{
	const rcfg *c = cl->cfg;

	if (rep == NULL) {
		wresult_error(cl->r, "redis: %s", cl->rc->errstr);
		return (-1);
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		wresult_error(cl->r, "redis: %s", rep->str);
		return (-1);
	}
	if (put) {
		if (rep->type != REDIS_REPLY_INTEGER) {
			wresult_error(cl->r, "%s: unexpected reply type %d", c->wl->put, rep->type);
			return (-1);
		}
		return (0);
	}
	if (c->wl->kind == R_ZSET) {
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->len != cl->ilen) {
			wresult_error(cl->r, "ZPOPMIN: no item or a wrong one");
			return (-1);
		}
		return (0);
	}
	if (rep->type != REDIS_REPLY_STRING || rep->len != cl->ilen) {
		wresult_error(cl->r, "%s: no item or a wrong one (type %d)",
		    c->wl->get, rep->type);
		return (-1);
	}
	return (0);
}

// Whether every request is a put: when filling, and for incr.
static bool
only_puts(const rcfg *c)
{
	return (c->fill || c->wl->get == NULL);
}

// Runs n requests (alternately put and get, or puts only) in windows of
// window requests.
static void
run_requests(rclient *cl, long long n, int window)
{
	long long done = 0;

	while (done < n && cl->r->errors < 100) {
		int      w = (int) (n - done < window ? n - done : window);
		uint64_t s;

		if (now_ns() > cl->cfg->deadline_ns) {
			wresult_error(cl->r, "time limit (--timeout) reached");
			return;
		}
		for (int k = 0; k < w; k++) {
			if (only_puts(cl->cfg) || (done + k) % 2 == 0) {
				append_put(cl);
			} else {
				append_get(cl);
			}
		}
		s = now_ns();
		for (int k = 0; k < w; k++) {
			void *rep = NULL;
			bool  put = only_puts(cl->cfg) || (done + k) % 2 == 0;
			int   rv  = redisGetReply(cl->rc, &rep);

			hist_add(&cl->r->h, now_ns() - s);
			if (rv != REDIS_OK) {
				wresult_error(cl->r, "redis: %s", cl->rc->errstr);
				return; // the connection is unusable now
			}
			if (check_reply(cl, rep, put) == 0) {
				cl->r->ops++;
			}
			freeReplyObject(rep);
		}
		done += w;
	}
}

static long long
simple_int(rclient *cl, const char *cmd)
{
	redisReply *rep = redisCommand(cl->rc, "%s %s", cmd, cl->cfg->key);
	long long   v   = -1;

	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
		wresult_error(cl->r, "%s %s failed", cmd, cl->cfg->key);
	} else {
		v = rep->integer;
	}
	if (rep != NULL) {
		freeReplyObject(rep);
	}
	return (v);
}

static int
client_main(hw_ctx *hw, int idx, void *arg, wresult *r)
{
	rcfg          *c  = arg;
	struct timeval tv = { 5, 0 };
	rclient        cl = { .cfg = c, .r = r };
	long long      tot;
	long long      mine;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	cl.ilen = (size_t) c->payload;
	cl.idx  = idx;
	if (c->wl->kind == R_ZSET && cl.ilen < 12) {
		cl.ilen = 12;
	}
	cl.item = calloc(1, cl.ilen < 12 ? 12 : cl.ilen);
	cl.rng  = now_ns() ^ ((uint64_t) getpid() << 20);
	if (cl.item == NULL) {
		wresult_error(r, "out of memory");
		return (-1);
	}
	{
		// Unique members: the set-up step's items differ from every client's.
		int32_t id = c->setup ? -1 : (int32_t) idx;
		memcpy(cl.item, &id, 4);
	}
	for (size_t i = 12; i < cl.ilen; i++) {
		cl.item[i] = (unsigned char) ('a' + i % 26);
	}
	cl.rc = redisConnectUnixWithTimeout(c->sock, tv);
	if (cl.rc == NULL || cl.rc->err) {
		wresult_error(r, "connect %s: %s", c->sock, cl.rc ? cl.rc->errstr : "no memory");
		return (-1);
	}
	redisSetTimeout(cl.rc, tv);

	if (c->verify) {
		long long n = c->wl->size != NULL ? simple_int(&cl, c->wl->size) : -1;
		if (n >= 0 && n != c->prefill) {
			wresult_error(r, "%s holds %lld items after the run, expected %lld",
			    c->key, n, c->prefill);
		}
		simple_int(&cl, "DEL");
		hw_done(hw, r);
		redisFree(cl.rc);
		return (0);
	}
	if (c->setup) {
		simple_int(&cl, "DEL");
		hw_ready(hw);
		r->t0 = now_ns();
		run_requests(&cl, c->prefill, 1000);
		r->t1 = now_ns();
		hw_done(hw, r);
		redisFree(cl.rc);
		return (0);
	}
	tot  = c->units;
	mine = tot / c->clients + (idx < tot % c->clients ? 1 : 0);
	if (!only_puts(c) && mine % 2 != 0) {
		mine++; // whole put+get pairs, so the count checks out
	}
	hw_ready(hw);
	r->t0 = now_ns();
	run_requests(&cl, mine, c->inflight);
	r->t1 = now_ns();
	hw_done(hw, r);
	redisFree(cl.rc);
	free(cl.item);
	return (0);
}

static int
one_step(rcfg *c, bool setup, long long prefill, wresult *r)
{
	rcfg   sc  = *c;
	hw_run run = { .nclients = 1, .timeout_s = c->timeout_s, .worker = client_main, .arg = &sc };

	sc.clients = 1;
	sc.setup   = setup;
	sc.verify  = !setup;
	sc.fill    = true;
	sc.prefill = prefill;
	sc.deadline_ns = now_ns() + (uint64_t) c->timeout_s * 1000000000ull;
	if (hw_run_clients(&run, r) != 0) {
		return (-1);
	}
	return (r->errors == 0 ? 0 : -1);
}

static uint64_t
run_workload(rcfg *c)
{
	wresult *r    = calloc(1, sizeof(*r));
	wresult *step = calloc(1, sizeof(*step));
	hw_rss hk   = { .pid = c->redis_pid, .before_kb = -1, .after_kb = -1 };
	hw_run   run  = { .nclients = c->clients, .timeout_s = c->timeout_s + 30,
		   .worker = client_main, .arg = c, .on_ready = hw_rss_ready,
		   .on_done = hw_rss_done, .hook_arg = &hk };
	bool     mem  = c->memory_items > 0;
	row      out  = { 0 };
	char     note[256] = "";
	uint64_t errors;

	if (r == NULL || step == NULL) {
		exit(1);
	}
	snprintf(c->key, sizeof(c->key), "bench-%s-%d", c->wl->name, (int) getpid());
	if (one_step(c, true, mem ? 0 : c->prefill, step) != 0) {
		fprintf(stderr, "mpb-redis-bench: set-up failed: %s\n", step->err);
		exit(1);
	}
	c->fill  = mem;
	c->units = mem ? c->memory_items : c->nreq;
	c->deadline_ns = now_ns() + (uint64_t) c->timeout_s * 1000000000ull;
	if (hw_run_clients(&run, r) != 0) {
		exit(1);
	}
	errors = r->errors;
	memset(step, 0, sizeof(*step));
	if (one_step(c, false, mem ? c->memory_items : c->prefill, step) != 0) {
		errors += step->errors;
		snprintf(note, sizeof(note), "check: %s", step->err);
	}
	if (r->err[0] != '\0') {
		snprintf(note, sizeof(note), "%s", r->err);
	}
	row_from_result(&out, r);
	out.peer     = c->label != NULL ? c->label : "redis";
	out.workload = c->wl->name;
	out.mode     = mem ? "memory" : "";
	out.clients  = c->clients;
	out.inflight = c->inflight;
	out.payload  = c->payload;
	out.prefill  = mem ? c->memory_items : c->prefill;
	out.errors   = errors;
	out.rss_kb   = hk.after_kb;
	out.bytes_per_item = -1;
	if (mem && hk.before_kb >= 0 && hk.after_kb >= 0) {
		out.bytes_per_item = (double) (hk.after_kb - hk.before_kb) * 1024.0 /
		    (double) c->memory_items;
		if (note[0] == '\0') {
			snprintf(note, sizeof(note), "RSS %ld KiB empty, %ld KiB full "
			    "(measured before the check deletes the key)",
			    hk.before_kb, hk.after_kb);
		}
	}
	out.note = note;
	out_row(c->fmt, &out);
	free(r);
	free(step);
	return (errors);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mpb-redis-bench -s SOCKET [options]\n"
	    "The workloads of mpb-bench against redis-server on a unix socket.\n"
	    "\n"
	    "  -s, --socket PATH    redis-server's unix socket (required)\n"
	    "  -c, --clients N      client processes, one connection each (default 1)\n"
	    "  -n, --requests N     requests per workload, all clients (default 20000)\n"
	    "  -d, --data-size N    item size in bytes (default 16)\n"
	    "  -P, --pipeline N     requests in flight per client, by pipelining (default 1)\n"
	    "      --prefill N      items standing during the run (default 0)\n"
	    "  -t, --tests LIST     fifo,lifo,priority,dict,incr,list (default all)\n"
	    "      --redis-pid PID  report this process's RSS\n"
	    "      --memory N       memory mode: put N items, report RSS bytes per item\n"
	    "      --timeout S      bound on each workload in seconds (default 300)\n"
	    "      --label NAME     peer name in the output (default redis)\n"
	    "      --csv | --json\n");
}

int
main(int argc, char **argv)
{
	enum { O_PREFILL = 256, O_PID, O_MEMORY, O_TIMEOUT, O_LABEL, O_CSV, O_JSON };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "data-size", required_argument, NULL, 'd' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "tests", required_argument, NULL, 't' },
		{ "prefill", required_argument, NULL, O_PREFILL },
		{ "redis-pid", required_argument, NULL, O_PID },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "label", required_argument, NULL, O_LABEL },
		{ "csv", no_argument, NULL, O_CSV },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static rcfg c;
	const char *tests  = "fifo,lifo,priority,dict,incr,list";
	uint64_t    errors = 0;
	char       *dup;
	int         o;

	c.clients   = 1;
	c.inflight  = 1;
	c.payload   = 16;
	c.nreq      = 20000;
	c.timeout_s = 300;
	while ((o = getopt_long(argc, argv, "s:c:n:d:P:t:h", longopts, NULL)) != -1) {
		switch (o) {
		case 's': c.sock = optarg; break;
		case 'c': c.clients = (int) parse_ll("-c", optarg, 1, 4096); break;
		case 'n': c.nreq = parse_ll("-n", optarg, 1, 1000000000000ll); break;
		case 'd': c.payload = (int) parse_ll("-d", optarg, 1, 1 << 20); break;
		case 'P': c.inflight = (int) parse_ll("-P", optarg, 1, 100000); break;
		case 't': tests = optarg; break;
		case O_PREFILL: c.prefill = parse_ll("--prefill", optarg, 0, 100000000); break;
		case O_PID: c.redis_pid = (pid_t) parse_ll("--redis-pid", optarg, 1, 1 << 30); break;
		case O_MEMORY: c.memory_items = parse_ll("--memory", optarg, 1, 100000000); break;
		case O_TIMEOUT: c.timeout_s = (int) parse_ll("--timeout", optarg, 1, 86400); break;
		case O_LABEL: c.label = optarg; break;
		case O_CSV: c.fmt = OUT_CSV; break;
		case O_JSON: c.fmt = OUT_JSON; break;
		case 'h': usage(stdout); return (0);
		default: usage(stderr); return (2);
		}
	}
	if (c.sock == NULL || optind != argc) {
		usage(stderr);
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	out_begin(c.fmt);
	dup = strdup(tests);
	for (char *tok = strtok(dup, ","); tok != NULL; tok = strtok(NULL, ",")) {
		c.wl = NULL;
		for (size_t i = 0; i < NWORKLOADS; i++) {
			if (strcmp(workloads[i].name, tok) == 0) {
				c.wl = &workloads[i];
			}
		}
		if (c.wl == NULL) {
			fprintf(stderr, "mpb-redis-bench: no workload '%s'\n", tok);
			return (2);
		}
		errors += run_workload(&c);
	}
	free(dup);
	out_end(c.fmt);
	if (errors > 0) {
		fprintf(stderr, "mpb-redis-bench: %llu request(s) or check(s) failed\n",
		    (unsigned long long) errors);
		return (1);
	}
	return (0);
}
