// test_durable_it.c -- --data-dir: what a broker acknowledged is there
// after a restart, a kill -9, a torn last record; damage elsewhere stops
// start-up; the log is rewritten when it outgrows the live data.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "enc_it.h"
#include "harness.h"
#include "mpb.h"


typedef struct fixture {
	char        data[64]; // the data directory, kept across restarts
	char        log[96];  // data/mpbroker.aof
	mpbt_broker b;
	mpb_client *c;
} fixture;

static fixture fx;

static int
setup(void **state)
{
	(void) state;
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.data, sizeof(fx.data), "/tmp/mpbt-data-XXXXXX");
	if (mkdtemp(fx.data) == NULL) {
		return (-1);
	}
	snprintf(fx.log, sizeof(fx.log), "%s/mpbroker.aof", fx.data);
	return (0);
}

static int
teardown(void **state)
{
	(void) state;
	if (fx.c != NULL) {
		mpb_close(fx.c);
		fx.c = NULL;
	}
	if (fx.b.pid > 0) {
		mpbt_broker_kill(&fx.b);
	}
	unlink(fx.log);
	rmdir(fx.data);
	return (0);
}

// Starts a broker on the data directory and connects to it.
static bool
start(const char *fsync_policy)
{
	const char *extra[] = { "--data-dir", fx.data, "--fsync", fsync_policy,
		NULL };

	if (!mpbt_broker_start(&fx.b, extra)) {
		return (false);
	}
	return (mpb_connect(fx.b.url, 5000, &fx.c) == MPB_OK);
}

static void
stop(void)
{
	mpb_close(fx.c);
	fx.c = NULL;
	assert_int_equal(mpbt_broker_stop(&fx.b), 0);
}

static void
crash(void)
{
	mpb_close(fx.c);
	fx.c = NULL;
	mpbt_broker_kill(&fx.b);
}

static void
put_int(const char *q, int64_t v, int64_t prio)
{
	enc e = e_int(v);

	assert_ok(mpb_queue_put(fx.c, q, e.b, e.n, prio, 0));
}

static int64_t
get_int(const char *q)
{
	void   *val;
	size_t  len;
	int64_t v;

	assert_ok(mpb_queue_get(fx.c, q, 0, &val, &len, NULL));
	v = d_int(val, len);
	mpb_free(val);
	return (v);
}

static void
assert_empty(const char *q)
{
	void  *val = NULL;
	size_t len;

	assert_mpb(mpb_queue_get(fx.c, q, 0, &val, &len, NULL), MPB_EEMPTY);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return (stat(path, &st) == 0 ? st.st_size : -1);
}

// wait_compacted waits until the log is at most `limit` bytes, and
// returns its size.  The broker rewrites the log once a second when it
// is past 16 MiB and twice its size after the last rewrite; on a slow
// machine a rewrite can run while a test is still growing the log, and
// leave a base so large that what the test wrote afterwards is not twice
// it.  So while waiting, garbage of `chunk` bytes (val) is written and
// taken back through the object "churn" -- a dict -- until the log has
// grown past twice that base and been rewritten down to the live data.
static off_t
wait_compacted(off_t limit, const uint8_t *val, size_t chunk)
{
	off_t now = file_size(fx.log);

	for (int i = 0; i < 120 && (now = file_size(fx.log)) > limit; i++) {
		if (i % 4 == 3) {
			assert_ok(mpb_dict_set(fx.c, "churn", e_str("g").b,
			    e_str("g").n, val, chunk));
			assert_ok(mpb_dict_del(fx.c, "churn", e_str("g").b,
			    e_str("g").n));
		}
		mpbt_sleep_ms(250);
	}
	if (now > limit) {
		// Show what the broker said about its rewrites.
		FILE *f = fopen(fx.b.log, "r");
		char  line[512];

		fprintf(stderr, "log still %lld bytes; broker log:\n", (long long) now);
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			fputs(line, stderr);
		}
		if (f != NULL) {
			fclose(f);
		}
	}
	return (now);
}

// ---------------------------------------------------------------------

