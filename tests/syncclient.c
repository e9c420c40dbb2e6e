// syncclient.c -- a client process for the synchronisation integration
// tests (test_sync_it.c).  Each mode does one job through libmpb and
// reports through its exit code (0, or the mpb_err number) and stdout
// (one line per result, flushed at once so the test can follow along).
//
//   incr URL LOCK FILE N SLEEP_US     N times: take LOCK, read the integer
//                                     in FILE, sleep, write it + 1, release
//   hold URL LOCK                     take LOCK, print "held", sleep until
//                                     killed
//   acquire URL LOCK TIMEOUT_MS       take LOCK, print the monotonic clock
//                                     in ms, release
//   sem-hold URL SEM                  acquire one permit, print "held",
//                                     sleep until killed
//   event-wait URL EVENT TIMEOUT_MS   print "ready", wait, print 1 if the
//                                     event was set, 0 if the timeout passed
//   produce URL COND QUEUE START N    put START..START+N-1 into QUEUE under
//                                     the condition's lock, notify(1) each
//   consume URL COND QUEUE N          take N integers from QUEUE under the
//                                     lock, waiting on COND while it is
//                                     empty; print their count and sum
//   barrier URL BARRIER TIMEOUT_MS    wait once, print the arrival index
//   pong URL PIPE END                 open END; echo every integer received
//                                     back + 1 until end of file; print the
//                                     number echoed
//   pipe-hold URL PIPE END VALUE      open END, send VALUE, print "ready",
//                                     sleep until killed

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpb.h"
#include "sync_values.h"

// Long enough never to expire in a passing test, short enough that a
// broken one ends.
#define LONG_WAIT_MS 30000

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

// One line on stdout, flushed: the test reads them as they come.
static void
say(const char *line)
{
	puts(line);
	fflush(stdout);
}

static void
say_num(long long v)
{
	printf("%lld\n", v);
	fflush(stdout);
}

static void
sleep_forever(void)
{
	for (;;) {
		pause();
	}
}

// The critical section: read, sleep, write.  Lost updates show if two
// processes are ever inside at once.
static mpb_err
file_incr(const char *path, long sleep_us)
{
	FILE     *f;
	long long v = 0;

	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%lld", &v) != 1) {
			v = 0;
		}
		fclose(f);
	}
	usleep((useconds_t) sleep_us);
	if ((f = fopen(path, "w")) == NULL) {
		return (MPB_EINTERNAL);
	}
	fprintf(f, "%lld\n", v + 1);
	return (fclose(f) == 0 ? MPB_OK : MPB_EINTERNAL);
}

static mpb_err
mode_incr(mpb_client *c, char **argv)
{
	long    n        = atol(argv[2]);
	long    sleep_us = atol(argv[3]);
	mpb_err rv;

	for (long i = 0; i < n; i++) {
		if ((rv = mpb_lock_acquire(c, argv[0], LONG_WAIT_MS)) != MPB_OK) {
			return (rv);
		}
		rv = file_incr(argv[1], sleep_us);
		if (rv != MPB_OK) {
			return (rv);
		}
		if ((rv = mpb_lock_release(c, argv[0])) != MPB_OK) {
			return (rv);
		}
	}
	return (MPB_OK);
}

// Takes something with acquire, says so, and keeps it until killed.
static mpb_err
hold(mpb_client *c, const char *name,
    mpb_err (*acquire)(mpb_client *, const char *, uint32_t))
{
	mpb_err rv = acquire(c, name, LONG_WAIT_MS);

	if (rv != MPB_OK) {
		return (rv);
	}
	say("held");
	sleep_forever();
	return (MPB_OK);
}

static mpb_err
mode_hold(mpb_client *c, char **argv)
{
	return (hold(c, argv[0], mpb_lock_acquire));
}

static mpb_err
mode_sem_hold(mpb_client *c, char **argv)
{
	return (hold(c, argv[0], mpb_sem_acquire));
}

static mpb_err
mode_acquire(mpb_client *c, char **argv)
{
	mpb_err rv = mpb_lock_acquire(c, argv[0], (uint32_t) atol(argv[1]));

	if (rv != MPB_OK) {
		return (rv);
	}
	say_num(now_ms());
	return (mpb_lock_release(c, argv[0]));
}

static mpb_err
mode_event_wait(mpb_client *c, char **argv)
{
	bool    set;
	mpb_err rv;

	say("ready");
	rv = mpb_event_wait(c, argv[0], (uint32_t) atol(argv[1]), &set);
	if (rv == MPB_OK) {
		say_num(set ? 1 : 0);
	}
	return (rv);
}

static mpb_err
mode_produce(mpb_client *c, char **argv)
{
	const char *cond  = argv[0];
	const char *queue = argv[1];
	long        start = atol(argv[2]);
	long        n     = atol(argv[3]);
	char        buf[16];
	char        lock[128];
	mpb_err     rv;

	// The lock's name is the condition's plus "-lock" (see the test).
	snprintf(lock, sizeof(lock), "%s-lock", cond);
	for (long i = start; i < start + n; i++) {
		size_t len = mpbt_pack_int(i, buf);

		if ((rv = mpb_lock_acquire(c, lock, LONG_WAIT_MS)) != MPB_OK) {
			return (rv);
		}
		rv = mpb_queue_put(c, queue, buf, len, 0, 0);
		if (rv == MPB_OK) {
			rv = mpb_cond_notify(c, cond, 1, NULL);
		}
		if (rv != MPB_OK) {
			return (rv);
		}
		if ((rv = mpb_lock_release(c, lock)) != MPB_OK) {
			return (rv);
		}
	}
	return (MPB_OK);
}

