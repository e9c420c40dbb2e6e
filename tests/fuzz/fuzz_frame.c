// fuzz_frame.c -- libFuzzer target over the whole request path of the
// broker core: structural check, frame parse, dispatch, handlers, replies
// and parking, without the network.
//
// One broker lives for the whole run, so state carries from input to
// input (objects made by one input are used by later ones); each input is
// a fresh session, closed at the end, so parked requests never pile up.
// Built with clang -fsanitize=fuzzer (MPB_BUILD_FUZZERS); the same file
// with replay_main.c replays a corpus in any build, as a regression test.

#include <stdint.h>
#include <stdlib.h>

#include "core.h"

static void
drop_reply(void *arg, void *token, nng_msg *msg)
{
	(void) arg;
	(void) token;
	if (msg != NULL) {
		nng_msg_free(msg);
	}
}

static mpbi_broker *
fuzz_broker(void)
{
	static mpbi_broker *b;
	mpbi_config         cfg;
	mpbi_transport      tp = { NULL, drop_reply };

	if (b == NULL) {
		mpbi_config_defaults(&cfg);
		// Small limits keep a long run's state (and memory) bounded.
		cfg.max_frame   = 64 * 1024;
		cfg.max_objects = 256;
		cfg.max_parked  = 64;
		cfg.max_memory  = 64u << 20;
		if (mpbi_broker_create(&cfg, &tp, &b) != MPB_OK) {
			abort();
		}
	}
	return (b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now = 1000;
	static uint32_t sid = 1;
	mpbi_broker    *b   = fuzz_broker();
	nng_msg        *reply;
	int             token;

	if (mpbi_broker_session_open(b, sid) != MPB_OK) {
		return (0);
	}
	// The input once as a whole frame, then once more so that a put
	// followed by a get of the same queue meets state.
	for (int i = 0; i < 2; i++) {
		if (mpbi_broker_handle(b, sid, &token, data, size, now, &reply) ==
		    MPBI_REPLY) {
			nng_msg_free(reply);
		}
		now += 7;
		(void) mpbi_broker_expire(b, now);
	}
	mpbi_broker_session_close(b, sid);
	sid++;
	return (0);
}
