// ops_list.c -- list requests with Python's list semantics (ListProxy).
//
// Indexes follow Python: negative ones count from the end; get, set, del
// and pop on a missing element are MPB_EINDEX (IndexError), while insert
// and slice bounds clamp.  Values compare as mpbi_val_equal says
// (store_dict.h): integers and strings by value, the rest byte-for-byte.
// Every handler checks all its input before it changes the list.

#include <stdlib.h>

#include "dispatch.h"
#include "durable.h"
#include "ops.h"
#include "reply.h"
#include "store_dict.h"
#include "store_list.h"

// The most values one list.slice page may ask for; the frame limit may
// cut a page shorter.
#define LIST_SLICE_MAX 65536

static void    list_destroy(mpbi_broker *b, mpbi_obj *o);
static mpb_err list_dump(const mpbi_obj *o, mpbi_dump *d);

static const char *
list_kind_name(const mpbi_obj *o)
{
	(void) o;
	return ("list");
}

static uint64_t
list_size(const mpbi_obj *o)
{
	return (mpbi_list_len((const mpbi_list *) o));
}

static mpb_err
list_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_obj *o;
	mpb_err   rv;

	rv = mpbi_obj_create(b, &mpbi_list_class, sizeof(mpbi_list), name, namelen, &o);
	if (rv == MPB_OK) {
		mpbi_list_init((mpbi_list *) o);
		// Every creation (list.create, or the first write) comes
		// here.
		mpbi_log_name(b, MPBI_REC_L_CREATE, o);
		*op = o;
	}
	return (rv);
}

const mpbi_class_ops mpbi_list_class = {
	.class_id       = MPBI_CLASS_LIST,
	.class_name     = "list",
	.destroy        = list_destroy,
	.kind_name      = list_kind_name,
	.size           = list_size,
	.create_default = list_create_default,
	.dump           = list_dump,
};

static void
list_destroy(mpbi_broker *b, mpbi_obj *o)
{
	(void) b;
	// Nothing ever waits on a list.
	mpbi_list_fini((mpbi_list *) o);
	mpbi_obj_free(o);
}

static mpbi_list *
req_list(const mpbi_req *r)
{
	return ((mpbi_list *) r->r_obj);
}

// ---------------------------------------------------------------------
// The log (durable.h).  Every change is one of: create, insert at, set
// at, delete at, clear, reverse, extend.  Indexes are logged as the
// position they resolved to (negative and clamped ones included), and
// remove as the delete of the element it found.

// The arguments of an insert or set record, shared by the live log and
// the dump.
static void
put_at_args(mpbi_writer *w, const mpbi_list *l, size_t pos, const void *value,
    size_t len)
{
	mpbi_put_str(w, l->l_obj.o_name, l->l_obj.o_namelen);
	mpbi_put_uint(w, pos);
	mpbi_put_raw(w, value, len);
}

// rec: MPBI_REC_L_INSERT or MPBI_REC_L_SET.
static void
log_at(mpbi_broker *b, mpbi_rec rec, const mpbi_list *l, size_t pos,
    mpbi_span v)
{
	mpbi_writer *w = mpbi_effect_begin(b, rec, 3);

	if (w != NULL) {
		put_at_args(w, l, pos, v.ptr, v.len);
		mpbi_effect_end(b);
	}
}

static void
log_del(mpbi_broker *b, const mpbi_list *l, size_t pos)
{
	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_L_DEL, 2);

	if (w != NULL) {
		mpbi_put_str(w, l->l_obj.o_name, l->l_obj.o_namelen);
		mpbi_put_uint(w, pos);
		mpbi_effect_end(b);
	}
}

static void
log_extend(mpbi_broker *b, const mpbi_list *l, const mpbi_span *s, size_t n)
{
	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_L_EXTEND, 2);

	if (w != NULL) {
		mpbi_put_str(w, l->l_obj.o_name, l->l_obj.o_namelen);
		mpbi_put_array(w, n);
		for (size_t i = 0; i < n; i++) {
			mpbi_put_raw(w, s[i].ptr, s[i].len);
		}
		mpbi_effect_end(b);
	}
}

static mpbi_list *
replay_list(mpbi_broker *b, const mpbi_frame *f)
{
	return ((mpbi_list *) mpbi_replay_obj(b, f, &mpbi_list_class));
}

// The list and position a replayed record names; the position must be
// below len + extra (1 for an insert, 0 for an existing element).
static mpbi_list *
replay_at(mpbi_broker *b, const mpbi_frame *f, size_t extra, size_t *posp)
{
	mpbi_list *l = replay_list(b, f);
	uint64_t   pos;

	if (l == NULL || mpbi_span_uint(f->elem[2], &pos) != MPB_OK ||
	    pos >= mpbi_list_len(l) + extra) {
		return (NULL);
	}
	*posp = (size_t) pos;
	return (l);
}