static void
test_restart_keeps_queues(void **state)
{
	mpb_queue_info info;

	(void) state;
	assert_true(start("always"));
	assert_ok(mpb_queue_create(fx.c, "f", MPB_QUEUE_FIFO, 0, NULL));
	assert_ok(mpb_queue_create(fx.c, "l", MPB_QUEUE_LIFO, 10, NULL));
	assert_ok(mpb_queue_create(fx.c, "p", MPB_QUEUE_PRIORITY, 0, NULL));
	assert_ok(mpb_queue_create(fx.c, "gone", MPB_QUEUE_FIFO, 0, NULL));
	for (int i = 0; i < 10; i++) {
		put_int("f", i, 0);
		put_int("l", i, 0);
		put_int("p", i, i % 3); // ties: FIFO among equals
	}
	put_int("gone", 1, 0);
	assert_int_equal(get_int("f"), 0);
	assert_int_equal(get_int("l"), 9);
	assert_int_equal(get_int("p"), 0);
	assert_ok(mpb_queue_delete(fx.c, "gone"));
	stop();

	assert_true(start("always"));
	for (int i = 1; i < 10; i++) {
		assert_int_equal(get_int("f"), i);
	}
	assert_empty("f");
	for (int i = 8; i >= 0; i--) {
		assert_int_equal(get_int("l"), i);
	}
	// priority 0: 3 6 9, priority 1: 1 4 7, priority 2: 2 5 8
	static const int order[] = { 3, 6, 9, 1, 4, 7, 2, 5, 8 };
	for (size_t i = 0; i < 9; i++) {
		assert_int_equal(get_int("p"), order[i]);
	}
	assert_ok(mpb_queue_info_get(fx.c, "l", &info));
	assert_int_equal(info.maxsize, 10);
	assert_mpb(mpb_queue_qsize(fx.c, "gone", &info.size), MPB_ENOENT);
	stop();
}

// kill -9 while three producers put with --fsync always: every put that
// was acknowledged is there exactly once, in order per producer.
static void
test_kill9_under_producers(void **state)
{
	enum { PRODUCERS = 3, PER = 100000 };
	mpbt_proc p[PRODUCERS];
	char     *acked[PRODUCERS];
	char      start_s[PRODUCERS][16];
	long      last[PRODUCERS];
	uint8_t  *seen = calloc(PRODUCERS * (size_t) PER, 1);
	size_t    nacked = 0;
	uint64_t  size;

	(void) state;
	assert_non_null(seen);
	assert_true(start("always"));
	assert_ok(mpb_queue_create(fx.c, "k", MPB_QUEUE_FIFO, 0, NULL));
	for (int i = 0; i < PRODUCERS; i++) {
		const char *argv[] = { mpbt_bin("mpb_testclient"), "produce-ack",
			fx.b.url, "k", start_s[i], "100000", NULL };
		snprintf(start_s[i], sizeof(start_s[i]), "%d", i * PER);
		assert_true(mpbt_spawn(&p[i], argv, true));
	}
	// Let them get going, then pull the plug.
	do {
		mpbt_sleep_ms(100);
		assert_ok(mpb_queue_qsize(fx.c, "k", &size));
	} while (size < 300);
	crash();
	for (int i = 0; i < PRODUCERS; i++) {
		acked[i] = mpbt_read_all(&p[i]);
		// The put in flight at the kill fails: outcome unknown.
		assert_int_equal(mpbt_wait(&p[i], 20000), MPB_ECONNLOST);
		last[i] = (long) i * PER - 1;
	}

	assert_true(start("always"));
	for (;;) {
		void            *val;
		size_t           len;
		size_t           off = 0;
		msgpack_unpacked u;
		long             v;
		int              who;
		mpb_err          rv = mpb_queue_get(fx.c, "k", 0, &val, &len, NULL);

		if (rv == MPB_EEMPTY) {
			break;
		}
		assert_ok(rv);
		msgpack_unpacked_init(&u);
		assert_int_equal(msgpack_unpack_next(&u, val, len, &off),
		    MSGPACK_UNPACK_SUCCESS);
		v = (long) u.data.via.u64;
		msgpack_unpacked_destroy(&u);
		mpb_free(val);
		assert_true(v >= 0 && v < PRODUCERS * PER);
		if (seen[v]) {
			fail_msg("item %ld twice after the restart", v);
		}
		seen[v] = 1;
		who     = (int) (v / PER);
		// FIFO per producer.
		assert_true(v > last[who]);
		last[who] = v;
	}
	for (int i = 0; i < PRODUCERS; i++) {
		char *save = NULL;
		for (char *t = strtok_r(acked[i], "\n", &save); t != NULL;
		     t       = strtok_r(NULL, "\n", &save)) {
			long v = strtol(t, NULL, 10);
			if (!seen[v]) {
				fail_msg("acknowledged item %ld lost", v);
			}
			nacked++;
		}
		free(acked[i]);
	}
	assert_true(nacked >= 300);
	free(seen);
	stop();
}

