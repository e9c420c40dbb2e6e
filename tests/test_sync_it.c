// test_sync_it.c -- synchronisation objects against a real broker, with
// real client processes (syncclient) where the issue asks for them:
// mutual exclusion under a lock, a SIGKILLed holder, event wake-ups,
// producer/consumer on a condition, a barrier of processes, pipes between
// processes, and the mpb CLI's lock/event/sem commands.  Every test
// starts its own broker.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mpb.h"
#include "sync_values.h"


// How soon a waiter must proceed once what it waits for happened.  Far
// above the milliseconds it takes; it only catches "never" or "after
// some long timeout".
#define PROMPT_MS 2000

static struct {
	mpbt_broker broker;
	mpb_client *c;  // the test's own session
	mpb_client *c2; // a second session in the test process
	char        dir[64];
} fx;

static int
setup(void **state)
{
	(void) state;
	if (!mpbt_broker_start(&fx.broker, NULL)) {
		return (-1);
	}
	if (mpb_connect(fx.broker.url, 5000, &fx.c) != MPB_OK ||
	    mpb_connect(fx.broker.url, 5000, &fx.c2) != MPB_OK) {
		return (-1);
	}
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/mpbt-sync-XXXXXX");
	return (mkdtemp(fx.dir) != NULL ? 0 : -1);
}

static int
teardown(void **state)
{
	char path[128];

	(void) state;
	mpb_close(fx.c);
	mpb_close(fx.c2);
	snprintf(path, sizeof(path), "%s/counter", fx.dir);
	(void) unlink(path);
	(void) rmdir(fx.dir);
	return (mpbt_broker_stop(&fx.broker) == 0 ? 0 : -1);
}

// Starts syncclient MODE URL args... (NULL-terminated), stdout piped.
static void
spawn(mpbt_proc *p, const char *mode, ...)
{
	const char *argv[16] = { mpbt_bin("mpb_syncclient"), mode, fx.broker.url };
	size_t      n        = 3;
	va_list     ap;

	va_start(ap, mode);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL) {
		n++;
	}
	va_end(ap);
	argv[n] = NULL;
	assert_true(mpbt_spawn(p, argv, true));
}

// Reads one line of the child's stdout (without the newline), waiting at
// most timeout_ms; fails the test on timeout or end of file.
static void
read_line(mpbt_proc *p, char *buf, size_t size, int timeout_ms)
{
	long long     end = mpbt_now_ms() + timeout_ms;
	size_t        n   = 0;
	struct pollfd pfd = { .fd = p->out_fd, .events = POLLIN };

	for (;;) {
		int  left = (int) (end - mpbt_now_ms());
		char ch;

		assert_true(left > 0);
		assert_true(poll(&pfd, 1, left) == 1);
		assert_int_equal(read(p->out_fd, &ch, 1), 1);
		if (ch == '\n') {
			break;
		}
		assert_true(n + 1 < size);
		buf[n++] = ch;
	}
	buf[n] = '\0';
}

static long long
read_num(mpbt_proc *p, int timeout_ms)
{
	char line[64];

	read_line(p, line, sizeof(line), timeout_ms);
	return (atoll(line));
}

static void
expect_line(mpbt_proc *p, const char *want, int timeout_ms)
{
	char line[64];

	read_line(p, line, sizeof(line), timeout_ms);
	assert_string_equal(line, want);
}

static void
kill_proc(mpbt_proc *p)
{
	assert_int_equal(kill(p->pid, SIGKILL), 0);
	assert_int_equal(mpbt_wait(p, 5000), 128 + SIGKILL);
	close(p->out_fd);
}

// The size mpb_object_list reports for name (its kind checked too).
static uint64_t
object_size(const char *name, const char *kind)
{
	mpb_object_info *list;
	size_t           n;
	uint64_t         size = UINT64_MAX;

	assert_ok(mpb_object_list(fx.c, &list, &n));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, name) == 0) {
			assert_string_equal(list[i].kind, kind);
			size = list[i].size;
		}
	}
	mpb_object_list_free(list, n);
	assert_true(size != UINT64_MAX);
	return (size);
}

// ---------------------------------------------------------------------
// Locks