// Inserts a copy of v before pos (<= len).
static mpb_err
replay_insert(mpbi_list *l, size_t pos, mpbi_span v)
{
	mpbi_item *it = mpbi_item_create(v.ptr, v.len);

	if (it == NULL) {
		return (MPB_ENOMEM);
	}
	if (mpbi_list_insert(l, pos, it) != MPB_OK) {
		mpbi_item_destroy(it);
		return (MPB_ENOMEM);
	}
	return (MPB_OK);
}

mpb_err
mpbi_replay_l_create(mpbi_broker *b, const mpbi_frame *f)
{
	return (mpbi_replay_create(b, f, &mpbi_list_class));
}

mpb_err
mpbi_replay_l_insert(mpbi_broker *b, const mpbi_frame *f)
{
	size_t     pos;
	mpbi_list *l = replay_at(b, f, 1, &pos);

	return (l == NULL ? MPB_EPROTO : replay_insert(l, pos, f->elem[3]));
}

mpb_err
mpbi_replay_l_set(mpbi_broker *b, const mpbi_frame *f)
{
	size_t     pos;
	mpbi_list *l = replay_at(b, f, 0, &pos);
	mpbi_item *it;

	if (l == NULL) {
		return (MPB_EPROTO);
	}
	if ((it = mpbi_item_create(f->elem[3].ptr, f->elem[3].len)) == NULL) {
		return (MPB_ENOMEM);
	}
	mpbi_item_destroy(mpbi_list_swap(l, pos, it));
	return (MPB_OK);
}

mpb_err
mpbi_replay_l_del(mpbi_broker *b, const mpbi_frame *f)
{
	size_t     pos;
	mpbi_list *l = replay_at(b, f, 0, &pos);

	if (l == NULL) {
		return (MPB_EPROTO);
	}
	mpbi_item_destroy(mpbi_list_take(l, pos));
	return (MPB_OK);
}

static void
list_clear(mpbi_list *l)
{
	mpbi_list_drop_back(l, mpbi_list_len(l));
}

// Replays a record [name] that applies fn to the whole list.
static mpb_err
replay_whole(mpbi_broker *b, const mpbi_frame *f, void (*fn)(mpbi_list *))
{
	mpbi_list *l = replay_list(b, f);

	if (l == NULL) {
		return (MPB_EPROTO);
	}
	fn(l);
	return (MPB_OK);
}

mpb_err
mpbi_replay_l_clear(mpbi_broker *b, const mpbi_frame *f)
{
	return (replay_whole(b, f, list_clear));
}

mpb_err
mpbi_replay_l_reverse(mpbi_broker *b, const mpbi_frame *f)
{
	return (replay_whole(b, f, mpbi_list_reverse));
}

mpb_err
mpbi_replay_l_extend(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_list *l = replay_list(b, f);
	mpbi_span  body;
	mpbi_span  v;
	size_t     n;
	mpb_err    rv = MPB_OK;

	if (l == NULL || mpbi_span_array(f->elem[2], &n, &body) != MPB_OK) {
		return (MPB_EPROTO);
	}
	// The frame was validated whole: each element is one object.
	for (size_t i = 0; i < n && rv == MPB_OK; i++) {
		(void) mpbi_span_next(&body, &v);
		rv = replay_insert(l, mpbi_list_len(l), v);
	}
	return (rv);
}

static mpb_err
list_dump(const mpbi_obj *o, mpbi_dump *d)
{
	const mpbi_list *l = (const mpbi_list *) o;
	mpb_err          rv;

	// One insert per element rather than one extend: no record grows
	// with the list.
	rv = mpbi_dump_name(d, MPBI_REC_L_CREATE, o);
	for (size_t i = 0; i < mpbi_list_len(l) && rv == MPB_OK; i++) {
		const mpbi_item *it = mpbi_list_at(l, i);
		put_at_args(mpbi_dump_begin(d, MPBI_REC_L_INSERT, 3), l, i,
		    it->it_data, it->it_len);
		rv = mpbi_dump_end(d);
	}
	return (rv);
}

// Argument i as the index of an existing element; false after replying
// the error.
static bool
req_pos(mpbi_req *r, size_t i, size_t *posp)
{
	int64_t idx;

	if (!mpbi_arg_int(r, i, "the index", &idx)) {
		return (false);
	}
	if (!mpbi_list_pos(req_list(r), idx, posp)) {
		mpbi_req_error(r, MPB_EINDEX,
		    "index %lld out of range for list " MPBI_NAME_FMT " of %zu",
		    (long long) idx, MPBI_NAME_ARG(r->r_name, r->r_namelen),
		    mpbi_list_len(req_list(r)));
		return (false);
	}
	return (true);
}

