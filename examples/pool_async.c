// pool_async.c -- a pool of worker processes fed from a task queue, with
// results handled by callbacks, like Python's Pool.apply_async(f, args,
// callback=cb): pool_submit() queues a task and remembers its callback; a
// collector thread in the parent takes [task id, result] from the results
// queue and calls the task's callback.  The workers are this same program
// started with posix_spawn, which (unlike fork) is fine after connecting.
//
//   mpb-example-pool-async [URL]      (default: $MPB_URL)

#include <msgpack.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpb.h>

#define WORKERS 4
#define TASKS   50 // each squares a number
#define STOP    (-1)

extern char **environ;
typedef void (*pool_callback)(int64_t result, void *arg);

typedef struct pool {
	mpb_client     *c;
	char            tasks[64], results[64];
	pid_t           pid[WORKERS];
	pthread_t       collector;
	pthread_mutex_t mu; // guards the three below
	int64_t         next_id;
	pool_callback   cb[TASKS]; // by task id; set before the task is queued
	void           *arg[TASKS];
} pool;

static void
check(mpb_err err, const char *what)
{
	if (err != MPB_OK) {
		fprintf(stderr, "%s: %s\n", what, mpb_strerror(err));
		exit(1);
	}
}

// Tasks and results are both [id, number].
static void
put2(mpb_client *c, const char *q, int64_t id, int64_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int64(&pk, id);
	msgpack_pack_int64(&pk, n);
	check(mpb_queue_put(c, q, sb.data, sb.size, 0, 10000), "put");
	msgpack_sbuffer_destroy(&sb);
}

static void
get2(mpb_client *c, const char *q, int64_t *id, int64_t *n)
{
	void            *buf;
	size_t           len;
	msgpack_unpacked u;

	check(mpb_queue_get(c, q, 10000, &buf, &len, NULL), "get");
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, buf, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 2) {
		check(MPB_EVALUE, "get");
	}
	*id = u.data.via.array.ptr[0].via.i64;
	*n  = u.data.via.array.ptr[1].via.i64;
	msgpack_unpacked_destroy(&u);
	mpb_free(buf);
}

// A worker process: squares numbers until told to stop, then says so.
static int
worker(const char *url, const char *tasks, const char *results)
{
	mpb_client *c;
	int64_t     id, n;

	check(mpb_connect(url[0] != '\0' ? url : NULL, 0, &c), "connect");
	for (get2(c, tasks, &id, &n); id != STOP; get2(c, tasks, &id, &n)) {
		put2(c, results, id, n * n);
	}
	put2(c, results, STOP, 0);
	mpb_close(c);
	return (0);
}

// The collector thread: one callback per result, until every worker stopped.
static void *
collect(void *arg)
{
	pool         *p = arg;
	int64_t       id, result;
	pool_callback cb;
	void         *cb_arg;

	for (int stopped = 0; stopped < WORKERS;) {
		get2(p->c, p->results, &id, &result);
		stopped += id == STOP;
		pthread_mutex_lock(&p->mu);
		cb = id >= 0 && id < p->next_id ? p->cb[id] : NULL;
		cb_arg = cb != NULL ? p->arg[id] : NULL;
		pthread_mutex_unlock(&p->mu);
		if (cb != NULL) {
			cb(result, cb_arg);
		}
	}
	return (NULL);
}

static void
pool_start(pool *p, const char *url)
{
	snprintf(p->tasks, sizeof(p->tasks), "pool-tasks-%d", (int) getpid());
	snprintf(p->results, sizeof(p->results), "pool-results-%d", (int) getpid());
	check(mpb_connect(url, 0, &p->c), "connect");
	check(mpb_queue_create(p->c, p->tasks, MPB_QUEUE_FIFO, 0, NULL), "create");
	check(mpb_queue_create(p->c, p->results, MPB_QUEUE_FIFO, 0, NULL), "create");
	char *argv[] = {"pool-worker", "--worker", (char *) (url ? url : ""), p->tasks,
	    p->results, NULL};
	for (int i = 0; i < WORKERS; i++) {
		if (posix_spawn(&p->pid[i], "/proc/self/exe", NULL, NULL, argv, environ) != 0) {
			check(MPB_EINTERNAL, "posix_spawn");
		}
	}
	p->next_id = 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_create(&p->collector, NULL, collect, p);
}

// Queues f(n) = n*n; cb(result, arg) runs in the collector thread.
static void
pool_submit(pool *p, int64_t n, pool_callback cb, void *arg)
{
	pthread_mutex_lock(&p->mu);
	int64_t id = p->next_id++;
	check(id < TASKS ? MPB_OK : MPB_ELIMIT, "submit"); // room for TASKS
	p->cb[id]  = cb; // before the task is queued: its result may come at once
	p->arg[id] = arg;
	pthread_mutex_unlock(&p->mu);
	put2(p->c, p->tasks, id, n);
}

// Stops the workers, waits for every callback; non-zero if a worker failed.
static int
pool_close(pool *p)
{
	int st, bad = 0;

	for (int i = 0; i < WORKERS; i++) {
		put2(p->c, p->tasks, STOP, 0);
	}
	pthread_join(p->collector, NULL);
	for (int i = 0; i < WORKERS; i++) {
		waitpid(p->pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	mpb_object_delete(p->c, p->tasks);
	mpb_object_delete(p->c, p->results);
	mpb_close(p->c);
	pthread_mutex_destroy(&p->mu);
	return (bad);
}

struct task {
	int64_t n, result;
	int     calls;
};

static void
on_result(int64_t result, void *arg)
{
	struct task *t = arg;

	t->result = result;
	t->calls++;
}

int
main(int argc, char **argv)
{
	static pool p;
	struct task t[TASKS];
	int         bad, once = 0;

	if (argc == 5 && strcmp(argv[1], "--worker") == 0) {
		return (worker(argv[2], argv[3], argv[4]));
	}
	pool_start(&p, argc > 1 ? argv[1] : NULL);
	for (int i = 0; i < TASKS; i++) {
		t[i] = (struct task){.n = i + 1};
		pool_submit(&p, t[i].n, on_result, &t[i]);
	}
	bad = pool_close(&p);
	for (int i = 0; i < TASKS; i++) {
		once += t[i].calls == 1 && t[i].result == t[i].n * t[i].n;
	}
	printf("pool_async: %d tasks on %d workers, %d callbacks ran exactly once "
	       "with the right result: %s\n",
	    TASKS, WORKERS, once, !bad && once == TASKS ? "OK" : "WRONG");
	return (!bad && once == TASKS ? 0 : 1);
}