// N processes each add 1 to a number in a file M times, reading, sleeping
// and writing under the lock: any overlap loses an update.
static void
test_lock_mutual_exclusion(void **state)
{
	enum { NPROC = 4, EACH = 25 };
	mpbt_proc p[NPROC];
	char      path[128];
	FILE     *f;
	long long v = -1;

	(void) state;
	snprintf(path, sizeof(path), "%s/counter", fx.dir);
	for (int i = 0; i < NPROC; i++) {
		spawn(&p[i], "incr", "mx", path, "25", "2000", NULL);
	}
	for (int i = 0; i < NPROC; i++) {
		assert_int_equal(mpbt_wait(&p[i], 120000), 0);
		close(p[i].out_fd);
	}
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%lld", &v), 1);
	fclose(f);
	assert_int_equal(v, NPROC * EACH);
	assert_int_equal(object_size("mx", "lock"), 0);
}

// A holder killed with SIGKILL: a process waiting for the lock gets it
// at once.
static void
test_lock_holder_killed(void **state)
{
	mpbt_proc holder;
	mpbt_proc waiter;
	long long killed_at;
	long long got_at;

	(void) state;
	spawn(&holder, "hold", "k9", NULL);
	expect_line(&holder, "held", 10000);
	spawn(&waiter, "acquire", "k9", "60000", NULL);
	mpbt_sleep_ms(300); // parked by now
	assert_true(mpbt_running(&waiter));
	killed_at = mpbt_now_ms();
	kill_proc(&holder);
	got_at = read_num(&waiter, 10000);
	assert_int_equal(mpbt_wait(&waiter, 10000), 0);
	close(waiter.out_fd);
	assert_true(got_at >= killed_at);
	assert_true(got_at - killed_at < PROMPT_MS);
}

static void
test_lock_errors_and_lease(void **state)
{
	bool      b;
	long long t0;

	(void) state;
	assert_ok(mpb_lock_create(fx.c, "l", &b));
	assert_true(b);
	assert_ok(mpb_lock_create(fx.c, "l", &b));
	assert_false(b);
	assert_mpb(mpb_rlock_create(fx.c, "l", &b), MPB_EWRONGTYPE);
	assert_mpb(mpb_rlock_acquire(fx.c, "l", 0), MPB_EWRONGTYPE);
	assert_mpb(mpb_lock_release(fx.c, "l"), MPB_ENOTOWNER);
	assert_ok(mpb_lock_acquire(fx.c, "l", 0));
	assert_ok(mpb_lock_locked(fx.c2, "l", &b));
	assert_true(b);
	assert_mpb(mpb_lock_acquire(fx.c, "l", 1000), MPB_ESTATE);
	assert_mpb(mpb_lock_acquire(fx.c2, "l", 0), MPB_EBUSY);
	t0 = mpbt_now_ms();
	assert_mpb(mpb_lock_acquire(fx.c2, "l", 200), MPB_ETIMEDOUT);
	assert_true(mpbt_now_ms() - t0 >= 190);
	assert_mpb(mpb_lock_release(fx.c2, "l"), MPB_ENOTOWNER);
	assert_ok(mpb_lock_release(fx.c, "l"));
	assert_mpb(mpb_lock_release(fx.c, "l"), MPB_ENOTOWNER);
	assert_ok(mpb_lock_locked(fx.c, "l", &b));
	assert_false(b);

	// A lease: the broker releases for a holder that does not, and the
	// next waiter proceeds; the late release is refused.
	assert_ok(mpb_lock_acquire_lease(fx.c, "leased", 0, 300));
	t0 = mpbt_now_ms();
	assert_ok(mpb_lock_acquire(fx.c2, "leased", 10000));
	assert_true(mpbt_now_ms() - t0 >= 250);
	assert_true(mpbt_now_ms() - t0 < PROMPT_MS);
	assert_mpb(mpb_lock_release(fx.c, "leased"), MPB_ENOTOWNER);
	assert_ok(mpb_lock_release(fx.c2, "leased"));
	// A lease nobody waits for simply frees the lock.
	assert_ok(mpb_lock_acquire_lease(fx.c, "leased", 0, 100));
	mpbt_sleep_ms(400);
	assert_ok(mpb_lock_locked(fx.c, "leased", &b));
	assert_false(b);
	// Deleting a lock fails its waiters.
	assert_ok(mpb_lock_acquire(fx.c, "l", 0));
	assert_ok(mpb_object_delete(fx.c2, "l"));
	assert_mpb(mpb_lock_release(fx.c, "l"), MPB_ENOENT);
}

