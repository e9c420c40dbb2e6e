// core.c -- broker state: the name table, sessions, parked requests and
// the deadline heap.  See core.h for the API and its invariants.
//
// A parked request (mpbi_waiter) is linked three ways at once: on its
// object's FIFO wait list, on its session's list, and in the broker's
// deadline heap.  Whatever ends it first -- the object (a put, a delete),
// the deadline, or the session's end -- unlinks it from all three in
// waiter_detach, so a request is answered exactly once.
//
// The deadline heap holds timers (mpbi_timer), not only waiters: a lock
// lease is a timer too, so the transport keeps one clock to serve
// (mpbi_broker_next_deadline / mpbi_broker_expire).  What a session holds
// (mpbi_hold) is on a second per-session list, given back when it ends,
// after its parked requests are gone: a release must never hand a lock
// to a request of the session that is ending.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "durable.h"
#include "reply.h"

struct mpbi_session {
	uint32_t     s_id;
	mpbi_waiter *s_waiters; // parked requests, most recent first
	size_t       s_parked;
	mpbi_hold   *s_holds; // what it must give back when it ends
	bool         s_authed;    // passed auth.prove (or no secret is set)
	bool         s_has_nonce; // s_nonce awaits an auth.prove
	uint8_t      s_nonce[MPBI_AUTH_NONCE_LEN];
};

struct mpbi_broker {
	mpbi_config    b_cfg;
	mpbi_transport b_tp;
	mpbi_htab     *b_objects;  // name -> mpbi_obj *
	mpbi_htab     *b_sessions; // 4-byte session id -> mpbi_session *
	mpbi_heap      b_deadlines; // mpbi_timer *, earliest first
	uint64_t       b_waiter_seq;
	uint64_t       b_now; // the clock of what is being handled
	bool           b_closing; // shut down: refuse every new request
	uint64_t       b_started; // mpbi_now_ms() at creation, for stats
	uint64_t       b_op_count[MPBI_OP_LIMIT]; // requests run, by op
	uint64_t       b_errors;                  // error replies sent
	// Durability (durable.h): the log, the record being written, and
	// replies to parked requests held back until the records of the
	// change that answered them are written.
	mpbi_aof       *b_aof;
	msgpack_sbuffer b_effect;
	mpbi_writer     b_effect_w;
	bool            b_effects_pending;
	struct outgoing {
		void    *token;
		nng_msg *msg;
	} *b_outbox;
	size_t b_outbox_len;
	size_t b_outbox_cap;
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
	cfg->max_memory      = 0;
}

const mpbi_config *
mpbi_broker_config(const mpbi_broker *b)
{
	return (&b->b_cfg);
}

// Bytes held in items, process-wide (items are only made and freed
// under the broker lock): what --max-memory limits.  Items waiting in the
// cache below are not counted: they hold no value.
static size_t item_bytes;

// A small cache of freed items, so that steady puts and gets of small
// values do not go to malloc.  Item sizes up to ITEM_CACHE_MAX_DATA data
// bytes fall into classes of ITEM_CACHE_STEP bytes; an item of class c is
// allocated with room for c * ITEM_CACHE_STEP data bytes whatever its
// length, so any freed item of that class fits any value of the class.
// With the 8-byte header the allocation is 16c + 8 bytes: exactly what
// glibc's 16-byte granularity gives the unrounded size anyway, so rounding
// costs live items nothing.  The cache holds at most ITEM_CACHE_MAX_BYTES
// (headers included); past that, freed items go back to malloc.
#define ITEM_CACHE_STEP 16u
#define ITEM_CACHE_MAX_DATA 128u
#define ITEM_CACHE_CLASSES (ITEM_CACHE_MAX_DATA / ITEM_CACHE_STEP)
#define ITEM_CACHE_MAX_BYTES (256u * 1024u)

typedef struct item_free item_free;
struct item_free {
	item_free *if_next; // overlays the freed item's own bytes
};

static item_free *item_cache[ITEM_CACHE_CLASSES + 1]; // [0] unused
static size_t     item_cache_bytes;

// The cache class of an item of len data bytes, or 0 for none (too big).
static size_t
item_class(size_t len)
{
	if (len > ITEM_CACHE_MAX_DATA) {
		return (0);
	}
	return (len == 0 ? 1 : (len + ITEM_CACHE_STEP - 1) / ITEM_CACHE_STEP);
}

static size_t
item_class_size(size_t c)
{
	return (sizeof(mpbi_item) + c * ITEM_CACHE_STEP);
}

size_t
mpbi_item_bytes(void)
{
	return (item_bytes);
}

