// shared_counter.c -- N processes increment a counter in a shared dict,
// three ways: a racy read-modify-write (get, then set), the broker's
// atomic incr, and read-modify-write under a broker lock.  The racy
// total may come out short; the other two must be exact.
//
//   mpb-example-shared-counter [URL]      (default: $MPB_URL)

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpb.h>

#define PROCS 4
#define TIMES 250 // increments per process, each way

static const char *url;
static char        dict[64], lock[64];

static void
check(mpb_err err, const char *what)
{
	if (err != MPB_OK) {
		fprintf(stderr, "%s: %s\n", what, mpb_strerror(err));
		exit(1);
	}
}

// Encodes a short string (< 32 bytes) as msgpack (a fixstr) into k.
static size_t
key(char k[32], const char *s)
{
	size_t n = strlen(s);

	k[0] = (char) (0xa0 | n);
	memcpy(k + 1, s, n);
	return (n + 1);
}

// d[name] as an integer; 0 (msgpack "\x00") when absent.
static int64_t
get_int(mpb_client *c, const char *name)
{
	void            *buf;
	size_t           len;
	int64_t          v = 0;
	char             k[32];
	msgpack_unpacked u;

	check(mpb_dict_get_default(c, dict, k, key(k, name), "\x00", 1, &buf, &len), "get");
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, buf, len, NULL) == MSGPACK_UNPACK_SUCCESS) {
		v = u.data.via.i64;
	}
	msgpack_unpacked_destroy(&u);
	mpb_free(buf);
	return (v);
}

// d[name] = v.
static void
set_int(mpb_client *c, const char *name, int64_t v)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	char            k[32];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, v);
	check(mpb_dict_set(c, dict, k, key(k, name), sb.data, sb.size), "set");
	msgpack_sbuffer_destroy(&sb);
}

static int
worker(void)
{
	mpb_client *c;

	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_dict_create(c, dict, NULL), "create");
	for (int i = 0; i < TIMES; i++) { // 1. racy: another process may
		set_int(c, "racy", get_int(c, "racy") + 1); // set in between
	}
	for (int i = 0; i < TIMES; i++) { // 2. atomic, in the broker
		check(mpb_dict_incr_str(c, dict, "incr", 1, NULL), "incr");
	}
	for (int i = 0; i < TIMES; i++) { // 3. the same racy steps, locked
		check(mpb_lock_acquire(c, lock, 10000), "acquire");
		set_int(c, "locked", get_int(c, "locked") + 1);
		check(mpb_lock_release(c, lock), "release");
	}
	mpb_close(c);
	return (0);
}

int
main(int argc, char **argv)
{
	mpb_client *c;
	int         st, bad = 0;
	pid_t       pid[PROCS];

	url = argc > 1 ? argv[1] : NULL;
	snprintf(dict, sizeof(dict), "counter-%d", (int) getpid());
	snprintf(lock, sizeof(lock), "counter-lock-%d", (int) getpid());
	for (int i = 0; i < PROCS; i++) { // fork before the first mpb call
		if ((pid[i] = fork()) == 0) {
			exit(worker());
		}
	}
	for (int i = 0; i < PROCS; i++) {
		waitpid(pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	check(mpb_connect(url, 0, &c), "connect");
	int64_t racy = get_int(c, "racy"), incr = get_int(c, "incr");
	int64_t locked = get_int(c, "locked"), want = PROCS * TIMES;
	mpb_object_delete(c, dict);
	mpb_object_delete(c, lock);
	mpb_close(c);

	printf("racy get+set:   %lld of %lld (%lld updates lost)\n", (long long) racy,
	    (long long) want, (long long) (want - racy));
	printf("broker incr:    %lld of %lld\n", (long long) incr, (long long) want);
	printf("under a lock:   %lld of %lld\n", (long long) locked, (long long) want);
	bad |= incr != want || locked != want;
	printf("shared_counter: incr and lock %s\n", bad ? "WRONG" : "exact: OK");
	return (bad);
}