static void *
release_from_thread(void *arg)
{
	return ((void *) (intptr_t) mpb_rlock_release(arg, "r"));
}

static void
test_rlock_reentry_and_owner(void **state)
{
	pthread_t th;
	void     *res;

	(void) state;
	for (int i = 0; i < 3; i++) {
		assert_ok(mpb_rlock_acquire(fx.c, "r", 0));
	}
	assert_int_equal(object_size("r", "rlock"), 3);
	assert_mpb(mpb_lock_acquire(fx.c, "r", 0), MPB_EWRONGTYPE);
	// Another session, and another thread of this session, are other
	// owners.
	assert_mpb(mpb_rlock_acquire(fx.c2, "r", 0), MPB_EBUSY);
	assert_mpb(mpb_rlock_release(fx.c2, "r"), MPB_ENOTOWNER);
	assert_int_equal(pthread_create(&th, NULL, release_from_thread, fx.c), 0);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_int_equal((intptr_t) res, MPB_ENOTOWNER);
	for (int i = 0; i < 3; i++) {
		assert_ok(mpb_rlock_release(fx.c, "r"));
	}
	assert_mpb(mpb_rlock_release(fx.c, "r"), MPB_ENOTOWNER);
	assert_ok(mpb_rlock_acquire(fx.c2, "r", 0));
	assert_int_equal(object_size("r", "rlock"), 1);
	// Closing the session frees the rlock whatever its count.
	assert_ok(mpb_rlock_acquire(fx.c2, "r", 0));
	mpb_close(fx.c2);
	assert_ok(mpb_connect(fx.broker.url, 5000, &fx.c2));
	assert_ok(mpb_rlock_acquire(fx.c, "r", PROMPT_MS));
	assert_int_equal(object_size("r", "rlock"), 1);
}

// ---------------------------------------------------------------------
// Semaphores and events

static void
test_semaphore(void **state)
{
	mpbt_proc holder;
	uint64_t  v;
	bool      b;

	(void) state;
	assert_ok(mpb_sem_create(fx.c, "bs", 2, true, &b));
	assert_true(b);
	assert_mpb(mpb_sem_create(fx.c, "bs", 3, true, &b), MPB_EEXIST);
	assert_mpb(mpb_sem_create(fx.c, "bs", 2, false, &b), MPB_EEXIST);
	assert_ok(mpb_sem_acquire(fx.c, "bs", 0));
	assert_ok(mpb_sem_acquire(fx.c2, "bs", 0));
	assert_mpb(mpb_sem_acquire(fx.c, "bs", 0), MPB_EBUSY);
	assert_mpb(mpb_sem_acquire(fx.c, "bs", 100), MPB_ETIMEDOUT);
	assert_ok(mpb_sem_release(fx.c, "bs", 1));
	assert_ok(mpb_sem_release(fx.c2, "bs", 1));
	// Bounded: over-release is refused and changes nothing.
	assert_mpb(mpb_sem_release(fx.c, "bs", 1), MPB_ESTATE);
	assert_ok(mpb_sem_value(fx.c, "bs", &v));
	assert_int_equal(v, 2);
	assert_int_equal(object_size("bs", "bounded"), 2);
	assert_mpb(mpb_sem_release(fx.c, "bs", 0), MPB_EINVAL);

	// Default: a semaphore at 1, not bounded.
	assert_ok(mpb_sem_release(fx.c, "plain", 2));
	assert_ok(mpb_sem_value(fx.c, "plain", &v));
	assert_int_equal(v, 3);
	assert_int_equal(object_size("plain", "semaphore"), 3);

	// A killed process's permit comes back, and a waiter gets it.
	assert_ok(mpb_sem_create(fx.c, "one", 1, true, NULL));
	spawn(&holder, "sem-hold", "one", NULL);
	expect_line(&holder, "held", 10000);
	assert_ok(mpb_sem_value(fx.c, "one", &v));
	assert_int_equal(v, 0);
	kill_proc(&holder);
	assert_ok(mpb_sem_acquire(fx.c, "one", PROMPT_MS));
	// A detached permit is not returned when its session ends.
	assert_ok(mpb_sem_release(fx.c, "one", 1));
	assert_ok(mpb_sem_acquire_detached(fx.c2, "one", 0));
	mpb_close(fx.c2);
	assert_ok(mpb_connect(fx.broker.url, 5000, &fx.c2));
	mpbt_sleep_ms(200);
	assert_ok(mpb_sem_value(fx.c, "one", &v));
	assert_int_equal(v, 0);
}

