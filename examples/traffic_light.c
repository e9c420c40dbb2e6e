// traffic_light.c -- an Event as a traffic light.  Car processes drive up
// and wait for green (the event set); the parent is the light: it stays
// red until every car is waiting, checks that none crossed, turns green,
// and checks that they all cross.
//
//   mpb-example-traffic-light [URL]      (default: $MPB_URL)

#define _POSIX_C_SOURCE 200809L // nanosleep
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpb.h>

#define CARS 5
#define ARRIVED "\x00" // what cars report on the queue: the msgpack ints 0
#define CROSSED "\x01" // and 1

static const char *url;
static char        light[64], reports[64];

static void
check(mpb_err err, const char *what)
{
	if (err != MPB_OK) {
		fprintf(stderr, "%s: %s\n", what, mpb_strerror(err));
		exit(1);
	}
}

static int
car(void)
{
	mpb_client *c;
	bool        green;

	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_queue_create(c, reports, MPB_QUEUE_FIFO, 0, NULL), "create");
	check(mpb_queue_put(c, reports, ARRIVED, 1, 0, 10000), "put");
	check(mpb_event_wait(c, light, 10000, &green), "wait"); // red: wait
	if (green) {
		check(mpb_queue_put(c, reports, CROSSED, 1, 0, 10000), "put");
	}
	mpb_close(c);
	return (green ? 0 : 1);
}

// Gets n reports; returns how many were `want`.
static int
count(mpb_client *c, int n, const char *want)
{
	void  *buf;
	size_t len;
	int    hits = 0;

	for (int i = 0; i < n; i++) {
		check(mpb_queue_get(c, reports, 10000, &buf, &len, NULL), "get");
		hits += len == 1 && *(char *) buf == *want;
		mpb_free(buf);
	}
	return (hits);
}

int
main(int argc, char **argv)
{
	mpb_client *c;
	pid_t       pid[CARS];
	uint64_t    early;
	int         st, bad = 0, arrived, crossed;

	url = argc > 1 ? argv[1] : NULL;
	snprintf(light, sizeof(light), "light-%d", (int) getpid());
	snprintf(reports, sizeof(reports), "light-reports-%d", (int) getpid());
	// The event is created clear (red) by whoever uses it first.
	for (int i = 0; i < CARS; i++) { // fork before the first mpb call
		if ((pid[i] = fork()) == 0) {
			exit(car());
		}
	}
	check(mpb_connect(url, 0, &c), "connect");
	check(mpb_queue_create(c, reports, MPB_QUEUE_FIFO, 0, NULL), "create");
	arrived = count(c, CARS, ARRIVED); // red until every car is there
	nanosleep(&(struct timespec){0, 200000000}, NULL); // a red-light runner?
	check(mpb_queue_qsize(c, reports, &early), "qsize");
	printf("red:   %d cars waiting, %llu crossed\n", arrived, (unsigned long long) early);
	check(mpb_event_set(c, light), "set"); // green: wakes every waiter
	crossed = count(c, CARS, CROSSED);
	printf("green: %d cars crossed\n", crossed);
	check(mpb_event_clear(c, light), "clear"); // red again
	for (int i = 0; i < CARS; i++) {
		waitpid(pid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	mpb_object_delete(c, light);
	mpb_object_delete(c, reports);
	mpb_close(c);
	bad |= arrived != CARS || early != 0 || crossed != CARS;
	printf("traffic_light: %s\n",
	    bad ? "WRONG" : "nobody crossed on red, all crossed on green: OK");
	return (bad);
}
