// priority_scheduler.c -- a job scheduler: the parent puts jobs with
// priorities (lower = more urgent) into a priority queue, then lets the
// worker processes start; each takes the most urgent job left, and sends
// [job, priority, result] to a results queue that the parent collects.
//
//   mpb-example-priority-scheduler [URL]      (default: $MPB_URL)

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpb.h>

#define WORKERS 3
#define JOBS    20
#define STOP    INT64_MAX // the priority of the stop jobs: after every job

static const char *url;
static char        jobs[64], results[64], go[64];

static void
check(mpb_err err, const char *what)
{
	if (err != MPB_OK) {
		fprintf(stderr, "%s: %s\n", what, mpb_strerror(err));
		exit(1);
	}
}

// Puts [a, b, c] (three integers) with a priority.
static void
put3(mpb_client *cl, const char *q, int64_t a, int64_t b, int64_t c, int64_t prio)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int64(&pk, a);
	msgpack_pack_int64(&pk, b);
	msgpack_pack_int64(&pk, c);
	check(mpb_queue_put(cl, q, sb.data, sb.size, prio, 10000), "put");
	msgpack_sbuffer_destroy(&sb);
}

// Gets [a, b, c] into v[0..2]; returns the item's priority.
static int64_t
get3(mpb_client *cl, const char *q, int64_t v[3])
{
	void            *buf;
	size_t           len;
	int64_t          prio;
	msgpack_unpacked u;

	check(mpb_queue_get(cl, q, 10000, &buf, &len, &prio), "get");
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, buf, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3) {
		check(MPB_EVALUE, "get");
	}
	for (int i = 0; i < 3; i++) {
		v[i] = u.data.via.array.ptr[i].via.i64;
	}
	msgpack_unpacked_destroy(&u);
	mpb_free(buf);
	return (prio);
}

// A worker: waits for the go signal, then runs jobs (squares their
// number) until a stop job.  Fails if ever handed a less urgent job
// before a more urgent one.
static int
worker(void)
{
	mpb_client *c;
	int64_t     job[3], prio, last = INT64_MIN;
	int         rc = 0;

	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_event_wait(c, go, 10000, NULL), "wait");
	while ((prio = get3(c, jobs, job)) != STOP) {
		rc |= prio < last;
		last = prio;
		put3(c, results, job[0], prio, job[1] * job[1], 0);
	}
	mpb_close(c);
	return (rc);
}

int
main(int argc, char **argv)
{
	mpb_client *c;
	pid_t       pid[WORKERS];
	int64_t     r[3];
	int         st, done[JOBS] = {0}, bad = 0;

	url = argc > 1 ? argv[1] : NULL;
	snprintf(jobs, sizeof(jobs), "sched-jobs-%d", (int) getpid());
	snprintf(results, sizeof(results), "sched-results-%d", (int) getpid());
	snprintf(go, sizeof(go), "sched-go-%d", (int) getpid());

	for (int i = 0; i < WORKERS; i++) { // fork before the first mpb call
		if ((pid[i] = fork()) == 0) {
			exit(worker());
		}
	}
	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_event_create(c, go, NULL), "event");
	check(mpb_queue_create(c, jobs, MPB_QUEUE_PRIORITY, 0, NULL), "create");
	check(mpb_queue_create(c, results, MPB_QUEUE_FIFO, 0, NULL), "create");
	for (int j = 0; j < JOBS; j++) { // job j: square j, priority (7j mod 10)
		put3(c, jobs, j, j, 0, (7 * j) % 10);
	}
	for (int i = 0; i < WORKERS; i++) {
		put3(c, jobs, -1, 0, 0, STOP);
	}
	check(mpb_event_set(c, go), "set"); // all queued: start
	for (int j = 0; j < JOBS; j++) {
		get3(c, results, r);
		if (j < 5) {
			printf("result: job %lld (priority %lld) = %lld\n", (long long) r[0],
			    (long long) r[1], (long long) r[2]);
		}
		bad |= r[0] < 0 || r[0] >= JOBS || done[r[0]]++ || r[2] != r[0] * r[0];
	}
	for (int i = 0; i < WORKERS; i++) {
		waitpid(pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	mpb_object_delete(c, jobs);
	mpb_object_delete(c, results);
	mpb_object_delete(c, go);
	mpb_close(c);
	printf("scheduler: %d jobs on %d workers, most urgent first: %s\n", JOBS,
	    WORKERS, bad ? "WRONG" : "OK");
	return (bad);
}