// The log cut at every byte of its last record: the broker starts with
// everything before that record.
static void
test_torn_last_record(void **state)
{
	off_t    before;
	off_t    after;
	uint8_t *full;
	int      fd;

	(void) state;
	assert_true(start("always"));
	assert_ok(mpb_queue_create(fx.c, "t", MPB_QUEUE_FIFO, 0, NULL));
	put_int("t", 1, 0);
	before = file_size(fx.log);
	put_int("t", 2, 0);
	after = file_size(fx.log);
	stop();
	assert_true(before > 0 && after > before);

	full = malloc((size_t) after);
	assert_non_null(full);
	fd = open(fx.log, O_RDONLY);
	assert_int_equal(read(fd, full, (size_t) after), after);
	close(fd);
	for (off_t cut = before; cut < after; cut++) {
		fd = open(fx.log, O_WRONLY | O_TRUNC);
		assert_int_equal(write(fd, full, (size_t) cut), cut);
		close(fd);
		assert_true(start("always"));
		assert_int_equal(get_int("t"), 1);
		assert_empty("t");
		stop();
	}
	free(full);
}

// Damage that is not at the end: start-up stops with a message.
static void
test_corruption_stops_startup(void **state)
{
	const char *argv[] = { mpbt_bin("mpbroker"), "--listen",
		"ipc:///tmp/mpbt-corrupt.ipc", "--data-dir", fx.data, NULL };
	char       *err;
	int         fd;
	char        byte;

	(void) state;
	assert_true(start("always"));
	assert_ok(mpb_queue_create(fx.c, "c", MPB_QUEUE_FIFO, 0, NULL));
	put_int("c", 1, 0);
	put_int("c", 2, 0);
	stop();
	// Flip a byte inside the first record's payload.
	fd = open(fx.log, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, 10), 1);
	byte ^= 0x55;
	assert_int_equal(pwrite(fd, &byte, 1, 10), 1);
	close(fd);
	assert_int_equal(mpbt_run(argv, NULL, NULL, &err, 10000), 1);
	assert_non_null(strstr(err, "damaged"));
	free(err);
}

// A log that outgrows the live data is rewritten in the background.
static void
test_rewrite(void **state)
{
	size_t   big = 1u << 20;
	uint8_t *val = malloc(big + 5);
	off_t    now;

	(void) state;
	assert_non_null(val);
	val[0] = 0xc6;
	val[1] = 0;
	val[2] = (uint8_t) (big >> 16);
	val[3] = 0;
	val[4] = 0;
	memset(val + 5, 0x5a, big);
	assert_true(start("no"));
	assert_ok(mpb_queue_create(fx.c, "r", MPB_QUEUE_FIFO, 0, NULL));
	for (int i = 0; i < 20; i++) {
		assert_ok(mpb_queue_put(fx.c, "r", val, big + 5, 0, 0));
	}
	for (int i = 0; i < 19; i++) {
		void  *got;
		size_t len;
		assert_ok(mpb_queue_get(fx.c, "r", 0, &got, &len, NULL));
		mpb_free(got);
	}
	put_int("r", 42, 0);
	// 20 MiB of puts went into the log (unless a rewrite already ran, it
	// is past 20 MiB now); it must come down to about the one item still
	// queued.
	now = wait_compacted(3 * (off_t) big, val, big + 5);
	assert_true(now <= 3 * (off_t) big);
	stop();
	assert_true(start("no"));
	{
		void  *got;
		size_t len;
		assert_ok(mpb_queue_get(fx.c, "r", 0, &got, &len, NULL));
		assert_int_equal(len, big + 5);
		assert_memory_equal(got, val, len);
		mpb_free(got);
	}
	assert_int_equal(get_int("r"), 42);
	assert_empty("r");
	free(val);
	stop();
}