// Argument i as a slice bound, clamped; false after replying the error.
static bool
req_bound(mpbi_req *r, size_t i, const char *what, size_t *posp)
{
	int64_t v;

	if (!mpbi_arg_int(r, i, what, &v)) {
		return (false);
	}
	*posp = mpbi_list_clamp(req_list(r), v);
	return (true);
}

// Inserts a copy of value v before pos; false after replying the error.
// Not logged: extend logs its values as one record once all are in.
static bool
list_put(mpbi_req *r, size_t pos, mpbi_span v)
{
	mpbi_item *it = mpbi_req_item(r, v);

	if (it == NULL) {
		return (false);
	}
	if (mpbi_list_insert(req_list(r), pos, it) != MPB_OK) {
		mpbi_item_destroy(it);
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
		return (false);
	}
	return (true);
}

// list_put, logged (append, insert).
static bool
list_put_logged(mpbi_req *r, size_t pos, mpbi_span v)
{
	if (!list_put(r, pos, v)) {
		return (false);
	}
	log_at(r->r_broker, MPBI_REC_L_INSERT, req_list(r), pos, v);
	return (true);
}

// Removes the element at pos < len, logged, and returns it (the
// caller's): del, pop, remove.
static mpbi_item *
list_take(mpbi_req *r, size_t pos)
{
	mpbi_item *it = mpbi_list_take(req_list(r), pos);

	log_del(r->r_broker, req_list(r), pos);
	return (it);
}

// The first position in [from, to) holding a value equal to v, or -1.
static int64_t
list_find(const mpbi_list *l, mpbi_span v, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const mpbi_item *it = mpbi_list_at(l, i);
		if (mpbi_val_equal(it->it_data, it->it_len, v.ptr, v.len)) {
			return ((int64_t) i);
		}
	}
	return (-1);
}

static void
reply_notfound(mpbi_req *r)
{
	mpbi_req_error(r, MPB_ENOTFOUND, "value not in list " MPBI_NAME_FMT,
	    MPBI_NAME_ARG(r->r_name, r->r_namelen));
}

// LIST.CREATE name -> [created]
void
mpbi_h_lcreate(mpbi_req *r)
{
	mpbi_h_open(r, &mpbi_list_class);
}

// LIST.APPEND name value -> []
void
mpbi_h_lappend(mpbi_req *r)
{
	if (list_put_logged(r, mpbi_list_len(req_list(r)), mpbi_arg(r, 2))) {
		mpbi_req_ok(r, 0);
	}
}

// LIST.EXTEND name [value, ...] -> []: all or nothing
void
mpbi_h_lextend(mpbi_req *r)
{
	mpbi_list *l = req_list(r);
	mpbi_span *s;
	size_t     n;
	size_t     i;

	if (!mpbi_req_values(r, 2, &s, &n)) {
		return;
	}
	for (i = 0; i < n && list_put(r, mpbi_list_len(l), s[i]); i++) {
	}
	if (i < n) {
		mpbi_list_drop_back(l, i); // list_put replied the error
	} else {
		log_extend(r->r_broker, l, s, n);
		mpbi_req_ok(r, 0);
	}
	free(s);
}

// LIST.INSERT name index value -> []: index clamps, as in Python
void
mpbi_h_linsert(mpbi_req *r)
{
	size_t pos;

	if (req_bound(r, 2, "the index", &pos) &&
	    list_put_logged(r, pos, mpbi_arg(r, 3))) {
		mpbi_req_ok(r, 0);
	}
}

// LIST.GET name index -> [value]; MPB_EINDEX
void
mpbi_h_lget(mpbi_req *r)
{
	size_t           pos;
	const mpbi_item *it;

	if (req_pos(r, 2, &pos)) {
		it = mpbi_list_at(req_list(r), pos);
		mpbi_req_ok(r, 1);
		mpbi_reply_raw(&r->r_reply, it->it_data, it->it_len);
	}
}

// LIST.SET name index value -> []; MPB_EINDEX
void
mpbi_h_lset(mpbi_req *r)
{
	size_t     pos;
	mpbi_item *it;

	if (req_pos(r, 2, &pos) && (it = mpbi_req_item(r, mpbi_arg(r, 3))) != NULL) {
		mpbi_item_destroy(mpbi_list_swap(req_list(r), pos, it));
		log_at(r->r_broker, MPBI_REC_L_SET, req_list(r), pos, mpbi_arg(r, 3));
		mpbi_req_ok(r, 0);
	}
}

