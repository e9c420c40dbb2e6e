// producer_consumer.c -- several producer processes and several consumer
// processes share one fifo queue; the parent ends each consumer with a
// sentinel and checks what they got.
//
//   mpb-example-producer-consumer [URL]      (default: $MPB_URL)

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpb.h>

#define PRODUCERS 3
#define CONSUMERS 2
#define ITEMS     100 // per producer: the numbers 1..ITEMS
#define SENTINEL  (-1)

static const char *url;
static char        jobs[64], totals[64];

static void
check(mpb_err err, const char *what)
{
	if (err != MPB_OK) {
		fprintf(stderr, "%s: %s\n", what, mpb_strerror(err));
		exit(1);
	}
}

// Every message here is a msgpack array of two integers [a, b].
static void
put(mpb_client *c, const char *q, int64_t a, int64_t b)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int64(&pk, a);
	msgpack_pack_int64(&pk, b);
	check(mpb_queue_put(c, q, sb.data, sb.size, 0, 10000), "put");
	msgpack_sbuffer_destroy(&sb);
}

static void
get(mpb_client *c, const char *q, int64_t *a, int64_t *b)
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
	*a = u.data.via.array.ptr[0].via.i64;
	*b = u.data.via.array.ptr[1].via.i64;
	msgpack_unpacked_destroy(&u);
	mpb_free(buf);
}

static int
worker(int consumer)
{
	mpb_client *c;
	int64_t     from, v, n = 0, sum = 0;

	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_queue_create(c, jobs, MPB_QUEUE_FIFO, 0, NULL), "create");
	if (!consumer) {
		for (int i = 1; i <= ITEMS; i++) {
			put(c, jobs, getpid(), i); // [producer, item]
		}
	} else {
		// Take items until a sentinel; then report [count, sum].
		for (get(c, jobs, &from, &v); from != SENTINEL; get(c, jobs, &from, &v)) {
			n++;
			sum += v;
		}
		put(c, totals, n, sum);
	}
	mpb_close(c);
	return (0);
}

int
main(int argc, char **argv)
{
	mpb_client *c;
	pid_t       pid[PRODUCERS + CONSUMERS];
	int         st, bad = 0;
	int64_t     n = 0, sum = 0, cn, csum;

	url = argc > 1 ? argv[1] : NULL;
	snprintf(jobs, sizeof(jobs), "pc-jobs-%d", (int) getpid());
	snprintf(totals, sizeof(totals), "pc-totals-%d", (int) getpid());

	// Fork every worker before this process first uses libmpb.
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		if ((pid[i] = fork()) == 0) {
			exit(worker(i >= PRODUCERS));
		}
	}
	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_queue_create(c, jobs, MPB_QUEUE_FIFO, 0, NULL), "create");
	check(mpb_queue_create(c, totals, MPB_QUEUE_FIFO, 0, NULL), "create");
	for (int i = 0; i < PRODUCERS; i++) { // producers done: one sentinel each
		waitpid(pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	for (int i = 0; i < CONSUMERS; i++) {
		put(c, jobs, SENTINEL, 0);
	}
	for (int i = 0; i < CONSUMERS; i++) {
		get(c, totals, &cn, &csum);
		printf("consumer: %lld items, sum %lld\n", (long long) cn, (long long) csum);
		n += cn;
		sum += csum;
	}
	for (int i = PRODUCERS; i < PRODUCERS + CONSUMERS; i++) {
		waitpid(pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	mpb_object_delete(c, jobs);
	mpb_object_delete(c, totals);
	mpb_close(c);

	int64_t want_n = PRODUCERS * ITEMS, want_sum = PRODUCERS * ITEMS * (ITEMS + 1) / 2;
	bad |= n != want_n || sum != want_sum;
	printf("total: %lld items, sum %lld (want %lld, %lld): %s\n", (long long) n,
	    (long long) sum, (long long) want_n, (long long) want_sum, bad ? "WRONG" : "OK");
	return (bad);
}
