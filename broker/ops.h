// ops.h -- the request handlers the command table points at.  Each
// replies exactly once (mpbi_req_ok / mpbi_req_error) or parks.

#ifndef MPBI_OPS_H
#define MPBI_OPS_H

#include "core.h"

// ops_server.c
void mpbi_h_ping(mpbi_req *r);
void mpbi_h_objlist(mpbi_req *r);
void mpbi_h_objdelete(mpbi_req *r);
void mpbi_h_auth_challenge(mpbi_req *r);
void mpbi_h_stats(mpbi_req *r);
// Logs the deletion of a durable object (durable.h); nothing for others.
void    mpbi_log_obj_delete(mpbi_broker *b, const mpbi_obj *o);
mpb_err mpbi_replay_obj_delete(mpbi_broker *b, const mpbi_frame *f);
void mpbi_h_auth_prove(mpbi_req *r);

// ops_queue.c
extern const mpbi_class_ops mpbi_queue_class;
// Log replay (durable.h).  q_done fixes what the log does not hold
// (unfinished counts) once every record is in.
mpb_err mpbi_replay_q_create(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_q_push(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_q_pop(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_q_lease(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_q_ack(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_q_return(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_q_leased(mpbi_broker *b, const mpbi_frame *f);
void    mpbi_replay_q_done(mpbi_broker *b);
void mpbi_h_qcreate(mpbi_req *r);
void mpbi_h_qput(mpbi_req *r);
void mpbi_h_qget(mpbi_req *r);
void mpbi_h_qinfo(mpbi_req *r);
void mpbi_h_qtask_done(mpbi_req *r);
void mpbi_h_qjoin(mpbi_req *r);
void mpbi_h_qdelete(mpbi_req *r);
void mpbi_h_qlist(mpbi_req *r);
void mpbi_h_qget_leased(mpbi_req *r);
void mpbi_h_qack(mpbi_req *r);
void mpbi_h_qnack(mpbi_req *r);
void mpbi_h_qextend(mpbi_req *r);

// ops_dict.c
extern const mpbi_class_ops mpbi_dict_class;
// Opens the object of class cls named by the request, creating it with
// the class's defaults: replies [created] (dict.create, list.create).
void mpbi_h_open(mpbi_req *r, const mpbi_class_ops *cls);
// A copy of v as a new item, or NULL after replying MPB_ENOMEM.
mpbi_item *mpbi_req_item(mpbi_req *r, mpbi_span v);
// Argument i as an array: *spanp a new array (free it) of its *np
// elements.  false after replying the error.
bool mpbi_req_values(mpbi_req *r, size_t i, mpbi_span **spanp, size_t *np);
// Log replay (durable.h).
mpb_err mpbi_replay_d_create(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_d_set(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_d_del(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_d_clear(mpbi_broker *b, const mpbi_frame *f);
void mpbi_h_dcreate(mpbi_req *r);
void mpbi_h_dset(mpbi_req *r);
void mpbi_h_dget(mpbi_req *r);
void mpbi_h_ddel(mpbi_req *r);
void mpbi_h_dcontains(mpbi_req *r);
void mpbi_h_dlen(mpbi_req *r);
void mpbi_h_dscan(mpbi_req *r);
void mpbi_h_dpop(mpbi_req *r);
void mpbi_h_dpopitem(mpbi_req *r);
void mpbi_h_dsetdefault(mpbi_req *r);
void mpbi_h_dupdate(mpbi_req *r);
void mpbi_h_dclear(mpbi_req *r);
void mpbi_h_dincr(mpbi_req *r);
void mpbi_h_dincr_float(mpbi_req *r);
void mpbi_h_dcas(mpbi_req *r);
void mpbi_h_dgetset(mpbi_req *r);
void mpbi_h_dget_many(mpbi_req *r);

// ops_list.c
extern const mpbi_class_ops mpbi_list_class;
// Log replay (durable.h).
mpb_err mpbi_replay_l_create(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_l_insert(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_l_set(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_l_del(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_l_clear(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_l_reverse(mpbi_broker *b, const mpbi_frame *f);
mpb_err mpbi_replay_l_extend(mpbi_broker *b, const mpbi_frame *f);
void mpbi_h_lcreate(mpbi_req *r);
void mpbi_h_lappend(mpbi_req *r);
void mpbi_h_lextend(mpbi_req *r);
void mpbi_h_linsert(mpbi_req *r);
void mpbi_h_lget(mpbi_req *r);
void mpbi_h_lset(mpbi_req *r);
void mpbi_h_ldel(mpbi_req *r);
void mpbi_h_lpop(mpbi_req *r);
void mpbi_h_lremove(mpbi_req *r);
void mpbi_h_lindex(mpbi_req *r);
void mpbi_h_lcount(mpbi_req *r);
void mpbi_h_llen(mpbi_req *r);
void mpbi_h_lslice(mpbi_req *r);
void mpbi_h_lreverse(mpbi_req *r);
void mpbi_h_lclear(mpbi_req *r);

// ops_sync.c (semaphores, events), ops_lock.c (locks, rlocks,
// conditions), ops_barrier.c, ops_pipe.c; shared helpers in
// sync_common.h
extern const mpbi_class_ops mpbi_lock_class;
extern const mpbi_class_ops mpbi_rlock_class;
extern const mpbi_class_ops mpbi_sem_class;
extern const mpbi_class_ops mpbi_event_class;
extern const mpbi_class_ops mpbi_cond_class;
extern const mpbi_class_ops mpbi_barrier_class;
extern const mpbi_class_ops mpbi_pipe_class;
void mpbi_h_lock_create(mpbi_req *r);
void mpbi_h_lock_acquire(mpbi_req *r); // lock.acquire and rlock.acquire
void mpbi_h_lock_release(mpbi_req *r); // ... release
void mpbi_h_lock_locked(mpbi_req *r);  // ... locked
void mpbi_h_sem_create(mpbi_req *r);
void mpbi_h_sem_acquire(mpbi_req *r);
void mpbi_h_sem_release(mpbi_req *r);
void mpbi_h_sem_value(mpbi_req *r);
void mpbi_h_event_create(mpbi_req *r);
void mpbi_h_event_set(mpbi_req *r);
void mpbi_h_event_clear(mpbi_req *r);
void mpbi_h_event_is_set(mpbi_req *r);
void mpbi_h_event_wait(mpbi_req *r);
void mpbi_h_cond_create(mpbi_req *r);
void mpbi_h_cond_wait(mpbi_req *r);
void mpbi_h_cond_notify(mpbi_req *r);
void mpbi_h_cond_notify_all(mpbi_req *r);
void mpbi_h_barrier_create(mpbi_req *r);
void mpbi_h_barrier_wait(mpbi_req *r);
void mpbi_h_barrier_abort(mpbi_req *r);
void mpbi_h_barrier_reset(mpbi_req *r);
void mpbi_h_pipe_open(mpbi_req *r);
void mpbi_h_pipe_send(mpbi_req *r);
void mpbi_h_pipe_recv(mpbi_req *r);
void mpbi_h_pipe_poll(mpbi_req *r);
void mpbi_h_pipe_close(mpbi_req *r);

// ops_batch.c
void mpbi_h_batch(mpbi_req *r);

#endif // MPBI_OPS_H