// What a value of len bytes counts for: its item, header included,
// wherever the value is kept.
static size_t
value_bytes(size_t len)
{
	return (sizeof(mpbi_item) + len);
}

void
mpbi_item_bytes_add(size_t len)
{
	item_bytes += value_bytes(len);
}

void
mpbi_item_bytes_sub(size_t len)
{
	item_bytes -= value_bytes(len);
}

mpbi_item *
mpbi_item_create(const void *data, size_t len)
{
	size_t     c = item_class(len);
	mpbi_item *it;

	if (c != 0 && item_cache[c] != NULL) {
		it                = (mpbi_item *) (void *) item_cache[c];
		item_cache[c]     = item_cache[c]->if_next;
		item_cache_bytes -= item_class_size(c);
	} else if (len > UINT32_MAX ||
	    (it = malloc(c != 0 ? item_class_size(c) : value_bytes(len))) ==
	        NULL) {
		return (NULL);
	}
	it->it_len        = (uint32_t) len;
	it->it_deliveries = 0;
	memcpy(it->it_data, data, len);
	mpbi_item_bytes_add(len);
	return (it);
}

void
mpbi_item_destroy(mpbi_item *it)
{
	size_t c;

	if (it == NULL) {
		return;
	}
	mpbi_item_bytes_sub(it->it_len);
	c = item_class(it->it_len);
	if (c != 0 && item_cache_bytes + item_class_size(c) <= ITEM_CACHE_MAX_BYTES) {
		item_free *f = (item_free *) (void *) it;

		f->if_next    = item_cache[c];
		item_cache[c] = f;
		item_cache_bytes += item_class_size(c);
		return;
	}
	free(it);
}

void
mpbi_item_cache_free(void)
{
	for (size_t c = 1; c <= ITEM_CACHE_CLASSES; c++) {
		while (item_cache[c] != NULL) {
			item_free *f = item_cache[c];

			item_cache[c] = f->if_next;
			free(f);
		}
	}
	item_cache_bytes = 0;
}

// ---------------------------------------------------------------------
// Deadline heap

static bool
deadline_less(const void *a, const void *b)
{
	const mpbi_timer *ta = *(mpbi_timer *const *) a;
	const mpbi_timer *tb = *(mpbi_timer *const *) b;

	if (ta->tm_deadline != tb->tm_deadline) {
		return (ta->tm_deadline < tb->tm_deadline);
	}
	return (ta->tm_seq < tb->tm_seq);
}

static void
deadline_setpos(void *elem, size_t pos)
{
	(*(mpbi_timer **) elem)->tm_heappos = pos;
}

void
mpbi_timer_init(mpbi_timer *t, void (*fire)(mpbi_broker *, mpbi_timer *))
{
	memset(t, 0, sizeof(*t));
	t->tm_fire = fire;
}

void
mpbi_timer_cancel(mpbi_broker *b, mpbi_timer *t)
{
	if (t->tm_armed) {
		mpbi_heap_remove(&b->b_deadlines, t->tm_heappos, NULL);
		t->tm_armed = false;
	}
}

mpb_err
mpbi_timer_arm(mpbi_broker *b, mpbi_timer *t, uint64_t deadline)
{
	mpbi_timer *tp = t;

	// Re-arming removes first, so its push cannot need memory.
	mpbi_timer_cancel(b, t);
	t->tm_deadline = deadline;
	t->tm_seq      = b->b_waiter_seq++;
	if (mpbi_heap_push(&b->b_deadlines, &tp) != MPB_OK) {
		return (MPB_ENOMEM);
	}
	t->tm_armed = true;
	return (MPB_OK);
}

uint64_t
mpbi_broker_now(const mpbi_broker *b)
{
	return (b->b_now);
}

mpb_err
mpbi_broker_create(
    const mpbi_config *cfg, const mpbi_transport *tp, mpbi_broker **bp)
{
	mpbi_broker *b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		return (MPB_ENOMEM);
	}
	b->b_cfg     = *cfg;
	b->b_started = mpbi_now_ms();
	msgpack_sbuffer_init(&b->b_effect);
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