// Items out on lease when the broker stops are back after the restart;
// acked ones are not.
static void
test_leases_over_restart(void **state)
{
	mpb_delivery d1;
	mpb_delivery d2;
	void        *val;
	size_t       len;

	(void) state;
	assert_true(start("always"));
	assert_ok(mpb_queue_create(fx.c, "l", MPB_QUEUE_FIFO, 0, NULL));
	put_int("l", 1, 0);
	put_int("l", 2, 0);
	put_int("l", 3, 0);
	assert_ok(mpb_queue_get_leased(fx.c, "l", 0, 60000, &val, &len, &d1));
	mpb_free(val);
	assert_ok(mpb_queue_get_leased(fx.c, "l", 0, 60000, &val, &len, &d2));
	mpb_free(val);
	assert_ok(mpb_queue_ack(fx.c, "l", d2.id)); // 2 is gone for good
	crash();

	assert_true(start("always"));
	assert_ok(mpb_queue_get_leased(fx.c, "l", 0, 60000, &val, &len, &d1));
	assert_int_equal(len, 1);
	assert_int_equal(((uint8_t *) val)[0], 1);
	assert_int_equal(d1.deliveries, 2);
	mpb_free(val);
	assert_ok(mpb_queue_ack(fx.c, "l", d1.id));
	assert_int_equal(get_int("l"), 3);
	assert_empty("l");
	stop();
	// And once more: the returns and acks replay as well.
	assert_true(start("always"));
	assert_empty("l");
	stop();
}

// ---------------------------------------------------------------------
// Dicts and lists


static void
dset(const char *d, enc k, enc v)
{
	assert_ok(mpb_dict_set(fx.c, d, k.b, k.n, v.b, v.n));
}

// d[k] must be exactly the bytes of want.
static void
expect_dget(const char *d, enc k, enc want)
{
	void  *val;
	size_t len;

	assert_ok(mpb_dict_get(fx.c, d, k.b, k.n, &val, &len));
	assert_int_equal(len, want.n);
	assert_memory_equal(val, want.b, len);
	mpb_free(val);
}

// "hex(a)" or "hex(a):hex(b)", malloc'ed.
static char *
hex_of(const mpb_value *a, const mpb_value *b)
{
	size_t n   = 2 * a->len + (b != NULL ? 2 * b->len + 1 : 0) + 1;
	char  *out = malloc(n);
	char  *p   = out;

	assert_non_null(out);
	for (size_t i = 0; i < a->len; i++, p += 2) {
		sprintf(p, "%02x", ((const uint8_t *) a->data)[i]);
	}
	if (b != NULL) {
		*p++ = ':';
		for (size_t i = 0; i < b->len; i++, p += 2) {
			sprintf(p, "%02x", ((const uint8_t *) b->data)[i]);
		}
	}
	*p = '\0';
	return (out);
}

static int
strp_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

// Joins n lines (freeing them and the array) with '\n'.
static char *
join_lines(char **lines, size_t n)
{
	size_t total = 1;
	char  *out;
	char  *p;

	for (size_t i = 0; i < n; i++) {
		total += strlen(lines[i]) + 1;
	}
	assert_non_null(out = malloc(total));
	p = out;
	for (size_t i = 0; i < n; i++) {
		p = stpcpy(p, lines[i]);
		*p++ = '\n';
		free(lines[i]);
	}
	*p = '\0';
	free(lines);
	return (out);
}

// Adds a line per `per` values of a page (1: a value; 2: a key and its
// value) to *linesp, and frees the page.
static void
add_lines(char ***linesp, size_t *np, mpb_value *vals, size_t cnt, size_t per)
{
	*linesp = realloc(*linesp, (*np + cnt / per + 1) * sizeof(**linesp));
	assert_non_null(*linesp);
	for (size_t i = 0; i + per <= cnt; i += per) {
		(*linesp)[(*np)++] = hex_of(&vals[i], per == 2 ? &vals[i + 1] : NULL);
	}
	mpb_values_free(vals, cnt);
}

