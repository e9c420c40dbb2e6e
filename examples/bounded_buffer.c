// bounded_buffer.c -- producers and consumers share a bounded buffer: a
// shared list of at most CAP items, guarded by a lock with two conditions
// bound to it, "not full" and "not empty" (the textbook monitor).
//
//   mpb-example-bounded-buffer [URL]      (default: $MPB_URL)

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpb.h>

#define PRODUCERS 2
#define CONSUMERS 3
#define ITEMS     60 // per producer: 1..ITEMS
#define CAP       4
#define SENTINEL  (-1)

static const char *url;
static char        buf[64], lock[64], notfull[64], notempty[64], totals[64];

static void
check(mpb_err err, const char *what)
{
	if (err != MPB_OK) {
		fprintf(stderr, "%s: %s\n", what, mpb_strerror(err));
		exit(1);
	}
}

// Waits on cond until len(buf) is not `bad_len`; the lock is held.
static void
wait_while_len(mpb_client *c, const char *cond, uint64_t bad_len)
{
	uint64_t n;
	bool     notified;

	for (;;) {
		check(mpb_list_len(c, buf, &n), "len");
		if (n != bad_len) {
			return;
		}
		check(mpb_cond_wait(c, cond, 10000, &notified), "wait");
		check(notified ? MPB_OK : MPB_ETIMEDOUT, "wait");
	}
}

static void
put(mpb_client *c, int64_t item)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, item);
	check(mpb_lock_acquire(c, lock, 10000), "acquire");
	wait_while_len(c, notfull, CAP);
	check(mpb_list_append(c, buf, sb.data, sb.size), "append");
	check(mpb_cond_notify(c, notempty, 1, NULL), "notify");
	check(mpb_lock_release(c, lock), "release");
	msgpack_sbuffer_destroy(&sb);
}

static int64_t
take(mpb_client *c)
{
	void            *v;
	size_t           len;
	int64_t          item = 0;
	msgpack_unpacked u;

	check(mpb_lock_acquire(c, lock, 10000), "acquire");
	wait_while_len(c, notempty, 0);
	check(mpb_list_pop(c, buf, 0, &v, &len), "pop"); // the oldest
	check(mpb_cond_notify(c, notfull, 1, NULL), "notify");
	check(mpb_lock_release(c, lock), "release");
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, v, len, NULL) == MSGPACK_UNPACK_SUCCESS) {
		item = u.data.via.i64;
	}
	msgpack_unpacked_destroy(&u);
	mpb_free(v);
	return (item);
}

static mpb_client *
open_all(void)
{
	mpb_client *c;

	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_list_create(c, buf, NULL), "list");
	check(mpb_cond_create(c, notfull, lock, NULL), "cond"); // creates the lock
	check(mpb_cond_create(c, notempty, lock, NULL), "cond");
	return (c);
}

static int
worker(int consumer)
{
	mpb_client *c = open_all();
	int64_t     item;

	for (int i = 1; !consumer && i <= ITEMS; i++) {
		put(c, i);
	}
	while (consumer && (item = take(c)) != SENTINEL) {
		check(mpb_dict_incr_str(c, totals, "items", 1, NULL), "incr");
		check(mpb_dict_incr_str(c, totals, "sum", item, NULL), "incr");
	}
	mpb_close(c);
	return (0);
}

int
main(int argc, char **argv)
{
	pid_t   pid[PRODUCERS + CONSUMERS];
	int     st, bad = 0;
	int64_t n, sum;

	url = argc > 1 ? argv[1] : NULL;
	snprintf(buf, sizeof(buf), "bb-buffer-%d", (int) getpid());
	snprintf(lock, sizeof(lock), "bb-lock-%d", (int) getpid());
	snprintf(notfull, sizeof(notfull), "bb-notfull-%d", (int) getpid());
	snprintf(notempty, sizeof(notempty), "bb-notempty-%d", (int) getpid());
	snprintf(totals, sizeof(totals), "bb-totals-%d", (int) getpid());
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) { // fork first
		if ((pid[i] = fork()) == 0) {
			exit(worker(i >= PRODUCERS));
		}
	}
	mpb_client *c = open_all();
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		if (i == PRODUCERS) { // producers done: a sentinel per consumer
			for (int j = 0; j < CONSUMERS; j++) {
				put(c, SENTINEL);
			}
		}
		waitpid(pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	check(mpb_dict_incr_str(c, totals, "items", 0, &n), "read"); // +0: a read
	check(mpb_dict_incr_str(c, totals, "sum", 0, &sum), "read");
	const char *names[] = {buf, lock, notfull, notempty, totals};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mpb_object_delete(c, names[i]);
	}
	mpb_close(c);
	bad |= n != PRODUCERS * ITEMS || sum != PRODUCERS * ITEMS * (ITEMS + 1) / 2;
	printf("bounded_buffer: %lld items, sum %lld, through a buffer of %d: %s\n",
	    (long long) n, (long long) sum, CAP, bad ? "WRONG" : "OK");
	return (bad);
}