static void
test_event_wakes_all(void **state)
{
	enum { NPROC = 8 };
	mpbt_proc p[NPROC];
	long long set_at;
	bool      b;

	(void) state;
	assert_ok(mpb_event_create(fx.c, "ev", &b));
	assert_true(b);
	for (int i = 0; i < NPROC; i++) {
		spawn(&p[i], "event-wait", "ev", "60000", NULL);
	}
	for (int i = 0; i < NPROC; i++) {
		expect_line(&p[i], "ready", 10000);
	}
	mpbt_sleep_ms(300); // all parked by now
	assert_ok(mpb_event_is_set(fx.c, "ev", &b));
	assert_false(b);
	set_at = mpbt_now_ms();
	assert_ok(mpb_event_set(fx.c, "ev"));
	for (int i = 0; i < NPROC; i++) {
		assert_int_equal(read_num(&p[i], 10000), 1);
		assert_int_equal(mpbt_wait(&p[i], 10000), 0);
		close(p[i].out_fd);
	}
	assert_true(mpbt_now_ms() - set_at < PROMPT_MS);
	assert_int_equal(object_size("ev", "event"), 1);
	assert_ok(mpb_event_wait(fx.c, "ev", 0, &b));
	assert_true(b);
	assert_ok(mpb_event_clear(fx.c, "ev"));
	assert_ok(mpb_event_wait(fx.c, "ev", 0, &b));
	assert_false(b);
	assert_ok(mpb_event_wait(fx.c, "ev", 150, &b));
	assert_false(b);
	assert_mpb(mpb_lock_acquire(fx.c, "ev", 0), MPB_EWRONGTYPE);
}

// ---------------------------------------------------------------------
// Conditions

static void
test_condition_errors(void **state)
{
	bool     b;
	uint64_t n;

	(void) state;
	assert_mpb(mpb_cond_wait(fx.c, "nocond", 10, &b), MPB_ENOENT);
	assert_ok(mpb_cond_create(fx.c, "c", "c-lock", &b));
	assert_true(b);
	assert_mpb(mpb_cond_create(fx.c, "c", "other", &b), MPB_EEXIST);
	assert_ok(mpb_event_create(fx.c, "anevent", NULL));
	assert_mpb(mpb_cond_create(fx.c, "c2", "anevent", &b), MPB_EWRONGTYPE);
	// Not holding the lock.
	assert_mpb(mpb_cond_wait(fx.c, "c", 100, &b), MPB_ENOTOWNER);
	assert_mpb(mpb_cond_notify(fx.c, "c", 1, &n), MPB_ENOTOWNER);
	assert_mpb(mpb_cond_notify_all(fx.c, "c", &n), MPB_ENOTOWNER);
	// A wait that times out returns false with the lock held again.
	assert_ok(mpb_lock_acquire(fx.c, "c-lock", 0));
	assert_ok(mpb_cond_wait(fx.c, "c", 150, &b));
	assert_false(b);
	assert_ok(mpb_cond_notify(fx.c, "c", 5, &n));
	assert_int_equal(n, 0);
	assert_ok(mpb_lock_release(fx.c, "c-lock"));
	// Bound to an rlock: the whole count is released while waiting and
	// restored after.
	assert_ok(mpb_rlock_create(fx.c, "rc-lock", NULL));
	assert_ok(mpb_cond_create(fx.c, "rc", "rc-lock", NULL));
	assert_ok(mpb_rlock_acquire(fx.c, "rc-lock", 0));
	assert_ok(mpb_rlock_acquire(fx.c, "rc-lock", 0));
	assert_ok(mpb_cond_wait(fx.c, "rc", 100, &b));
	assert_false(b);
	assert_int_equal(object_size("rc-lock", "rlock"), 2);
	assert_ok(mpb_rlock_release(fx.c, "rc-lock"));
	assert_ok(mpb_rlock_release(fx.c, "rc-lock"));
	assert_mpb(mpb_rlock_release(fx.c, "rc-lock"), MPB_ENOTOWNER);
	// Deleting the lock leaves the condition unusable.
	assert_ok(mpb_object_delete(fx.c, "rc-lock"));
	assert_mpb(mpb_cond_notify_all(fx.c, "rc", &n), MPB_ENOENT);
}