// The exact contents of dict d as text: "key:value" in hex, one entry a
// line, sorted (a dict's order is unspecified).  Free it.
static char *
dict_text(const char *d)
{
	char   **lines = NULL;
	size_t   n     = 0;
	uint64_t cursor = 0;

	do {
		mpb_value *vals;
		size_t     cnt;
		assert_ok(mpb_dict_scan(fx.c, d, cursor, 1000, MPB_DICT_ITEMS,
		    &vals, &cnt, &cursor));
		add_lines(&lines, &n, vals, cnt, 2);
	} while (cursor != 0);
	qsort(lines, n, sizeof(*lines), strp_cmp);
	// The dict is not changed during the scan: no key comes twice.
	for (size_t i = 1; i < n; i++) {
		assert_true(strcmp(lines[i - 1], lines[i]) != 0);
	}
	return (join_lines(lines, n));
}

// The exact contents of list l as text: each value in hex, in order.
static char *
list_text(const char *l)
{
	char  **lines = NULL;
	size_t  n     = 0;
	int64_t start = 0;

	do {
		mpb_value *vals;
		size_t     cnt;
		assert_ok(mpb_list_slice(fx.c, l, start, MPB_LIST_END, 1000,
		    &vals, &cnt, &start));
		add_lines(&lines, &n, vals, cnt, 1);
	} while (start >= 0);
	return (join_lines(lines, n));
}

// The text list_text gives for a list of these integers.
static char *
ints_text(const int64_t *v, size_t n)
{
	char **lines = calloc(n + 1, sizeof(*lines));

	assert_non_null(lines);
	for (size_t i = 0; i < n; i++) {
		enc       e  = e_int(v[i]);
		mpb_value mv = { e.b, e.n };
		lines[i]     = hex_of(&mv, NULL);
	}
	return (join_lines(lines, n));
}

// Every kind of dict mutation, on dicts the writes create.
static void
mutate_dicts(void)
{
	static const uint8_t five16[] = { 0xcd, 0x00, 0x05 }; // 5, not canonical
	enc      five = { .n = sizeof(five16) };
	void    *k;
	void    *v;
	size_t   klen;
	size_t   vlen;
	int64_t  n;
	double   f;
	bool     b;
	mpb_buf  keys[4];
	mpb_buf  vals[4];
	enc      uk[4] = { e_str("u1"), e_str("u2"), e_str("a"), e_str("u1") };
	enc      uv[4] = { e_int(10), e_int(20), e_int(100), e_int(15) };

	memcpy(five.b, five16, sizeof(five16));
	dset("d", e_str("a"), e_int(1));
	dset("d", e_str("b"), e_int(2));
	dset("d", e_str("c"), e_int(3));
	dset("d", e_str("x"), e_str("s"));
	dset("d", five, e_str("five"));
	assert_ok(mpb_dict_del(fx.c, "d", e_str("b").b, e_str("b").n));
	assert_ok(mpb_dict_pop(fx.c, "d", e_str("c").b, e_str("c").n, &v, &vlen));
	mpb_free(v);
	for (int i = 0; i < 4; i++) {
		keys[i] = (mpb_buf) { uk[i].b, uk[i].n };
		vals[i] = (mpb_buf) { uv[i].b, uv[i].n };
	}
	assert_ok(mpb_dict_update(fx.c, "d", keys, vals, 4)); // u1: 15 wins
	assert_ok(mpb_dict_incr_str(fx.c, "d", "n", 5, &n));
	assert_ok(mpb_dict_incr_str(fx.c, "d", "n", -2, &n));
	assert_int_equal(n, 3);
	assert_ok(mpb_dict_incr_str(fx.c, "d", "a", 1, &n)); // 101
	assert_ok(mpb_dict_incr_float(fx.c, "d", e_str("f").b, e_str("f").n, 1.5, &f));
	assert_ok(mpb_dict_incr_float(fx.c, "d", e_str("f").b, e_str("f").n, 0.25, &f));
	assert_ok(mpb_dict_cas(fx.c, "d", e_str("a").b, e_str("a").n,
	    e_int(101).b, e_int(101).n, e_int(102).b, e_int(102).n, &b));
	assert_true(b);
	assert_ok(mpb_dict_cas(fx.c, "d", e_str("a").b, e_str("a").n,
	    e_int(5).b, e_int(5).n, e_int(6).b, e_int(6).n, &b));
	assert_false(b);
	assert_ok(mpb_dict_cas(fx.c, "d", e_str("new").b, e_str("new").n, NULL, 0,
	    e_str("c1").b, e_str("c1").n, &b));
	assert_true(b);
	assert_ok(mpb_dict_cas(fx.c, "d", e_str("new").b, e_str("new").n, NULL, 0,
	    e_str("c2").b, e_str("c2").n, &b));
	assert_false(b);
	assert_ok(mpb_dict_getset(fx.c, "d", e_str("x").b, e_str("x").n,
	    e_str("y").b, e_str("y").n, &v, &vlen, &b));
	assert_true(b);
	mpb_free(v);
	assert_ok(mpb_dict_getset(fx.c, "d", e_str("g").b, e_str("g").n,
	    e_int(7).b, e_int(7).n, &v, &vlen, &b));
	assert_false(b);
	assert_ok(mpb_dict_setdefault(fx.c, "d", e_str("s").b, e_str("s").n,
	    e_int(9).b, e_int(9).n, NULL, NULL, &b));
	assert_true(b);
	assert_ok(mpb_dict_setdefault(fx.c, "d", e_str("a").b, e_str("a").n,
	    e_int(0).b, e_int(0).n, NULL, NULL, &b));
	assert_false(b);

	// popitem chooses: the restart must drop the key it chose.
	dset("pi", e_int(1), e_int(1));
	dset("pi", e_int(2), e_int(2));
	dset("pi", e_int(3), e_int(3));
	assert_ok(mpb_dict_popitem(fx.c, "pi", &k, &klen, &v, &vlen));
	mpb_free(v);
	assert_true(klen == 1);
	dset("pi", e_str("popped"), e_int(((uint8_t *) k)[0]));
	mpb_free(k);

	dset("dc", e_str("k1"), e_int(1));
	dset("dc", e_str("k2"), e_int(2));
	assert_ok(mpb_dict_clear(fx.c, "dc"));
	dset("dc", e_str("k3"), e_int(3));
	dset("gone", e_str("k"), e_int(1));
	assert_ok(mpb_object_delete(fx.c, "gone"));
	assert_ok(mpb_dict_create(fx.c, "empty", &b));
	assert_true(b);
}