// Takes one item under the lock, waiting on the condition while the
// queue is empty (the classic loop: re-check after every wake-up).
static mpb_err
consume_one(mpb_client *c, const char *cond, const char *queue, int64_t *vp)
{
	void   *val;
	size_t  len;
	mpb_err rv;

	for (;;) {
		rv = mpb_queue_get(c, queue, 0, &val, &len, NULL);
		if (rv == MPB_OK) {
			rv = mpbt_unpack_int(val, len, vp);
			mpb_free(val);
			return (rv);
		}
		if (rv != MPB_EEMPTY) {
			return (rv);
		}
		if ((rv = mpb_cond_wait(c, cond, 1000, NULL)) != MPB_OK) {
			return (rv);
		}
	}
}

static mpb_err
mode_consume(mpb_client *c, char **argv)
{
	const char *cond  = argv[0];
	const char *queue = argv[1];
	long        n     = atol(argv[2]);
	long long   sum   = 0;
	int64_t     v;
	mpb_err     rv;
	char        lock[128];

	snprintf(lock, sizeof(lock), "%s-lock", cond);
	for (long i = 0; i < n; i++) {
		if ((rv = mpb_lock_acquire(c, lock, LONG_WAIT_MS)) != MPB_OK) {
			return (rv);
		}
		if ((rv = consume_one(c, cond, queue, &v)) != MPB_OK) {
			return (rv);
		}
		if ((rv = mpb_lock_release(c, lock)) != MPB_OK) {
			return (rv);
		}
		sum += v;
	}
	say_num(n);
	say_num(sum);
	return (MPB_OK);
}

static mpb_err
mode_barrier(mpb_client *c, char **argv)
{
	uint64_t index;
	mpb_err  rv = mpb_barrier_wait(c, argv[0], (uint32_t) atol(argv[1]), &index);

	if (rv == MPB_OK) {
		say_num((long long) index);
	}
	return (rv);
}

static mpb_err
mode_pong(mpb_client *c, char **argv)
{
	unsigned  end = (unsigned) atoi(argv[1]);
	long long n   = 0;
	void     *val;
	size_t    len;
	int64_t   v;
	char      buf[16];
	mpb_err   rv;

	if ((rv = mpb_pipe_open(c, argv[0], end)) != MPB_OK) {
		return (rv);
	}
	say("ready");
	while ((rv = mpb_pipe_recv(c, argv[0], end, LONG_WAIT_MS, &val, &len)) ==
	    MPB_OK) {
		rv = mpbt_unpack_int(val, len, &v);
		mpb_free(val);
		if (rv != MPB_OK) {
			return (rv);
		}
		len = mpbt_pack_int(v + 1, buf);
		if ((rv = mpb_pipe_send(c, argv[0], end, buf, len)) != MPB_OK) {
			return (rv);
		}
		n++;
	}
	if (rv != MPB_EEOF) {
		return (rv);
	}
	say_num(n);
	return (MPB_OK);
}

static mpb_err
mode_pipe_hold(mpb_client *c, char **argv)
{
	unsigned end = (unsigned) atoi(argv[1]);
	char     buf[16];
	size_t   len = mpbt_pack_int(atol(argv[2]), buf);
	mpb_err  rv;

	if ((rv = mpb_pipe_open(c, argv[0], end)) != MPB_OK ||
	    (rv = mpb_pipe_send(c, argv[0], end, buf, len)) != MPB_OK) {
		return (rv);
	}
	say("ready");
	sleep_forever();
	return (MPB_OK);
}

static const struct mode {
	const char *name;
	int         nargs; // after the URL
	mpb_err (*run)(mpb_client *c, char **argv);
} modes[] = {
	{ "incr", 4, mode_incr },
	{ "hold", 1, mode_hold },
	{ "acquire", 2, mode_acquire },
	{ "sem-hold", 1, mode_sem_hold },
	{ "event-wait", 2, mode_event_wait },
	{ "produce", 4, mode_produce },
	{ "consume", 3, mode_consume },
	{ "barrier", 2, mode_barrier },
	{ "pong", 2, mode_pong },
	{ "pipe-hold", 3, mode_pipe_hold },
};

int
main(int argc, char **argv)
{
	mpb_client *c;
	mpb_err     rv;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (argc != modes[i].nargs + 3 || strcmp(argv[1], modes[i].name) != 0) {
			continue;
		}
		if ((rv = mpb_connect(argv[2], 5000, &c)) != MPB_OK) {
			fprintf(stderr, "syncclient: connect: %s\n", mpb_strerror(rv));
			return (rv);
		}
		rv = modes[i].run(c, &argv[3]);
		if (rv != MPB_OK) {
			fprintf(stderr, "syncclient %s: %s: %s\n", argv[1],
			    mpb_errname(rv), mpb_last_error_text());
		}
		mpb_close(c);
		return (rv);
	}
	fprintf(stderr, "syncclient: bad arguments\n");
	return (100);
}
