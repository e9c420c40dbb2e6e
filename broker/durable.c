// durable.c -- replay of the log and the dump behind log rewrites.
//
// Each record type has one replay function, written beside the handlers
// that log it (ops_queue.c, ops_dict.c, ops_list.c), and listed in the
// table below.

#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "ops.h"

typedef struct replay_row {
	mpbi_rec       rec;
	uint8_t        min_args;
	uint8_t        max_args;
	mpbi_replay_fn fn;
} replay_row;

static const replay_row replay_table[] = {
	{ MPBI_REC_OBJ_DELETE, 1, 1, mpbi_replay_obj_delete },
	{ MPBI_REC_Q_CREATE, 3, 3, mpbi_replay_q_create },
	{ MPBI_REC_Q_PUSH, 3, 4, mpbi_replay_q_push },
	{ MPBI_REC_Q_POP, 1, 1, mpbi_replay_q_pop },
	{ MPBI_REC_Q_LEASE, 2, 2, mpbi_replay_q_lease },
	{ MPBI_REC_Q_ACK, 2, 2, mpbi_replay_q_ack },
	{ MPBI_REC_Q_RETURN, 2, 2, mpbi_replay_q_return },
	{ MPBI_REC_Q_LEASED, 6, 6, mpbi_replay_q_leased },
	{ MPBI_REC_D_CREATE, 1, 1, mpbi_replay_d_create },
	{ MPBI_REC_D_SET, 3, 3, mpbi_replay_d_set },
	{ MPBI_REC_D_DEL, 2, 2, mpbi_replay_d_del },
	{ MPBI_REC_D_CLEAR, 1, 1, mpbi_replay_d_clear },
	{ MPBI_REC_L_CREATE, 1, 1, mpbi_replay_l_create },
	{ MPBI_REC_L_INSERT, 3, 3, mpbi_replay_l_insert },
	{ MPBI_REC_L_SET, 3, 3, mpbi_replay_l_set },
	{ MPBI_REC_L_DEL, 2, 2, mpbi_replay_l_del },
	{ MPBI_REC_L_CLEAR, 1, 1, mpbi_replay_l_clear },
	{ MPBI_REC_L_REVERSE, 1, 1, mpbi_replay_l_reverse },
	{ MPBI_REC_L_EXTEND, 2, 2, mpbi_replay_l_extend },
};

static mpb_err
replay_one(void *arg, const uint8_t *rec, size_t len)
{
	mpbi_frame f;
	uint64_t   type;

	if (mpbi_frame_parse(rec, len, MPBI_MAX_DEPTH_CAP, &f) != MPB_OK ||
	    mpbi_span_uint(f.elem[0], &type) != MPB_OK) {
		return (MPB_EPROTO);
	}
	for (size_t i = 0; i < sizeof(replay_table) / sizeof(replay_table[0]);
	     i++) {
		if (replay_table[i].rec == type) {
			if (f.nelem < (size_t) replay_table[i].min_args + 1 ||
			    f.nelem > (size_t) replay_table[i].max_args + 1) {
				return (MPB_EPROTO);
			}
			return (replay_table[i].fn(arg, &f));
		}
	}
	return (MPB_ENOTSUP);
}

mpbi_obj *
mpbi_replay_obj(mpbi_broker *b, const mpbi_frame *f, const mpbi_class_ops *cls)
{
	const char *name;
	size_t      namelen;
	mpbi_obj   *o;

	if (mpbi_span_str(f->elem[1], &name, &namelen) != MPB_OK ||
	    (o = mpbi_obj_lookup(b, name, namelen)) == NULL || o->o_ops != cls) {
		return (NULL);
	}
	return (o);
}

mpb_err
mpbi_replay_create(
    mpbi_broker *b, const mpbi_frame *f, const mpbi_class_ops *cls)
{
	const char *name;
	size_t      namelen;
	mpbi_obj   *o;

	// create_default logs the create too, but nothing is logged before
	// the replay is over.
	if (mpbi_span_str(f->elem[1], &name, &namelen) != MPB_OK ||
	    mpbi_obj_lookup(b, name, namelen) != NULL) {
		return (MPB_EPROTO);
	}
	return (cls->create_default(b, name, namelen, &o));
}

void
mpbi_log_name(mpbi_broker *b, mpbi_rec rec, const mpbi_obj *o)
{
	mpbi_writer *w = mpbi_effect_begin(b, rec, 1);

	if (w != NULL) {
		mpbi_put_str(w, o->o_name, o->o_namelen);
		mpbi_effect_end(b);
	}
}

mpb_err
mpbi_durable_replay(mpbi_broker *b, mpbi_aof *aof)
{
	mpb_err rv;

	if ((rv = mpbi_aof_replay(aof, replay_one, b)) != MPB_OK) {
		return (rv);
	}
	// From here on changes are logged: q_done puts leased items back,
	// and that must be in the log too.
	mpbi_broker_set_aof(b, aof);
	mpbi_replay_q_done(b);
	mpbi_broker_commit(b);
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Dump (in the rewrite's forked child)

struct mpbi_dump {
	msgpack_sbuffer sb;
	mpbi_writer     w;
	mpb_err (*emit)(void *sink, const void *rec, size_t len);
	void *sink;
};

mpbi_writer *
mpbi_dump_begin(mpbi_dump *d, mpbi_rec rec, size_t nargs)
{
	d->sb.size = 0;
	mpbi_writer_init_buf(&d->w, &d->sb);
	mpbi_put_array(&d->w, nargs + 1);
	mpbi_put_uint(&d->w, (uint64_t) rec);
	return (&d->w);
}

mpb_err
mpbi_dump_end(mpbi_dump *d)
{
	if (mpbi_writer_err(&d->w) != MPB_OK) {
		return (MPB_ENOMEM);
	}
	return (d->emit(d->sink, d->sb.data, d->sb.size));
}

mpb_err
mpbi_dump_name(mpbi_dump *d, mpbi_rec rec, const mpbi_obj *o)
{
	mpbi_put_str(mpbi_dump_begin(d, rec, 1), o->o_name, o->o_namelen);
	return (mpbi_dump_end(d));
}

mpb_err
mpbi_durable_dump(void *arg,
    mpb_err (*emit)(void *sink, const void *rec, size_t len), void *sink)
{
	mpbi_broker *b = arg;
	mpbi_obj   **all;
	size_t       n;
	mpbi_dump    d;
	mpb_err      rv;

	if ((rv = mpbi_obj_sorted(b, NULL, &all, &n)) != MPB_OK) {
		return (rv);
	}
	msgpack_sbuffer_init(&d.sb);
	d.emit = emit;
	d.sink = sink;
	for (size_t i = 0; i < n && rv == MPB_OK; i++) {
		if (all[i]->o_ops->dump != NULL) {
			rv = all[i]->o_ops->dump(all[i], &d);
		}
	}
	msgpack_sbuffer_destroy(&d.sb);
	free(all);
	return (rv);
}