// Every kind of list mutation; the final "l" is expected_l.
static const int64_t expected_l[] = { 3, 77, 99, 5, 2, 0 };

static void
mutate_lists(void)
{
	mpb_buf ext[3];
	enc     ev[3] = { e_int(4), e_int(5), e_int(6) };
	void   *v;
	size_t  len;

	for (int i = 1; i <= 3; i++) {
		assert_ok(mpb_list_append(fx.c, "l", e_int(i).b, e_int(i).n));
	}
	for (int i = 0; i < 3; i++) {
		ext[i] = (mpb_buf) { ev[i].b, ev[i].n };
	}
	assert_ok(mpb_list_extend(fx.c, "l", ext, 3)); // 1 2 3 4 5 6
	assert_ok(mpb_list_insert(fx.c, "l", -1, e_int(99).b, e_int(99).n));
	assert_ok(mpb_list_insert(fx.c, "l", 0, e_int(0).b, e_int(0).n));
	assert_ok(mpb_list_insert(fx.c, "l", -100, e_int(-1).b, e_int(-1).n));
	assert_ok(mpb_list_insert(fx.c, "l", 1000, e_int(7).b, e_int(7).n));
	// -1 0 1 2 3 4 5 99 6 7
	assert_ok(mpb_list_set(fx.c, "l", 2, e_int(42).b, e_int(42).n));
	assert_ok(mpb_list_set(fx.c, "l", -1, e_int(77).b, e_int(77).n));
	assert_ok(mpb_list_del(fx.c, "l", 0)); // 0 42 2 3 4 5 99 6 77
	assert_ok(mpb_list_pop(fx.c, "l", -2, &v, &len));
	mpb_free(v);
	assert_ok(mpb_list_pop(fx.c, "l", 1, &v, &len)); // 0 2 3 4 5 99 77
	mpb_free(v);
	assert_ok(mpb_list_append(fx.c, "l", e_int(3).b, e_int(3).n));
	assert_ok(mpb_list_remove(fx.c, "l", e_int(3).b, e_int(3).n));
	assert_ok(mpb_list_reverse(fx.c, "l")); // 3 77 99 5 4 2 0
	assert_ok(mpb_list_del(fx.c, "l", -3));

	assert_ok(mpb_list_append(fx.c, "lc", e_int(1).b, e_int(1).n));
	assert_ok(mpb_list_append(fx.c, "lc", e_int(2).b, e_int(2).n));
	assert_ok(mpb_list_clear(fx.c, "lc"));
	assert_ok(mpb_list_append(fx.c, "lc", e_int(9).b, e_int(9).n));
	assert_ok(mpb_list_insert(fx.c, "li", 5, e_str("x").b, e_str("x").n));
}

