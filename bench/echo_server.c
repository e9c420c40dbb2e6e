// echo_server.c -- mpb-echo-server: a bare nng rep0 server that answers
// every request with the request itself.  It is the transport floor for
// mpb-bench --target echo: the same client path and frames as libmpb, no
// broker behind them.
//
// Server mode: the fastest this nng 1.5.2 offers without changing the
// client (TECH-NOTES 5): a cooked rep0 socket with N contexts, each with
// its own aio whose callback turns a received message around in place
// (no copy, no lock, no hand-off to another thread).
//
//   mpb-echo-server [--listen URL] [--contexts N]
//
// Runs until SIGINT or SIGTERM.

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

typedef struct echo_ctx {
	nng_ctx  ctx;
	nng_aio *aio;
	int      sending;
} echo_ctx;

static void
echo_cb(void *arg)
{
	echo_ctx *e  = arg;
	int       rv = nng_aio_result(e->aio);

	if (e->sending) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(e->aio));
			nng_aio_set_msg(e->aio, NULL);
		}
		if (rv == NNG_ECLOSED) {
			return;
		}
		e->sending = 0;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED) {
			nng_ctx_recv(e->ctx, e->aio);
		}
		return;
	}
	// The received message is still set on the aio: send it back.
	e->sending = 1;
	nng_ctx_send(e->ctx, e->aio);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "contexts", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url   = "ipc:///tmp/mpb-echo.ipc";
	int         nctx  = 16;
	nng_socket  sock;
	echo_ctx   *ctxs;
	sigset_t    set;
	int         sig;
	int         rv;
	int         o;

	while ((o = getopt_long(argc, argv, "l:n:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'l': url = optarg; break;
		case 'n':
			nctx = atoi(optarg);
			if (nctx < 1 || nctx > 4096) {
				fprintf(stderr, "--contexts: 1 to 4096\n");
				return (2);
			}
			break;
		case 'h':
			printf("usage: mpb-echo-server [--listen URL] [--contexts N]\n");
			return (0);
		default:
			fprintf(stderr, "usage: mpb-echo-server [--listen URL] [--contexts N]\n");
			return (2);
		}
	}
	// Block the stop signals before nng starts its threads, so that only
	// sigwait() below sees them.
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((rv = nng_rep0_open(&sock)) != 0 || (rv = nng_listen(sock, url, NULL, 0)) != 0) {
		fprintf(stderr, "mpb-echo-server: %s: %s\n", url, nng_strerror(rv));
		return (1);
	}
	if ((ctxs = calloc((size_t) nctx, sizeof(*ctxs))) == NULL) {
		return (1);
	}
	for (int i = 0; i < nctx; i++) {
		if ((rv = nng_aio_alloc(&ctxs[i].aio, echo_cb, &ctxs[i])) != 0 ||
		    (rv = nng_ctx_open(&ctxs[i].ctx, sock)) != 0) {
			fprintf(stderr, "mpb-echo-server: %s\n", nng_strerror(rv));
			return (1);
		}
		nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
	}
	fprintf(stderr, "mpb-echo-server: listening on %s with %d contexts\n", url, nctx);
	sigwait(&set, &sig);
	nng_close(sock);
	for (int i = 0; i < nctx; i++) {
		nng_aio_stop(ctxs[i].aio);
	}
	for (int i = 0; i < nctx; i++) {
		nng_ctx_close(ctxs[i].ctx);
		nng_aio_free(ctxs[i].aio);
	}
	free(ctxs);
	if (strncmp(url, "ipc://", 6) == 0) {
		unlink(url + 6);
	}
	return (0);
}
