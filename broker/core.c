// core.c -- broker state: the name table, sessions, parked requests and
// the deadline heap.  See core.h for the API and its invariants.
//
// A parked request (mpbi_waiter) is linked three ways at once: on its
// object's FIFO wait list, on its session's list, and in the broker's
// deadline heap.  Whatever ends it first -- the object (a put, a delete),
// the deadline, or the session's end -- unlinks it from all three in
// waiter_detach, so a request is answered exactly once.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dispatch.h"
#include "reply.h"

struct mpbi_session {
	uint32_t     s_id;
	mpbi_waiter *s_waiters; // parked requests, most recent first
	size_t       s_parked;
	bool         s_authed;    // passed auth.prove (or no secret is set)
	bool         s_has_nonce; // s_nonce awaits an auth.prove
	uint8_t      s_nonce[MPBI_AUTH_NONCE_LEN];
};

struct mpbi_broker {
	mpbi_config    b_cfg;
	mpbi_transport b_tp;
	mpbi_htab     *b_objects;  // name -> mpbi_obj *
	mpbi_htab     *b_sessions; // 4-byte session id -> mpbi_session *
	mpbi_heap      b_deadlines; // mpbi_waiter *, earliest first
	uint64_t       b_waiter_seq;
	bool           b_closing; // shut down: refuse every new request
};

uint64_t
mpbi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u);
}

void
mpbi_log(const char *fmt, ...)
{
	char      stamp[32];
	time_t    now = time(NULL);
	struct tm tm;
	va_list   ap;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s mpbroker: ", stamp);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
mpbi_config_defaults(mpbi_config *cfg)
{
	cfg->max_frame   = MPBI_DEFAULT_MAX_FRAME;
	cfg->max_name    = MPBI_DEFAULT_MAX_NAME;
	cfg->max_objects = MPBI_DEFAULT_MAX_OBJECTS;
	cfg->max_parked  = MPBI_DEFAULT_MAX_PARKED;
	cfg->max_depth   = MPBI_DEFAULT_MAX_DEPTH;
	cfg->auth_secret     = NULL;
	cfg->auth_secret_len = 0;
}

const mpbi_config *
mpbi_broker_config(const mpbi_broker *b)
{
	return (&b->b_cfg);
}

mpbi_item *
mpbi_item_create(const void *data, size_t len)
{
	mpbi_item *it;

	if (len > UINT32_MAX || (it = malloc(sizeof(*it) + len)) == NULL) {
		return (NULL);
	}
	it->it_len = (uint32_t) len;
	memcpy(it->it_data, data, len);
	return (it);
}

void
mpbi_item_destroy(mpbi_item *it)
{
	free(it);
}

// ---------------------------------------------------------------------
// Deadline heap

static bool
deadline_less(const void *a, const void *b)
{
	const mpbi_waiter *wa = *(mpbi_waiter *const *) a;
	const mpbi_waiter *wb = *(mpbi_waiter *const *) b;

	if (wa->w_deadline != wb->w_deadline) {
		return (wa->w_deadline < wb->w_deadline);
	}
	return (wa->w_seq < wb->w_seq);
}

static void
deadline_setpos(void *elem, size_t pos)
{
	(*(mpbi_waiter **) elem)->w_heappos = pos;
}

mpb_err
mpbi_broker_create(
    const mpbi_config *cfg, const mpbi_transport *tp, mpbi_broker **bp)
{
	mpbi_broker *b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		return (MPB_ENOMEM);
	}
	b->b_cfg = *cfg;
	if (b->b_cfg.max_depth > MPBI_MAX_DEPTH_CAP) {
		b->b_cfg.max_depth = MPBI_MAX_DEPTH_CAP;
	}
	b->b_tp = *tp;
	mpbi_heap_init(&b->b_deadlines, sizeof(mpbi_waiter *), deadline_less,
	    deadline_setpos);
	if (mpbi_htab_create(&b->b_objects) != MPB_OK ||
	    mpbi_htab_create(&b->b_sessions) != MPB_OK) {
		mpbi_htab_destroy(b->b_objects);
		mpbi_heap_fini(&b->b_deadlines);
		free(b);
		return (MPB_ENOMEM);
	}
	*bp = b;
	return (MPB_OK);
}

// Copies every value of h into a new array (the scan callback must not
// change the table, so deletions happen afterwards).  NULL when empty or
// out of memory.
typedef struct collect_ctx {
	void **all;
	size_t len;
	size_t cap;
} collect_ctx;

