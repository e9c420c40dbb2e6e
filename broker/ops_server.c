// ops_server.c -- requests about the broker itself.

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
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

// OBJECT.LIST -> [[name, class, kind, size], ...] sorted by name
void
mpbi_h_objlist(mpbi_req *r)
{
	mpbi_obj **all;
	size_t     n;
	mpb_err    rv;

	if ((rv = mpbi_obj_sorted(r->r_broker, NULL, &all, &n)) != MPB_OK) {
		mpbi_req_error(r, rv, "out of memory");
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_array(&r->r_reply, n);
	for (size_t i = 0; i < n; i++) {
		const mpbi_obj       *o   = all[i];
		const mpbi_class_ops *cls = o->o_ops;
		const char           *kind = cls->kind_name(o);

		mpbi_reply_array(&r->r_reply, 4);
		mpbi_reply_str(&r->r_reply, o->o_name, o->o_namelen);
		mpbi_reply_str(&r->r_reply, cls->class_name, strlen(cls->class_name));
		mpbi_reply_str(&r->r_reply, kind, strlen(kind));
		mpbi_reply_uint(&r->r_reply, cls->size(o));
	}
	free(all);
}

// OBJECT.DELETE name -> []: any kind; waiters get MPB_EDELETED
void
mpbi_h_objdelete(mpbi_req *r)
{
	mpbi_obj *o = mpbi_obj_lookup(r->r_broker, r->r_name, r->r_namelen);

	if (o == NULL) {
		mpbi_req_error(r, MPB_ENOENT, "no object " MPBI_NAME_FMT,
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	mpbi_obj_delete(r->r_broker, o);
	mpbi_req_ok(r, 0);
}