// The classic bounded-buffer example: 3 producers and 3 consumers share
// a queue used only under the condition's lock.
static void
test_condition_producer_consumer(void **state)
{
	enum { NPROC = 3, EACH = 40 };
	mpbt_proc prod[NPROC];
	mpbt_proc cons[NPROC];
	char      start[NPROC][16];
	long long want = 0;
	long long got  = 0;
	long long count = 0;

	(void) state;
	assert_ok(mpb_queue_create(fx.c, "items", MPB_QUEUE_FIFO, 0, NULL));
	assert_ok(mpb_cond_create(fx.c, "cv", "cv-lock", NULL));
	for (int i = 0; i < NPROC; i++) {
		spawn(&cons[i], "consume", "cv", "items", "40", NULL);
	}
	for (int i = 0; i < NPROC; i++) {
		snprintf(start[i], sizeof(start[i]), "%d", i * 1000);
		spawn(&prod[i], "produce", "cv", "items", start[i], "40", NULL);
		for (int j = 0; j < EACH; j++) {
			want += i * 1000 + j;
		}
	}
	for (int i = 0; i < NPROC; i++) {
		assert_int_equal(mpbt_wait(&prod[i], 120000), 0);
		close(prod[i].out_fd);
	}
	for (int i = 0; i < NPROC; i++) {
		count += read_num(&cons[i], 60000);
		got += read_num(&cons[i], 10000);
		assert_int_equal(mpbt_wait(&cons[i], 10000), 0);
		close(cons[i].out_fd);
	}
	assert_int_equal(count, NPROC * EACH);
	assert_int_equal(got, want);
	assert_int_equal(object_size("items", "fifo"), 0);
	assert_int_equal(object_size("cv", "condition"), 0);
	assert_int_equal(object_size("cv-lock", "lock"), 0);
}

// ---------------------------------------------------------------------
// Barriers

static void
test_barrier(void **state)
{
	enum { PARTIES = 5 };
	mpbt_proc p[PARTIES];
	mpbt_proc lone;
	int       seen[PARTIES] = { 0 };
	long long t0;
	uint64_t  idx;

	(void) state;
	assert_mpb(mpb_barrier_wait(fx.c, "b", 0, &idx), MPB_ENOENT);
	assert_mpb(mpb_barrier_create(fx.c, "b", 0, NULL), MPB_EINVAL);
	assert_ok(mpb_barrier_create(fx.c, "b", PARTIES, NULL));
	assert_mpb(mpb_barrier_create(fx.c, "b", 4, NULL), MPB_EEXIST);
	for (int round = 0; round < 2; round++) {
		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < PARTIES; i++) {
			spawn(&p[i], "barrier", "b", "60000", NULL);
		}
		for (int i = 0; i < PARTIES; i++) {
			long long k = read_num(&p[i], 20000);

			assert_true(k >= 0 && k < PARTIES);
			seen[k]++;
			assert_int_equal(mpbt_wait(&p[i], 10000), 0);
			close(p[i].out_fd);
		}
		for (int i = 0; i < PARTIES; i++) {
			assert_int_equal(seen[i], 1);
		}
	}

	// A timeout breaks the barrier for every waiter.
	assert_ok(mpb_barrier_create(fx.c, "bt", 3, NULL));
	spawn(&lone, "barrier", "bt", "60000", NULL);
	mpbt_sleep_ms(300);
	assert_int_equal(object_size("bt", "barrier"), 1);
	t0 = mpbt_now_ms();
	assert_mpb(mpb_barrier_wait(fx.c, "bt", 200, &idx), MPB_EBROKEN);
	assert_true(mpbt_now_ms() - t0 >= 190);
	assert_int_equal(mpbt_wait(&lone, PROMPT_MS), MPB_EBROKEN);
	close(lone.out_fd);
	assert_mpb(mpb_barrier_wait(fx.c, "bt", 1000, &idx), MPB_EBROKEN);
	assert_ok(mpb_barrier_reset(fx.c, "bt"));
	// Usable again; then abort fails a waiter.
	spawn(&lone, "barrier", "bt", "60000", NULL);
	mpbt_sleep_ms(300);
	assert_ok(mpb_barrier_abort(fx.c, "bt"));
	assert_int_equal(mpbt_wait(&lone, PROMPT_MS), MPB_EBROKEN);
	close(lone.out_fd);
	assert_mpb(mpb_barrier_wait(fx.c, "bt", 0, &idx), MPB_EBROKEN);
	assert_ok(mpb_barrier_reset(fx.c, "bt"));
	// A barrier of one never waits.
	assert_ok(mpb_barrier_create(fx.c, "b1", 1, NULL));
	assert_ok(mpb_barrier_wait(fx.c, "b1", 0, &idx));
	assert_int_equal(idx, 0);
}