static void
collect_one(void *arg, const void *key, size_t klen, void *val)
{
	collect_ctx *cc = arg;

	(void) key;
	(void) klen;
	if (cc->len < cc->cap) {
		cc->all[cc->len++] = val;
	}
}

static void **
collect_values(mpbi_htab *h, size_t *np)
{
	collect_ctx cc = { NULL, 0, mpbi_htab_len(h) };
	uint64_t    c  = 0;

	*np = 0;
	if (cc.cap == 0 || (cc.all = calloc(cc.cap, sizeof(void *))) == NULL) {
		return (NULL);
	}
	do {
		c = mpbi_htab_scan(h, c, 256, collect_one, &cc);
	} while (c != 0);
	*np = cc.len;
	return (cc.all);
}

void
mpbi_broker_destroy(mpbi_broker *b)
{
	void **all;
	size_t n;

	if (b == NULL) {
		return;
	}
	mpbi_broker_shutdown(b);
	all = collect_values(b->b_objects, &n);
	for (size_t i = 0; i < n; i++) {
		mpbi_obj_delete(b, all[i]);
	}
	free(all);
	all = collect_values(b->b_sessions, &n);
	for (size_t i = 0; i < n; i++) {
		mpbi_broker_session_close(b, ((mpbi_session *) all[i])->s_id);
	}
	free(all);
	mpbi_htab_destroy(b->b_objects);
	mpbi_htab_destroy(b->b_sessions);
	mpbi_heap_fini(&b->b_deadlines);
	free(b);
}

// ---------------------------------------------------------------------
// Sessions

static mpbi_session *
session_find(mpbi_broker *b, uint32_t sid)
{
	return (mpbi_htab_get(b->b_sessions, &sid, sizeof(sid)));
}

mpb_err
mpbi_broker_session_open(mpbi_broker *b, uint32_t sid)
{
	mpbi_session *s;
	mpb_err       rv;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return (MPB_ENOMEM);
	}
	s->s_id     = sid;
	s->s_authed = b->b_cfg.auth_secret == NULL;
	rv          = mpbi_htab_insert(b->b_sessions, &s->s_id, sizeof(s->s_id), s);
	if (rv != MPB_OK) {
		free(s);
	}
	return (rv);
}

void
mpbi_broker_session_close(mpbi_broker *b, uint32_t sid)
{
	mpbi_session *s = mpbi_htab_remove(b->b_sessions, &sid, sizeof(sid));

	if (s == NULL) {
		return;
	}
	// The pipe is gone, so these replies are dropped by nng; sending them
	// still returns each waiter's context to the transport.
	while (s->s_waiters != NULL) {
		mpbi_waiter_fail(b, s->s_waiters, MPB_ECONNLOST, "session ended");
	}
	free(s);
}

bool
mpbi_session_authed(const mpbi_session *s)
{
	return (s->s_authed);
}

void
mpbi_session_set_authed(mpbi_session *s)
{
	s->s_authed = true;
}

mpb_err
mpbi_session_challenge(mpbi_session *s, uint8_t nonce[MPBI_AUTH_NONCE_LEN])
{
	if (getrandom(s->s_nonce, sizeof(s->s_nonce), 0) !=
	    (ssize_t) sizeof(s->s_nonce)) {
		return (MPB_EINTERNAL);
	}
	s->s_has_nonce = true;
	memcpy(nonce, s->s_nonce, sizeof(s->s_nonce));
	return (MPB_OK);
}

bool
mpbi_session_take_nonce(mpbi_session *s, uint8_t nonce[MPBI_AUTH_NONCE_LEN])
{
	if (!s->s_has_nonce) {
		return (false);
	}
	// One proof per challenge: a guess costs a round trip each.
	s->s_has_nonce = false;
	memcpy(nonce, s->s_nonce, sizeof(s->s_nonce));
	return (true);
}

// ---------------------------------------------------------------------
// Objects

mpbi_obj *
mpbi_obj_lookup(mpbi_broker *b, const char *name, size_t namelen)
{
	return (mpbi_htab_get(b->b_objects, name, namelen));
}