void
mpbi_broker_destroy(mpbi_broker *b)
{
	void **all;
	size_t n;

	if (b == NULL) {
		return;
	}
	mpbi_broker_shutdown(b);
	// Collected first: deleting while scanning would change the table.
	(void) mpbi_htab_values(b->b_objects, &all, &n);
	for (size_t i = 0; i < n; i++) {
		mpbi_obj_delete(b, all[i]);
	}
	free(all);
	(void) mpbi_htab_values(b->b_sessions, &all, &n);
	for (size_t i = 0; i < n; i++) {
		mpbi_broker_session_close(b, ((mpbi_session *) all[i])->s_id);
	}
	free(all);
	mpbi_htab_destroy(b->b_objects);
	mpbi_htab_destroy(b->b_sessions);
	mpbi_heap_fini(&b->b_deadlines);
	msgpack_sbuffer_destroy(&b->b_effect);
	free(b->b_outbox);
	free(b);
	// Caches of freed items and reply messages: nothing is cached past
	// the last broker.
	mpbi_item_cache_free();
	mpbi_reply_cache_free();
}

// ---------------------------------------------------------------------
// Sessions

static void waiter_cancel(
    mpbi_broker *b, mpbi_waiter *w, mpb_err why, const char *text);

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
	// Session ends happen in real time, outside any request: a lease
	// granted to the next holder below starts now.
	b->b_now = mpbi_now_ms();
	// The pipe is gone, so these replies are dropped by nng; sending them
	// still returns each waiter's context to the transport.
	while (s->s_waiters != NULL) {
		waiter_cancel(b, s->s_waiters, MPB_ECONNLOST, "session ended");
	}
	while (s->s_holds != NULL) {
		mpbi_hold *h = s->s_holds;

		mpbi_hold_drop(h);
		h->h_release(b, h);
	}
	free(s);
	mpbi_broker_commit(b);
}

uint32_t
mpbi_session_id(const mpbi_session *s)
{
	return (s->s_id);
}

void
mpbi_hold_take(mpbi_session *s, mpbi_hold *h,
    void (*release)(mpbi_broker *, mpbi_hold *))
{
	h->h_sess    = s;
	h->h_release = release;
	h->h_prev    = NULL;
	h->h_next    = s->s_holds;
	if (s->s_holds != NULL) {
		s->s_holds->h_prev = h;
	}
	s->s_holds = h;
}

