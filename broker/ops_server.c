// ops_server.c -- requests about the broker itself.

#include <string.h>

#include "ops.h"
#include "reply.h"

#define SERVER_NAME "mpbroker 0.1.0"

// PING -> [protocol version, server name]
void
mpbi_h_ping(mpbi_req *r)
{
	mpbi_req_ok(r, 2);
	mpbi_reply_uint(&r->r_reply, MPBI_PROTOCOL_VERSION);
	mpbi_reply_str(&r->r_reply, SERVER_NAME, strlen(SERVER_NAME));
}