mpb_err
mpbi_obj_create(mpbi_broker *b, const mpbi_class_ops *ops, size_t size,
    const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_obj *o;
	mpb_err   rv;

	if (mpbi_htab_len(b->b_objects) >= b->b_cfg.max_objects) {
		return (MPB_ELIMIT);
	}
	if ((o = calloc(1, size + namelen + 1)) == NULL) {
		return (MPB_ENOMEM);
	}
	o->o_ops     = ops;
	o->o_name    = (char *) o + size;
	o->o_namelen = namelen;
	memcpy(o->o_name, name, namelen);
	rv = mpbi_htab_insert(b->b_objects, o->o_name, namelen, o);
	if (rv != MPB_OK) {
		free(o);
		return (rv);
	}
	*op = o;
	return (MPB_OK);
}

void
mpbi_obj_delete(mpbi_broker *b, mpbi_obj *o)
{
	(void) mpbi_htab_remove(b->b_objects, o->o_name, o->o_namelen);
	o->o_ops->destroy(b, o);
}

void
mpbi_obj_free(mpbi_obj *o)
{
	free(o);
}

typedef struct foreach_ctx {
	void (*fn)(void *arg, mpbi_obj *o);
	void *arg;
} foreach_ctx;

static void
foreach_one(void *arg, const void *key, size_t klen, void *val)
{
	foreach_ctx *fc = arg;

	(void) key;
	(void) klen;
	fc->fn(fc->arg, val);
}

void
mpbi_obj_foreach(mpbi_broker *b, void (*fn)(void *arg, mpbi_obj *o), void *arg)
{
	foreach_ctx fc = { fn, arg };
	uint64_t    c  = 0;

	do {
		c = mpbi_htab_scan(b->b_objects, c, 256, foreach_one, &fc);
	} while (c != 0);
}

size_t
mpbi_obj_count(const mpbi_broker *b)
{
	return (mpbi_htab_len(b->b_objects));
}

typedef struct sorted_ctx {
	const mpbi_class_ops *cls;
	mpbi_obj            **all;
	size_t                len;
	size_t                cap;
} sorted_ctx;

static void
sorted_collect(void *arg, mpbi_obj *o)
{
	sorted_ctx *sc = arg;

	if ((sc->cls == NULL || o->o_ops == sc->cls) && sc->len < sc->cap) {
		sc->all[sc->len++] = o;
	}
}

static int
obj_name_cmp(const void *a, const void *b)
{
	const mpbi_obj *oa = *(mpbi_obj *const *) a;
	const mpbi_obj *ob = *(mpbi_obj *const *) b;
	size_t n = oa->o_namelen < ob->o_namelen ? oa->o_namelen : ob->o_namelen;
	int    c = memcmp(oa->o_name, ob->o_name, n);

	if (c != 0) {
		return (c);
	}
	return (oa->o_namelen < ob->o_namelen ? -1 : oa->o_namelen > ob->o_namelen);
}

