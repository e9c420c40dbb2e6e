// durable.h -- what the broker writes to its log, and how it reads it back.
//
// Handlers that change durable state (queues, dicts and lists) describe
// each change as one record, after making it:
//
//	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_Q_PUSH, 3);
//	if (w != NULL) {                  // NULL: the broker is not durable
//		mpbi_put_str(w, name, namelen);
//		...
//		mpbi_effect_end(b);
//	}
//
// The records of one request are written (and, under --fsync always,
// fsynced) before its reply -- and any reply it caused to a parked
// request -- is handed to nng.  Replay applies them through the table in
// durable.c; a rewrite dumps each durable object through its class's dump
// hook.  Synchronisation objects, sessions, parked requests and leases
// are not durable.

#ifndef MPBI_DURABLE_H
#define MPBI_DURABLE_H

#include "aof.h"
#include "core.h"

// Record types: the first element of every record.  Numbers are in the
// log files: never renumber, only append.
typedef enum mpbi_rec {
	MPBI_REC_OBJ_DELETE = 1, // [name]
	MPBI_REC_Q_CREATE   = 2, // [name, kind, maxsize]
	MPBI_REC_Q_PUSH     = 3, // [name, value, priority(, seq)]
	MPBI_REC_Q_POP      = 4, // [name]
	MPBI_REC_Q_LEASE    = 5, // [name, delivery id]: pop, on lease
	MPBI_REC_Q_ACK      = 6, // [name, delivery id]
	MPBI_REC_Q_RETURN   = 7, // [name, delivery id]: back in the queue
	// A leased item, in rewrites: [name, id, value, priority, seq,
	// deliveries].
	MPBI_REC_Q_LEASED = 8,
	// Dicts 20-39.  Keys are canonical (store_dict.h).
	MPBI_REC_D_CREATE = 20, // [name]
	MPBI_REC_D_SET    = 21, // [name, key, value]
	MPBI_REC_D_DEL    = 22, // [name, key]
	MPBI_REC_D_CLEAR  = 23, // [name]
	// Lists 40-59.  Indexes are positions from the start (0 .. len).
	MPBI_REC_L_CREATE  = 40, // [name]
	MPBI_REC_L_INSERT  = 41, // [name, index, value]: before index
	MPBI_REC_L_SET     = 42, // [name, index, value]
	MPBI_REC_L_DEL     = 43, // [name, index]
	MPBI_REC_L_CLEAR   = 44, // [name]
	MPBI_REC_L_REVERSE = 45, // [name]
	MPBI_REC_L_EXTEND  = 46, // [name, [value, ...]]: at the end
} mpbi_rec;

// Starts a record of `nargs` arguments after the type; NULL when the
// broker keeps no log (then skip the record).  Finish with effect_end.
mpbi_writer *mpbi_effect_begin(mpbi_broker *b, mpbi_rec rec, size_t nargs);
void         mpbi_effect_end(mpbi_broker *b);

// Rebuilds state from the log before the broker serves anyone.
mpb_err mpbi_durable_replay(mpbi_broker *b, mpbi_aof *aof);

// A rewrite's view of one object: class dump hooks write records here.
typedef struct mpbi_dump mpbi_dump;
mpbi_writer *mpbi_dump_begin(mpbi_dump *d, mpbi_rec rec, size_t nargs);
mpb_err      mpbi_dump_end(mpbi_dump *d);
// Writes a record whose one argument is o's name (a create).
mpb_err mpbi_dump_name(mpbi_dump *d, mpbi_rec rec, const mpbi_obj *o);

// The dump function given to the log for rewrites (arg: the broker).
mpb_err mpbi_durable_dump(void *arg,
    mpb_err (*emit)(void *sink, const void *rec, size_t len), void *sink);

// Replay of one record type (the handlers' files implement these).
typedef mpb_err (*mpbi_replay_fn)(mpbi_broker *b, const mpbi_frame *f);

// The object of class cls a replayed record names (its first argument),
// or NULL: records only ever name objects the log created before.
mpbi_obj *mpbi_replay_obj(
    mpbi_broker *b, const mpbi_frame *f, const mpbi_class_ops *cls);

// Replays a create record [name] through cls's create_default.
mpb_err mpbi_replay_create(
    mpbi_broker *b, const mpbi_frame *f, const mpbi_class_ops *cls);

// Logs a record whose one argument is o's name (create, clear, ...).
void mpbi_log_name(mpbi_broker *b, mpbi_rec rec, const mpbi_obj *o);

#endif // MPBI_DURABLE_H