// ---------------------------------------------------------------------
// Pipes

static int64_t
recv_int(mpb_client *c, const char *pipe, unsigned end, uint32_t timeout)
{
	void   *val;
	size_t  len;
	int64_t v = 0;

	assert_ok(mpb_pipe_recv(c, pipe, end, timeout, &val, &len));
	assert_ok(mpbt_unpack_int(val, len, &v));
	mpb_free(val);
	return (v);
}

static void
send_int(mpb_client *c, const char *pipe, unsigned end, int64_t v)
{
	char   buf[16];
	size_t len = mpbt_pack_int(v, buf);

	assert_ok(mpb_pipe_send(c, pipe, end, buf, len));
}

static void
test_pipe_ping_pong(void **state)
{
	enum { ROUNDS = 100 };
	mpbt_proc pong;
	void     *val;
	size_t    len;
	bool      ready;

	(void) state;
	spawn(&pong, "pong", "pp", "1", NULL);
	expect_line(&pong, "ready", 10000);
	assert_mpb(mpb_pipe_open(fx.c, "pp", 1), MPB_EBUSY);
	assert_mpb(mpb_pipe_open(fx.c, "pp", 2), MPB_EINVAL);
	assert_mpb(mpb_pipe_recv(fx.c, "pp", 0, 0, &val, &len), MPB_ENOTOWNER);
	assert_ok(mpb_pipe_open(fx.c, "pp", 0));
	assert_ok(mpb_pipe_open(fx.c, "pp", 0));
	assert_mpb(mpb_pipe_recv(fx.c, "pp", 0, 0, &val, &len), MPB_EEMPTY);
	assert_ok(mpb_pipe_poll(fx.c, "pp", 0, 50, &ready));
	assert_false(ready);
	for (int i = 0; i < ROUNDS; i++) {
		send_int(fx.c, "pp", 0, 2 * i);
		assert_int_equal(recv_int(fx.c, "pp", 0, 10000), 2 * i + 1);
	}
	// Sent before the close, received after it.
	send_int(fx.c, "pp", 0, 7);
	assert_ok(mpb_pipe_poll(fx.c, "pp", 0, 10000, &ready));
	assert_true(ready);
	assert_int_equal(recv_int(fx.c, "pp", 0, 0), 8);
	assert_ok(mpb_pipe_close(fx.c, "pp", 0));
	assert_int_equal(read_num(&pong, 10000), ROUNDS + 1);
	assert_int_equal(mpbt_wait(&pong, 10000), 0);
	close(pong.out_fd);
	assert_mpb(mpb_pipe_open(fx.c, "pp", 0), MPB_ESTATE);
}

static void *
kill_later(void *arg)
{
	mpbt_sleep_ms(300);
	kill(((mpbt_proc *) arg)->pid, SIGKILL);
	return (NULL);
}

static void
test_pipe_eof_on_peer_death(void **state)
{
	mpbt_proc peer;
	pthread_t th;
	void     *val;
	size_t    len;
	bool      ready;
	long long t0;

	(void) state;
	// Killed with messages in flight: they are received first.
	spawn(&peer, "pipe-hold", "pd", "1", "42", NULL);
	expect_line(&peer, "ready", 10000);
	assert_ok(mpb_pipe_open(fx.c, "pd", 0));
	kill_proc(&peer);
	assert_int_equal(object_size("pd", "pipe"), 1);
	assert_int_equal(recv_int(fx.c, "pd", 0, 0), 42);
	t0 = mpbt_now_ms();
	assert_mpb(mpb_pipe_recv(fx.c, "pd", 0, 10000, &val, &len), MPB_EEOF);
	assert_true(mpbt_now_ms() - t0 < PROMPT_MS);
	assert_ok(mpb_pipe_poll(fx.c, "pd", 0, 0, &ready));
	assert_true(ready);
	assert_mpb(mpb_pipe_send(fx.c, "pd", 0, "\x01", 1), MPB_EEOF);

	// Killed while we wait in recv.
	spawn(&peer, "pipe-hold", "pd2", "1", "5", NULL);
	expect_line(&peer, "ready", 10000);
	assert_ok(mpb_pipe_open(fx.c, "pd2", 0));
	assert_int_equal(recv_int(fx.c, "pd2", 0, 0), 5);
	assert_int_equal(pthread_create(&th, NULL, kill_later, &peer), 0);
	t0 = mpbt_now_ms();
	assert_mpb(mpb_pipe_recv(fx.c, "pd2", 0, 20000, &val, &len), MPB_EEOF);
	assert_true(mpbt_now_ms() - t0 < 300 + PROMPT_MS);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(mpbt_wait(&peer, 5000), 128 + SIGKILL);
	close(peer.out_fd);
}