// What mutate_dicts and mutate_lists left, checked entry by entry, and as
// the texts taken before the restart.
static void
expect_mutated(const char *dtext, const char *pitext, const char *ltext)
{
	static const int64_t lc[] = { 9 };
	char     *t;
	uint64_t  n;
	void     *v;
	size_t    len;
	enc       five = e_int(5);

	expect_dget("d", e_str("a"), e_int(102));
	expect_dget("d", e_str("x"), e_str("y"));
	expect_dget("d", five, e_str("five"));
	expect_dget("d", e_str("u1"), e_int(15));
	expect_dget("d", e_str("n"), e_int(3));
	expect_dget("d", e_str("new"), e_str("c1"));
	expect_dget("d", e_str("g"), e_int(7));
	expect_dget("d", e_str("s"), e_int(9));
	assert_ok(mpb_dict_get(fx.c, "d", e_str("f").b, e_str("f").n, &v, &len));
	assert_int_equal(len, 9); // incr_float stores a float 64
	mpb_free(v);
	assert_ok(mpb_dict_len(fx.c, "d", &n));
	assert_int_equal(n, 10); // a x 5 u1 u2 n f new g s
	assert_string_equal(t = dict_text("d"), dtext);
	free(t);
	assert_string_equal(t = dict_text("pi"), pitext);
	free(t);
	assert_ok(mpb_dict_len(fx.c, "pi", &n));
	assert_int_equal(n, 3); // two left, and "popped"
	assert_ok(mpb_dict_len(fx.c, "dc", &n));
	assert_int_equal(n, 1);
	expect_dget("dc", e_str("k3"), e_int(3));
	assert_mpb(mpb_dict_len(fx.c, "gone", &n), MPB_ENOENT);
	assert_ok(mpb_dict_len(fx.c, "empty", &n));
	assert_int_equal(n, 0);

	assert_string_equal(t = list_text("l"), ltext);
	free(t);
	t = ints_text(expected_l, sizeof(expected_l) / sizeof(expected_l[0]));
	assert_string_equal(t, ltext);
	free(t);
	t = ints_text(lc, 1);
	{
		char *got = list_text("lc");
		assert_string_equal(got, t);
		free(got);
	}
	free(t);
	assert_ok(mpb_list_len(fx.c, "li", &n));
	assert_int_equal(n, 1);
}

static void
test_restart_keeps_dicts_and_lists(void **state)
{
	char *dtext;
	char *pitext;
	char *ltext;

	(void) state;
	assert_true(start("always"));
	mutate_dicts();
	mutate_lists();
	dtext  = dict_text("d");
	pitext = dict_text("pi");
	ltext  = list_text("l");
	stop();

	assert_true(start("always"));
	expect_mutated(dtext, pitext, ltext);
	// A kill -9 this time, after nothing more was written.
	crash();
	assert_true(start("always"));
	expect_mutated(dtext, pitext, ltext);
	stop();
	free(dtext);
	free(pitext);
	free(ltext);
}