mpb_err
mpbi_obj_sorted(mpbi_broker *b, const mpbi_class_ops *cls, mpbi_obj ***arrp,
    size_t *np)
{
	sorted_ctx sc = { cls, NULL, 0, mpbi_obj_count(b) };

	*arrp = NULL;
	*np   = 0;
	if (sc.cap == 0) {
		return (MPB_OK);
	}
	if ((sc.all = calloc(sc.cap, sizeof(*sc.all))) == NULL) {
		return (MPB_ENOMEM);
	}
	mpbi_obj_foreach(b, sorted_collect, &sc);
	qsort(sc.all, sc.len, sizeof(*sc.all), obj_name_cmp);
	*arrp = sc.all;
	*np   = sc.len;
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Parked requests

mpb_err
mpbi_park(mpbi_req *r, mpbi_waitlist *wl, uint32_t timeout_ms, mpbi_waiter **wp)
{
	mpbi_broker  *b = r->r_broker;
	mpbi_session *s = r->r_sess;
	mpbi_waiter  *w;

	if (s->s_parked >= b->b_cfg.max_parked) {
		return (MPB_ELIMIT);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		return (MPB_ENOMEM);
	}
	w->w_sess     = s;
	w->w_token    = r->r_token;
	w->w_list     = wl;
	w->w_deadline = r->r_now + timeout_ms;
	w->w_seq      = b->b_waiter_seq++;
	if (mpbi_heap_push(&b->b_deadlines, &w) != MPB_OK) {
		free(w);
		return (MPB_ENOMEM);
	}
	// Arrival order on the object's list.
	w->w_prev = wl->wl_tail;
	if (wl->wl_tail != NULL) {
		wl->wl_tail->w_next = w;
	} else {
		wl->wl_head = w;
	}
	wl->wl_tail = w;
	wl->wl_len++;
	// And on the session's list.
	w->w_snext = s->s_waiters;
	if (s->s_waiters != NULL) {
		s->s_waiters->w_sprev = w;
	}
	s->s_waiters = w;
	s->s_parked++;

	r->r_parked = true;
	*wp         = w;
	return (MPB_OK);
}

static void
waiter_detach(mpbi_broker *b, mpbi_waiter *w)
{
	mpbi_waitlist *wl = w->w_list;
	mpbi_session  *s  = w->w_sess;

	if (w->w_prev != NULL) {
		w->w_prev->w_next = w->w_next;
	} else {
		wl->wl_head = w->w_next;
	}
	if (w->w_next != NULL) {
		w->w_next->w_prev = w->w_prev;
	} else {
		wl->wl_tail = w->w_prev;
	}
	wl->wl_len--;

	if (w->w_sprev != NULL) {
		w->w_sprev->w_snext = w->w_snext;
	} else {
		s->s_waiters = w->w_snext;
	}
	if (w->w_snext != NULL) {
		w->w_snext->w_sprev = w->w_sprev;
	}
	s->s_parked--;

	mpbi_heap_remove(&b->b_deadlines, w->w_heappos, NULL);
}

void
mpbi_waiter_finish(mpbi_broker *b, mpbi_waiter *w, mpbi_reply *rep)
{
	waiter_detach(b, w);
	// A NULL message (no memory for the reply) still hands the token
	// back; the client then times out with "outcome unknown".
	b->b_tp.send_reply(b->b_tp.arg, w->w_token, mpbi_reply_take(rep));
	free(w);
}

void
mpbi_waiter_fail(
    mpbi_broker *b, mpbi_waiter *w, mpb_err code, const char *fmt, ...)
{
	mpbi_reply rep;
	va_list    ap;

	va_start(ap, fmt);
	mpbi_reply_errorv(&rep, code, fmt, ap);
	va_end(ap);
	if (w->w_item != NULL) {
		mpbi_item_destroy(w->w_item);
		w->w_item = NULL;
	}
	mpbi_waiter_finish(b, w, &rep);
}

uint64_t
mpbi_broker_next_deadline(const mpbi_broker *b)
{
	mpbi_waiter **top = mpbi_heap_peek(&b->b_deadlines);

	return (top != NULL ? (*top)->w_deadline : MPBI_NO_DEADLINE);
}

uint64_t
mpbi_broker_expire(mpbi_broker *b, uint64_t now_ms)
{
	mpbi_waiter **top;

	while ((top = mpbi_heap_peek(&b->b_deadlines)) != NULL &&
	    (*top)->w_deadline <= now_ms) {
		mpbi_waiter_fail(b, *top, MPB_ETIMEDOUT, "timed out");
	}
	return (mpbi_broker_next_deadline(b));
}

void
mpbi_broker_shutdown(mpbi_broker *b)
{
	mpbi_waiter **top;

	b->b_closing = true;
	while ((top = mpbi_heap_peek(&b->b_deadlines)) != NULL) {
		mpbi_waiter_fail(b, *top, MPB_ECLOSED, "broker is shutting down");
	}
}

// ---------------------------------------------------------------------
// Requests

mpbi_outcome
mpbi_broker_handle(mpbi_broker *b, uint32_t sid, void *token,
    const void *body, size_t len, uint64_t now_ms, nng_msg **replyp)
{
	mpbi_req r;

	memset(&r, 0, sizeof(r));
	r.r_broker = b;
	r.r_token  = token;
	r.r_now    = now_ms;
	// Requests still queued from a pipe that has already gone must not
	// run: a parked get would later take an item for nobody.
	if ((r.r_sess = session_find(b, sid)) == NULL) {
		return (MPBI_DROP);
	}
	if (b->b_closing) {
		mpbi_req_error(&r, MPB_ECLOSED, "broker is shutting down");
	} else {
		mpbi_dispatch(&r, body, len);
	}
	if (r.r_parked) {
		return (MPBI_PARKED);
	}
	if (!r.r_replied) {
		mpbi_req_error(&r, MPB_EINTERNAL, "handler sent no reply");
	}
	if ((*replyp = mpbi_reply_take(&r.r_reply)) == NULL) {
		return (MPBI_DROP);
	}
	return (MPBI_REPLY);
}