// ---------------------------------------------------------------------
// The CLI

typedef struct result {
	int   code;
	char *out;
	char *err;
} result;

static result
cli(const char *first, ...)
{
	const char *argv[24] = { mpbt_bin("mpb"), "--url", fx.broker.url, first };
	size_t      n        = 4;
	va_list     ap;
	result      r;

	va_start(ap, first);
	while (n < 23 && (argv[n] = va_arg(ap, const char *)) != NULL) {
		n++;
	}
	va_end(ap);
	argv[n] = NULL;
	r.code  = mpbt_run(argv, NULL, &r.out, &r.err, 30000);
	return (r);
}

static void
expect_cli(result r, int code)
{
	if (r.code != code) {
		fail_msg("exit %d, want %d; stderr: %s", r.code, code, r.err);
	}
	free(r.out);
	free(r.err);
}

static void
test_cli_sync(void **state)
{
	mpbt_proc holder;
	uint64_t  v;
	bool      b;

	(void) state;
	// lock run: the command's status, with the lock held meanwhile and
	// released after.
	expect_cli(cli("lock", "run", "cl", "--", "sh", "-c", "exit 7", NULL), 7);
	expect_cli(cli("lock", "run", "cl", "--", mpbt_bin("mpb"), "--url",
	               fx.broker.url, "lock", "run", "cl", "--timeout", "0",
	               "--", "true", NULL),
	    3);
	assert_ok(mpb_lock_locked(fx.c, "cl", &b));
	assert_false(b);
	spawn(&holder, "hold", "cl", NULL);
	expect_line(&holder, "held", 10000);
	expect_cli(cli("lock", "run", "cl", "--timeout", "0.2", "--", "true", NULL), 3);
	kill_proc(&holder);
	expect_cli(cli("lock", "run", "cl", "--timeout", "5", "--", "true", NULL), 0);
	expect_cli(cli("lock", "run", "cl", NULL), 2);
	expect_cli(cli("lock", "run", "cl", "--", "/nonexistent/program", NULL), 127);

	// event set|clear|wait
	expect_cli(cli("event", "wait", "ce", "--timeout", "0.1", NULL), 3);
	expect_cli(cli("event", "set", "ce", NULL), 0);
	expect_cli(cli("event", "wait", "ce", NULL), 0);
	expect_cli(cli("event", "clear", "ce", NULL), 0);
	expect_cli(cli("event", "wait", "ce", "--timeout", "0.1", NULL), 3);

	// sem acquire|release: the permit outlives mpb.
	assert_ok(mpb_sem_create(fx.c, "cs", 1, true, NULL));
	expect_cli(cli("sem", "acquire", "cs", NULL), 0);
	expect_cli(cli("sem", "acquire", "cs", "--timeout", "0", NULL), 3);
	assert_ok(mpb_sem_value(fx.c, "cs", &v));
	assert_int_equal(v, 0);
	expect_cli(cli("sem", "release", "cs", NULL), 0);
	expect_cli(cli("sem", "release", "cs", NULL), 1);
	assert_ok(mpb_sem_value(fx.c, "cs", &v));
	assert_int_equal(v, 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_lock_mutual_exclusion),
		T(test_lock_holder_killed),
		T(test_lock_errors_and_lease),
		T(test_rlock_reentry_and_owner),
		T(test_semaphore),
		T(test_event_wakes_all),
		T(test_condition_errors),
		T(test_condition_producer_consumer),
		T(test_barrier),
		T(test_pipe_ping_pong),
		T(test_pipe_eof_on_peer_death),
		T(test_cli_sync),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
