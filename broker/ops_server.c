// ops_server.c -- requests about the broker itself.

#include <stdlib.h>
#include <string.h>

#include "aof.h"
#include "dispatch.h"
#include "durable.h"
#include "ops.h"
#include "reply.h"

#define SERVER_NAME "mpbroker 0.1.0"

// PING -> [protocol version, server name, max frame]: clients learn the
// frame limit here and refuse bigger requests themselves.
void
mpbi_h_ping(mpbi_req *r)
{
	mpbi_req_ok(r, 3);
	mpbi_reply_uint(&r->r_reply, MPBI_PROTOCOL_VERSION);
	mpbi_reply_str(&r->r_reply, SERVER_NAME, strlen(SERVER_NAME));
	mpbi_reply_uint(&r->r_reply, mpbi_broker_config(r->r_broker)->max_frame);
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
	mpbi_log_obj_delete(r->r_broker, o);
	mpbi_obj_delete(r->r_broker, o);
	mpbi_req_ok(r, 0);
}

void
mpbi_log_obj_delete(mpbi_broker *b, const mpbi_obj *o)
{
	if (o->o_ops->dump != NULL) { // else not durable: nothing to log
		mpbi_log_name(b, MPBI_REC_OBJ_DELETE, o);
	}
}

mpb_err
mpbi_replay_obj_delete(mpbi_broker *b, const mpbi_frame *f)
{
	const char *name;
	size_t      namelen;
	mpbi_obj   *o;

	if (mpbi_span_str(f->elem[1], &name, &namelen) != MPB_OK ||
	    (o = mpbi_obj_lookup(b, name, namelen)) == NULL) {
		return (MPB_EPROTO);
	}
	mpbi_obj_delete(b, o);
	return (MPB_OK);
}

// AUTH.CHALLENGE -> [server_nonce]: a fresh nonce for the next proof
void
mpbi_h_auth_challenge(mpbi_req *r)
{
	uint8_t nonce[MPBI_AUTH_NONCE_LEN];
	mpb_err rv;

	if (mpbi_broker_config(r->r_broker)->auth_secret == NULL) {
		mpbi_req_error(r, MPB_ESTATE, "this broker has no secret set");
		return;
	}
	if ((rv = mpbi_session_challenge(r->r_sess, nonce)) != MPB_OK) {
		mpbi_req_error(r, rv, "no random bytes for a nonce");
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_bin(&r->r_reply, nonce, sizeof(nonce));
}

// AUTH.PROVE client_nonce client_mac -> [server_mac]
void
mpbi_h_auth_prove(mpbi_req *r)
{
	const mpbi_config *cfg = mpbi_broker_config(r->r_broker);
	uint8_t            snonce[MPBI_AUTH_NONCE_LEN];
	uint8_t            want[MPBI_AUTH_MAC_LEN];
	uint8_t            proof[MPBI_AUTH_MAC_LEN];
	const uint8_t     *cnonce;
	const uint8_t     *cmac;
	size_t             cnlen;
	size_t             cmlen;

	if (mpbi_span_bytes(mpbi_arg(r, 1), &cnonce, &cnlen) != MPB_OK ||
	    cnlen != MPBI_AUTH_NONCE_LEN ||
	    mpbi_span_bytes(mpbi_arg(r, 2), &cmac, &cmlen) != MPB_OK ||
	    cmlen != MPBI_AUTH_MAC_LEN) {
		mpbi_req_error(r, MPB_EINVAL,
		    "auth.prove takes a %u-byte nonce and a %u-byte MAC",
		    MPBI_AUTH_NONCE_LEN, MPBI_AUTH_MAC_LEN);
		return;
	}
	if (cfg->auth_secret == NULL ||
	    !mpbi_session_take_nonce(r->r_sess, snonce)) {
		mpbi_req_error(r, MPB_ESTATE, "no challenge to answer");
		return;
	}
	if (mpbi_auth_mac(cfg->auth_secret, cfg->auth_secret_len, false,
	        snonce, cnonce, want) != MPB_OK ||
	    !mpbi_auth_equal(want, cmac, sizeof(want)) ||
	    mpbi_auth_mac(cfg->auth_secret, cfg->auth_secret_len, true, snonce,
	        cnonce, proof) != MPB_OK) {
		mpbi_req_error(r, MPB_EAUTH, "authentication failed");
		return;
	}
	mpbi_session_set_authed(r->r_sess);
	mpbi_req_ok(r, 1);
	mpbi_reply_bin(&r->r_reply, proof, sizeof(proof));
}

static void
stat_str(mpbi_reply *rep, const char *key, const char *val)
{
	mpbi_reply_str(rep, key, strlen(key));
	if (val == NULL) {
		mpbi_reply_nil(rep);
	} else {
		mpbi_reply_str(rep, val, strlen(val));
	}
}

static void
stat_uint(mpbi_reply *rep, const char *key, uint64_t val)
{
	mpbi_reply_str(rep, key, strlen(key));
	mpbi_reply_uint(rep, val);
}

static void
stat_bool(mpbi_reply *rep, const char *key, bool val)
{
	mpbi_reply_str(rep, key, strlen(key));
	mpbi_reply_bool(rep, val);
}

// STATS -> [{name: value, ...}] (PROTOCOL.md lists the keys)
void
mpbi_h_stats(mpbi_req *r)
{
	static const char *const fsync_names[] = { "always", "everysec", "no" };
	const mpbi_config       *cfg = mpbi_broker_config(r->r_broker);
	mpbi_reply              *rep = &r->r_reply;
	mpbi_broker_stats_t      st;
	size_t                   nops = 0;

	mpbi_broker_stats(r->r_broker, &st);
	for (size_t op = 0; op < MPBI_OP_LIMIT; op++) {
		nops += st.op_count[op] != 0;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_map(rep, 13);
	stat_str(rep, "version", SERVER_NAME);
	stat_uint(rep, "protocol", MPBI_PROTOCOL_VERSION);
	stat_uint(rep, "uptime_ms", st.uptime_ms);
	stat_uint(rep, "sessions", st.sessions);
	stat_uint(rep, "waiting", st.timers);
	stat_uint(rep, "objects", st.objects);
	stat_uint(rep, "memory_used", st.memory_used);
	stat_uint(rep, "memory_limit", cfg->max_memory);
	stat_bool(rep, "durable", st.aof != NULL);
	stat_str(rep, "fsync",
	    st.aof != NULL ? fsync_names[mpbi_aof_policy(st.aof)] : NULL);
	stat_uint(rep, "log_bytes", st.aof != NULL ? mpbi_aof_size(st.aof) : 0);
	stat_uint(rep, "errors", st.errors);
	mpbi_reply_str(rep, "ops", 3);
	mpbi_reply_map(rep, nops);
	for (size_t op = 0; op < MPBI_OP_LIMIT; op++) {
		if (st.op_count[op] != 0) {
			stat_uint(rep, mpbi_op_name(op), st.op_count[op]);
		}
	}
}