void
mpbi_hold_drop(mpbi_hold *h)
{
	mpbi_session *s = h->h_sess;

	if (s == NULL) {
		return;
	}
	if (h->h_prev != NULL) {
		h->h_prev->h_next = h->h_next;
	} else {
		s->s_holds = h->h_next;
	}
	if (h->h_next != NULL) {
		h->h_next->h_prev = h->h_prev;
	}
	h->h_sess = NULL;
	h->h_prev = NULL;
	h->h_next = NULL;
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
	void  **all;
	size_t  n;
	size_t  kept = 0;
	mpb_err rv;

	*arrp = NULL;
	*np   = 0;
	if ((rv = mpbi_htab_values(b->b_objects, &all, &n)) != MPB_OK) {
		return (rv);
	}
	for (size_t i = 0; i < n; i++) {
		if (cls == NULL || ((mpbi_obj *) all[i])->o_ops == cls) {
			all[kept++] = all[i];
		}
	}
	if (kept > 1) {
		qsort(all, kept, sizeof(*all), obj_name_cmp);
	}
	*arrp = (mpbi_obj **) all;
	*np   = kept;
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Parked requests

static void
waitlist_append(mpbi_waitlist *wl, mpbi_waiter *w)
{
	w->w_list = wl;
	w->w_next = NULL;
	w->w_prev = wl->wl_tail;
	if (wl->wl_tail != NULL) {
		wl->wl_tail->w_next = w;
	} else {
		wl->wl_head = w;
	}
	wl->wl_tail = w;
	wl->wl_len++;
}

// Ends w because of its deadline or its session, through its class's
// hook when it has one.
static void
waiter_cancel(mpbi_broker *b, mpbi_waiter *w, mpb_err why, const char *text)
{
	if (w->w_cancel != NULL) {
		w->w_cancel(b, w, why);
		return;
	}
	mpbi_waiter_fail(b, w, why, "%s", text);
}

static mpbi_waiter *
timer_waiter(mpbi_timer *t)
{
	return ((mpbi_waiter *) ((char *) t - offsetof(mpbi_waiter, w_timer)));
}

static void
waiter_expired(mpbi_broker *b, mpbi_timer *t)
{
	waiter_cancel(b, timer_waiter(t), MPB_ETIMEDOUT, "timed out");
}

mpb_err
mpbi_park(mpbi_req *r, mpbi_waitlist *wl, uint32_t timeout_ms, mpbi_waiter **wp)
{
	mpbi_broker  *b = r->r_broker;
	mpbi_session *s = r->r_sess;
	mpbi_waiter  *w;

	// Never reached while handlers read timeouts with mpbi_arg_timeout
	// (0 in a batch); this guards a future handler that does not.
	if (r->r_batched) {
		return (MPB_ETIMEDOUT);
	}
	if (s->s_parked >= b->b_cfg.max_parked) {
		return (MPB_ELIMIT);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		return (MPB_ENOMEM);
	}
	w->w_sess    = s;
	w->w_token   = r->r_token;
	w->w_timeout = timeout_ms;
	mpbi_timer_init(&w->w_timer, waiter_expired);
	if (mpbi_timer_arm(b, &w->w_timer, r->r_now + timeout_ms) != MPB_OK) {
		free(w);
		return (MPB_ENOMEM);
	}
	// Arrival order on the object's list.
	waitlist_append(wl, w);
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
waitlist_unlink(mpbi_waiter *w)
{
	mpbi_waitlist *wl = w->w_list;

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
	w->w_prev = NULL;
	w->w_next = NULL;
}

static void
waiter_detach(mpbi_broker *b, mpbi_waiter *w)
{
	mpbi_session *s = w->w_sess;

	waitlist_unlink(w);
	if (w->w_sprev != NULL) {
		w->w_sprev->w_snext = w->w_snext;
	} else {
		s->s_waiters = w->w_snext;
	}
	if (w->w_snext != NULL) {
		w->w_snext->w_sprev = w->w_sprev;
	}
	s->s_parked--;

	mpbi_timer_cancel(b, &w->w_timer);
}

void
mpbi_waitlist_fail(
    mpbi_broker *b, mpbi_waitlist *wl, mpb_err code, const char *why)
{
	mpbi_waiter *w;

	while ((w = mpbi_waitlist_first(wl)) != NULL) {
		mpbi_waiter_fail(b, w, code, "%s", why);
	}
}

void
mpbi_waiter_move(
    mpbi_broker *b, mpbi_waiter *w, mpbi_waitlist *wl, uint64_t deadline)
{
	waitlist_unlink(w);
	waitlist_append(wl, w);
	if (deadline == MPBI_NO_DEADLINE) {
		mpbi_timer_cancel(b, &w->w_timer);
	} else if (mpbi_timer_arm(b, &w->w_timer, deadline) != MPB_OK) {
		// Only an unarmed timer can fail to arm: the waiter keeps
		// waiting with no deadline rather than being lost.
		mpbi_log("no memory for a deadline; waiting without one");
	}
}

// Sends the replies held back while records were pending.
static void
outbox_flush(mpbi_broker *b)
{
	for (size_t i = 0; i < b->b_outbox_len; i++) {
		b->b_tp.send_reply(
		    b->b_tp.arg, b->b_outbox[i].token, b->b_outbox[i].msg);
	}
	b->b_outbox_len = 0;
}

void
mpbi_waiter_finish(mpbi_broker *b, mpbi_waiter *w, mpbi_reply *rep)
{
	nng_msg *msg;

	waiter_detach(b, w);
	// A NULL message (no memory for the reply) still hands the token
	// back; the client then times out with "outcome unknown".
	msg = mpbi_reply_take(rep);
	if (b->b_effects_pending) {
		// This reply acknowledges a change whose record is not on
		// disk yet: it leaves with the request's own reply.
		if (b->b_outbox_len == b->b_outbox_cap) {
			size_t n = b->b_outbox_cap != 0 ? 2 * b->b_outbox_cap : 16;
			void  *p = realloc(b->b_outbox, n * sizeof(*b->b_outbox));
			if (p == NULL) {
				// Better late on disk than a lost reply: write now.
				mpbi_broker_commit(b);
			} else {
				b->b_outbox     = p;
				b->b_outbox_cap = n;
			}
		}
		if (b->b_effects_pending) {
			b->b_outbox[b->b_outbox_len].token = w->w_token;
			b->b_outbox[b->b_outbox_len].msg   = msg;
			b->b_outbox_len++;
			free(w);
			return;
		}
	}
	b->b_tp.send_reply(b->b_tp.arg, w->w_token, msg);
	free(w);
}

mpbi_writer *
mpbi_effect_begin(mpbi_broker *b, mpbi_rec rec, size_t nargs)
{
	if (b->b_aof == NULL) {
		return (NULL);
	}
	b->b_effect.size = 0;
	mpbi_writer_init_buf(&b->b_effect_w, &b->b_effect);
	mpbi_put_array(&b->b_effect_w, nargs + 1);
	mpbi_put_uint(&b->b_effect_w, (uint64_t) rec);
	return (&b->b_effect_w);
}

void
mpbi_effect_end(mpbi_broker *b)
{
	if (mpbi_writer_err(&b->b_effect_w) != MPB_OK ||
	    mpbi_aof_add(b->b_aof, b->b_effect.data, b->b_effect.size) !=
	        MPB_OK) {
		mpbi_log("fatal: no memory to log a change; stopping so that "
		         "nothing unlogged is acknowledged");
		_exit(1);
	}
	b->b_effects_pending = true;
}

void
mpbi_broker_commit(mpbi_broker *b)
{
	if (!b->b_effects_pending) {
		return;
	}
	if (mpbi_aof_commit(b->b_aof) != MPB_OK) {
		mpbi_log("fatal: cannot write the log; stopping so that "
		         "nothing unlogged is acknowledged");
		_exit(1);
	}
	b->b_effects_pending = false;
	outbox_flush(b);
}

void
mpbi_broker_set_aof(mpbi_broker *b, mpbi_aof *aof)
{
	b->b_aof = aof;
}

void
mpbi_broker_tick(mpbi_broker *b)
{
	if (b->b_aof != NULL) {
		mpbi_aof_tick(b->b_aof, mpbi_durable_dump, b);
	}
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
	mpbi_timer **top = mpbi_heap_peek(&b->b_deadlines);

	return (top != NULL ? (*top)->tm_deadline : MPBI_NO_DEADLINE);
}

uint64_t
mpbi_broker_expire(mpbi_broker *b, uint64_t now_ms)
{
	mpbi_timer **top;

	b->b_now = now_ms;
	while ((top = mpbi_heap_peek(&b->b_deadlines)) != NULL &&
	    (*top)->tm_deadline <= now_ms) {
		mpbi_timer *t = *top;

		mpbi_timer_cancel(b, t);
		t->tm_fire(b, t);
	}
	mpbi_broker_commit(b);
	return (mpbi_broker_next_deadline(b));
}

static void
session_fail_all(void *arg, const void *key, size_t klen, void *val)
{
	mpbi_session *s = val;

	(void) key;
	(void) klen;
	while (s->s_waiters != NULL) {
		mpbi_waiter_fail(
		    arg, s->s_waiters, MPB_ECLOSED, "broker is shutting down");
	}
}

void
mpbi_broker_shutdown(mpbi_broker *b)
{
	mpbi_timer **top;
	uint64_t     c = 0;

	b->b_closing = true;
	// Earliest deadline first; leases are simply dropped: nothing will
	// be handed over any more.
	while ((top = mpbi_heap_peek(&b->b_deadlines)) != NULL) {
		mpbi_timer *t = *top;

		mpbi_timer_cancel(b, t);
		if (t->tm_fire == waiter_expired) {
			mpbi_waiter_fail(b, timer_waiter(t), MPB_ECLOSED,
			    "broker is shutting down");
		}
	}
	// Then parked requests with no deadline (a condition's waiter
	// queued for its lock), found on their sessions' lists.  The scan
	// leaves the session table itself unchanged.
	do {
		c = mpbi_htab_scan(b->b_sessions, c, 256, session_fail_all, b);
	} while (c != 0);
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
	b->b_now   = now_ms;
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
		mpbi_broker_commit(b);
		return (MPBI_PARKED);
	}
	if (!r.r_replied) {
		mpbi_req_error(&r, MPB_EINTERNAL, "handler sent no reply");
	}
	if (mpbi_reply_is_error(&r.r_reply)) {
		b->b_errors++;
	}
	// The change is on disk (as the policy says) before anyone hears
	// of it.
	mpbi_broker_commit(b);
	if ((*replyp = mpbi_reply_take(&r.r_reply)) == NULL) {
		return (MPBI_DROP);
	}
	return (MPBI_REPLY);
}

// ---------------------------------------------------------------------
// Stats

void
mpbi_broker_count(mpbi_broker *b, mpbi_op op)
{
	if ((size_t) op < MPBI_OP_LIMIT) {
		b->b_op_count[op]++;
	}
}

void
mpbi_broker_stats(const mpbi_broker *b, mpbi_broker_stats_t *st)
{
	st->uptime_ms   = mpbi_now_ms() - b->b_started;
	st->sessions    = mpbi_htab_len(b->b_sessions);
	st->timers      = mpbi_heap_len(&b->b_deadlines);
	st->objects     = mpbi_htab_len(b->b_objects);
	st->errors      = b->b_errors;
	st->op_count    = b->b_op_count;
	st->memory_used = mpbi_item_bytes();
	st->aof         = b->b_aof;
}