// kill -9 under --fsync always while a client process increments: no
// acknowledged increment is lost, and at most the one in flight (whose
// reply never came) is there beyond it.
static void
test_kill9_under_incr(void **state)
{
	const char *argv[] = { mpbt_bin("mpb_dictclient"), "incr-ack", NULL,
		"ctr", "n", "10000000", NULL };
	mpbt_proc   p;
	long        last = 0;
	char       *rest;
	int64_t     now;

	(void) state;
	assert_true(start("always"));
	argv[2] = fx.b.url;
	assert_true(mpbt_spawn(&p, argv, true));
	// Let it get going (each line is an acknowledged value), then pull
	// the plug.
	while (last < 2000) {
		char *line = mpbt_read_line(&p);
		assert_true(line[0] != '\0');
		last = strtol(line, NULL, 10);
		free(line);
	}
	crash();
	rest = mpbt_read_all(&p);
	// The increment in flight at the kill fails: outcome unknown.
	assert_int_equal(mpbt_wait(&p, 20000), MPB_ECONNLOST);
	{
		char *save = NULL;
		for (char *t = strtok_r(rest, "\n", &save); t != NULL;
		     t       = strtok_r(NULL, "\n", &save)) {
			long v = strtol(t, NULL, 10);
			assert_true(v == last + 1); // one at a time, in order
			last = v;
		}
	}
	free(rest);

	assert_true(start("always"));
	// incr by 0 reads the counter as an integer.
	assert_ok(mpb_dict_incr_str(fx.c, "ctr", "n", 0, &now));
	if (now < last || now > last + 1) {
		fail_msg("counter %lld after the restart; last acknowledged %ld",
		    (long long) now, last);
	}
	stop();
}

// A log rewrite (the log has outgrown its live data) keeps dicts and
// lists exact, and what is written after it lands in the new log.
static void
test_rewrite_keeps_dicts_and_lists(void **state)
{
	size_t   big = 1u << 20;
	uint8_t *val = malloc(big + 5);
	off_t    now;
	char    *dtext;
	char    *ltext;
	char    *t;

	(void) state;
	assert_non_null(val);
	val[0] = 0xc6; // bin 32 of `big` bytes
	val[1] = 0;
	val[2] = (uint8_t) (big >> 16);
	val[3] = 0;
	val[4] = 0;
	memset(val + 5, 0xa5, big);
	assert_true(start("no"));
	for (int i = 0; i < 200; i++) {
		dset("rd", e_int(i), e_int((int64_t) i * i));
		assert_ok(mpb_list_append(fx.c, "rl", e_int(i).b, e_int(i).n));
	}
	for (int i = 0; i < 200; i += 3) {
		assert_ok(mpb_dict_del(fx.c, "rd", e_int(i).b, e_int(i).n));
		assert_ok(mpb_list_del(fx.c, "rl", i / 3));
	}
	assert_ok(mpb_list_reverse(fx.c, "rl"));
	assert_ok(mpb_dict_set(fx.c, "rd", e_str("keep").b, e_str("keep").n, val,
	    big + 5));
	// Grow the log well past 16 MiB with values that then go.
	for (int i = 0; i < 10; i++) {
		assert_ok(mpb_dict_set(fx.c, "rd", e_str("big").b,
		    e_str("big").n, val, big + 5));
		assert_ok(mpb_list_insert(fx.c, "rl", 7, val, big + 5));
	}
	assert_ok(mpb_dict_del(fx.c, "rd", e_str("big").b, e_str("big").n));
	for (int i = 0; i < 10; i++) {
		assert_ok(mpb_list_del(fx.c, "rl", 7));
	}
	now = wait_compacted(3 * (off_t) big, val, big + 5);
	assert_true(now <= 3 * (off_t) big);
	dset("rd", e_str("after"), e_int(1));
	assert_ok(mpb_list_insert(fx.c, "rl", 0, e_str("after").b, e_str("after").n));
	dtext = dict_text("rd");
	ltext = list_text("rl");
	stop();

	assert_true(start("no"));
	assert_string_equal(t = dict_text("rd"), dtext);
	free(t);
	assert_string_equal(t = list_text("rl"), ltext);
	free(t);
	expect_dget("rd", e_int(1), e_int(1));
	{
		bool found;
		assert_ok(mpb_dict_contains(fx.c, "rd", e_int(3).b, e_int(3).n, &found));
		assert_false(found);
	}
	free(dtext);
	free(ltext);
	free(val);
	stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_keeps_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_under_producers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_stops_startup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leases_over_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_dicts_and_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_under_incr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_keeps_dicts_and_lists, setup, teardown),
	};

	return (cmocka_run_group_tests_name("durability", tests, NULL, NULL));
}
