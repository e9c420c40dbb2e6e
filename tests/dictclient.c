// dictclient.c -- a client process for the dict integration tests
// (test_dict_it.c), exec'd by the test so that races run between real
// processes.
//
//   dictclient incr URL DICT KEY N
//       N times dict.incr KEY by 1.  Exit 0, or the mpb_err of a failure.
//   dictclient incr-ack URL DICT KEY N
//       As incr, and prints each new value once acknowledged ("%lld\n",
//       flushed), so a test that kills the broker knows what it acked.
//   dictclient cas URL DICT KEY ROUNDS ID
//       Races the others for two things per round r < ROUNDS:
//       - step KEY from r to r + 1 by compare-and-set, retrying after
//         reading the current value, until it reaches ROUNDS; prints
//         "step r" for each step this process won;
//       - claim the absent key "KEY.r" with cas(absent -> ID); prints
//         "claim r" when it won.
//       Exit 0, or the mpb_err of a failure.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mpb.h"

// Packs an int64 or a string into sb (cleared first).
static void
pack_int(msgpack_sbuffer *sb, int64_t v)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, v);
}

static void
pack_str(msgpack_sbuffer *sb, const char *s)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_str_with_body(&pk, s, strlen(s));
}

static mpb_err
run_incr(mpb_client *c, const char *dict, const char *key, long n, bool ack)
{
	int64_t v;

	for (long i = 0; i < n; i++) {
		mpb_err err = mpb_dict_incr_str(c, dict, key, 1, &v);
		if (err != MPB_OK) {
			return (err);
		}
		if (ack) {
			printf("%lld\n", (long long) v);
			fflush(stdout);
		}
	}
	return (MPB_OK);
}

// One step of the counter race: reads the value and, below limit, tries
// to move it on by one.  *valp is the value read (0 when absent).
static mpb_err
cas_step(mpb_client *c, const char *dict, const msgpack_sbuffer *key,
    int64_t limit, int64_t *valp, bool *wonp)
{
	msgpack_sbuffer want, next;
	mpb_err         err;
	int64_t         cur = 0;

	err = mpb_dict_incr(c, dict, key->data, key->size, 0, &cur);
	*valp = cur;
	*wonp = false;
	if (err != MPB_OK || cur >= limit) {
		return (err);
	}
	msgpack_sbuffer_init(&want);
	msgpack_sbuffer_init(&next);
	pack_int(&want, cur);
	pack_int(&next, cur + 1);
	err = mpb_dict_cas(c, dict, key->data, key->size, want.data, want.size,
	    next.data, next.size, wonp);
	msgpack_sbuffer_destroy(&want);
	msgpack_sbuffer_destroy(&next);
	return (err);
}

static mpb_err
run_cas(mpb_client *c, const char *dict, const char *key, int64_t rounds, int64_t id)
{
	msgpack_sbuffer k, v;
	char            name[256];
	int64_t         cur = 0;
	bool            won;
	mpb_err         err = MPB_OK;

	msgpack_sbuffer_init(&k);
	msgpack_sbuffer_init(&v);
	for (int64_t r = 0; r < rounds && err == MPB_OK; r++) {
		snprintf(name, sizeof(name), "%s.%lld", key, (long long) r);
		pack_str(&k, name);
		pack_int(&v, id);
		err = mpb_dict_cas(c, dict, k.data, k.size, NULL, 0, v.data, v.size, &won);
		if (err == MPB_OK && won) {
			printf("claim %lld\n", (long long) r);
		}
		pack_str(&k, key);
		// Help the counter along until it has passed this round.
		while (err == MPB_OK && cur <= r) {
			err = cas_step(c, dict, &k, rounds, &cur, &won);
			if (err == MPB_OK && won) {
				printf("step %lld\n", (long long) cur);
				cur++;
			}
		}
	}
	msgpack_sbuffer_destroy(&k);
	msgpack_sbuffer_destroy(&v);
	return (err);
}

int
main(int argc, char **argv)
{
	mpb_client *c;
	mpb_err     err;

	if (argc < 6) {
		fprintf(stderr, "usage: dictclient incr|incr-ack|cas URL DICT KEY N [ID]\n");
		return (2);
	}
	if ((err = mpb_connect(argv[2], 5000, &c)) != MPB_OK) {
		fprintf(stderr, "dictclient: connect: %s\n", mpb_strerror(err));
		return ((int) err);
	}
	if (strcmp(argv[1], "incr") == 0 || strcmp(argv[1], "incr-ack") == 0) {
		err = run_incr(c, argv[3], argv[4], atol(argv[5]),
		    strcmp(argv[1], "incr-ack") == 0);
	} else if (strcmp(argv[1], "cas") == 0 && argc == 7) {
		err = run_cas(c, argv[3], argv[4], atoll(argv[5]), atoll(argv[6]));
	} else {
		err = MPB_EINVAL;
	}
	if (err != MPB_OK) {
		fprintf(stderr, "dictclient: %s: %s\n", mpb_strerror(err),
		    mpb_last_error_text());
	}
	fflush(stdout);
	mpb_close(c);
	return ((int) err);
}
