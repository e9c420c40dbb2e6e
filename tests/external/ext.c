// ext.c -- a client program outside the mpbroker tree, used by the install
// test (tests/external/run.sh) to check that the installed headers,
// libraries, pkg-config file and CMake package are enough to build and
// run a client.
//
// Usage: ext URL NAME.  Connects to the broker at URL, creates the queue
// NAME, puts one msgpack value, gets it back and checks it byte for byte.
// Exits 0 when all went well, 1 otherwise.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpb.h>

static int
fail(const char *what, mpb_err rv)
{
	fprintf(stderr, "ext: %s: %s (%s) %s\n", what, mpb_errname(rv),
	    mpb_strerror(rv), mpb_last_error_text());
	return 1;
}

int
main(int argc, char **argv)
{
	// The msgpack array [1, "mpb"].
	static const unsigned char item[] = {0x92, 0x01, 0xa3, 'm', 'p', 'b'};
	mpb_client *c;
	mpb_err     rv;
	bool        created;
	void       *val;
	size_t      len;
	uint32_t    proto;

	if (argc != 3) {
		fprintf(stderr, "usage: ext URL NAME\n");
		return 2;
	}
	if ((rv = mpb_connect(argv[1], 0, &c)) != MPB_OK)
		return fail("connect", rv);
	if ((rv = mpb_ping(c, &proto)) != MPB_OK)
		return fail("ping", rv);
	if ((rv = mpb_queue_create(c, argv[2], MPB_QUEUE_FIFO, 0, &created)) != MPB_OK)
		return fail("create", rv);
	if (!created) {
		fprintf(stderr, "ext: queue %s existed already\n", argv[2]);
		return 1;
	}
	if ((rv = mpb_queue_put(c, argv[2], item, sizeof item, 0, 0)) != MPB_OK)
		return fail("put", rv);
	if ((rv = mpb_queue_get(c, argv[2], 1000, &val, &len, NULL)) != MPB_OK)
		return fail("get", rv);
	if (len != sizeof item || memcmp(val, item, len) != 0) {
		fprintf(stderr, "ext: got %zu bytes, not the item put\n", len);
		return 1;
	}
	mpb_free(val);
	if ((rv = mpb_queue_delete(c, argv[2])) != MPB_OK)
		return fail("delete", rv);
	mpb_close(c);
	printf("ext %s: ok (libmpb %s, protocol %u)\n", argv[2],
	    MPB_VERSION_STRING, (unsigned)proto);
	return 0;
}