// LIST.DEL name index -> []; MPB_EINDEX
void
mpbi_h_ldel(mpbi_req *r)
{
	size_t pos;

	if (req_pos(r, 2, &pos)) {
		mpbi_item_destroy(list_take(r, pos));
		mpbi_req_ok(r, 0);
	}
}

// LIST.POP name index -> [value]; MPB_EINDEX (also when empty)
void
mpbi_h_lpop(mpbi_req *r)
{
	size_t     pos;
	mpbi_item *it;

	if (req_pos(r, 2, &pos)) {
		it = list_take(r, pos);
		mpbi_req_ok(r, 1);
		mpbi_reply_raw(&r->r_reply, it->it_data, it->it_len);
		mpbi_item_destroy(it);
	}
}

// LIST.REMOVE name value -> []: the first equal one; MPB_ENOTFOUND
void
mpbi_h_lremove(mpbi_req *r)
{
	mpbi_list *l   = req_list(r);
	int64_t    pos = list_find(l, mpbi_arg(r, 2), 0, mpbi_list_len(l));

	if (pos < 0) {
		reply_notfound(r);
		return;
	}
	mpbi_item_destroy(list_take(r, (size_t) pos));
	mpbi_req_ok(r, 0);
}

// LIST.INDEX name value start stop -> [index]; MPB_ENOTFOUND
// start and stop are slice bounds (negative from the end, clamped).
void
mpbi_h_lindex(mpbi_req *r)
{
	size_t  from, to;
	int64_t pos;

	if (!req_bound(r, 3, "start", &from) || !req_bound(r, 4, "stop", &to)) {
		return;
	}
	if ((pos = list_find(req_list(r), mpbi_arg(r, 2), from, to)) < 0) {
		reply_notfound(r);
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_uint(&r->r_reply, (uint64_t) pos);
}

// LIST.COUNT name value -> [count]
void
mpbi_h_lcount(mpbi_req *r)
{
	mpbi_list *l   = req_list(r);
	size_t     len = mpbi_list_len(l);
	uint64_t   n   = 0;
	int64_t    pos;

	for (size_t from = 0;
	     (pos = list_find(l, mpbi_arg(r, 2), from, len)) >= 0;
	     from = (size_t) pos + 1) {
		n++;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_uint(&r->r_reply, n);
}

// LIST.LEN name -> [count]
void
mpbi_h_llen(mpbi_req *r)
{
	mpbi_req_ok(r, 1);
	mpbi_reply_uint(&r->r_reply, mpbi_list_len(req_list(r)));
}

// LIST.SLICE name start stop max -> [next start or nil, [value, ...]]
// The values of l[start:stop], at most max (and what fits in a frame);
// next is the absolute index to pass as start for the rest, nil when the
// slice is complete.
void
mpbi_h_lslice(mpbi_req *r)
{
	mpbi_list *l = req_list(r);
	size_t     from, to, end;
	uint64_t   max;
	mpbi_page  pg;

	if (!req_bound(r, 2, "start", &from) || !req_bound(r, 3, "stop", &to) ||
	    !mpbi_arg_uint(r, 4, "max", &max)) {
		return;
	}
	mpbi_page_init(&pg, r, max > LIST_SLICE_MAX ? LIST_SLICE_MAX : max);
	for (end = from; end < to && !mpbi_page_full(&pg) &&
	     mpbi_page_take(&pg, 1, mpbi_list_at(l, end)->it_len);
	     end++) {
	}
	mpbi_page_reply(r, &pg, 2);
	if (end < to) {
		mpbi_reply_uint(&r->r_reply, end);
	} else {
		mpbi_reply_nil(&r->r_reply);
	}
	mpbi_reply_array(&r->r_reply, end > from ? end - from : 0);
	for (size_t i = from; i < end; i++) {
		const mpbi_item *it = mpbi_list_at(l, i);
		mpbi_reply_raw(&r->r_reply, it->it_data, it->it_len);
	}
}

// LIST.REVERSE name -> []
void
mpbi_h_lreverse(mpbi_req *r)
{
	mpbi_list_reverse(req_list(r));
	mpbi_log_name(r->r_broker, MPBI_REC_L_REVERSE, r->r_obj);
	mpbi_req_ok(r, 0);
}

// LIST.CLEAR name -> []
void
mpbi_h_lclear(mpbi_req *r)
{
	list_clear(req_list(r));
	mpbi_log_name(r->r_broker, MPBI_REC_L_CLEAR, r->r_obj);
	mpbi_req_ok(r, 0);
}
