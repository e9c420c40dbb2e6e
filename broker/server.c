// server.c -- the broker's nng transport (see server.h).
//
// Shape: one cooked rep0 socket; a pool of workers, each an nng_ctx with
// one aio and a tiny state machine (RECV -> handle -> SEND, or PARKED
// until the core answers through send_reply).  Every callback takes the
// one broker lock first, so the core runs single-threaded.  We keep
// `receivers` workers waiting in recv: when a request parks, another
// worker starts receiving, and when an answered worker's send completes
// it goes back to receiving only if the pool is short, else it idles.
//
// No function that waits for callbacks (nng_close, nng_aio_free, ...) is
// called with the lock held, and no callback blocks.

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/ipc/ipc.h>
#include <nng/transport/tcp/tcp.h>

#include "durable.h"
#include "reply.h"
#include "server.h"

// How long the watchdog waits for its own ping before it declares a
// listener dead.  Short for ipc, where a false alarm only costs a needless
// restart; longer for tcp, where a restart drops connections.
#define WATCHDOG_IPC_TIMEOUT_MS 500
#define WATCHDOG_TCP_TIMEOUT_MS 2000
// What nng reads beyond --max-frame before it refuses a frame unread:
// the request-id header (4 bytes per hop) and a frame just over the limit,
// which then gets EMSGSIZE rather than a closed connection.
#define FRAME_SLACK 1024

// How long shutdown waits for the last replies to leave.
#define SHUTDOWN_FLUSH_MS 1000

typedef enum worker_state {
	W_IDLE,   // not in use
	W_RECV,   // waiting for a request
	W_PARKED, // holding a request the core has parked
	W_SEND,   // sending a reply
	W_DEAD,   // the socket is closed
} worker_state;

// Replies handed to nng and not yet sent, for one session (see
// unsent_session_open).  Made when the session starts and kept in
// s->unsent until it ends, so counting a reply costs no allocation; a
// session that ends with replies still in flight leaves its counter to
// the last of them to free.
typedef struct unsent_ctr {
	uint32_t uc_n;
	bool     uc_gone; // the session has ended: free at uc_n == 0
} unsent_ctr;

typedef struct worker worker;
struct worker {
	mpbi_server *srv;
	nng_ctx      ctx;
	nng_aio     *aio;
	worker_state state;
	uint32_t     sid; // session of the request it holds
	unsent_ctr  *unsent; // counts the reply being sent (W_SEND), or NULL
	worker      *next_idle;
	worker      *next_all;
};

typedef struct listener {
	char        *url;
	char        *probe_url; // where the watchdog dials; NULL: not probed
	char        *ipc_path;  // socket file of an ipc:// listener, or NULL
	nng_listener l;
	int          failures;
	bool         started; // its ipc file is ours to remove
} listener;

struct mpbi_server {
	mpbi_server_config cfg;
	mpbi_config        bcfg;
	nng_socket         sock;
	mpbi_broker       *broker;
	pthread_mutex_t    lock;
	pthread_cond_t     timer_cv;
	pthread_t          timer_thread;
	bool               timer_started;
	uint64_t           timer_armed; // deadline the timer sleeps until
	bool               stopping;
	worker            *idle;
	worker            *all;
	unsigned           receiving;
	unsigned           sending;
	mpbi_htab         *unsent;      // session id -> unsent_ctr *
	mpbi_aof          *aof;         // the log, with --data-dir
	uint32_t           flood_sid;   // last session logged for flooding
	listener          *listeners;
	size_t             nlisteners;
};

static void worker_cb(void *arg);

// ---------------------------------------------------------------------
// Workers (all called with s->lock held)

static worker *
worker_get(mpbi_server *s)
{
	worker *w;

	if ((w = s->idle) != NULL) {
		s->idle = w->next_idle;
		return (w);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		return (NULL);
	}
	w->srv = s;
	if (nng_aio_alloc(&w->aio, worker_cb, w) != 0) {
		free(w);
		return (NULL);
	}
	if (nng_ctx_open(&w->ctx, s->sock) != 0) {
		// Not yet used, so freeing cannot wait on a callback.
		nng_aio_free(w->aio);
		free(w);
		return (NULL);
	}
	w->next_all = s->all;
	s->all      = w;
	return (w);
}

static void
worker_recv(mpbi_server *s, worker *w)
{
	w->state = W_RECV;
	s->receiving++;
	nng_ctx_recv(w->ctx, w->aio);
}

// Keeps `receivers` workers waiting for requests.
static void
fill_receivers(mpbi_server *s)
{
	worker *w;

	while (!s->stopping && s->receiving < s->cfg.receivers &&
	    (w = worker_get(s)) != NULL) {
		worker_recv(s, w);
	}
}

// A worker that has finished with its request: receive again if the pool
// is short, else idle.
static void
worker_release(mpbi_server *s, worker *w)
{
	if (s->stopping) {
		w->state = W_DEAD;
		return;
	}
	if (s->receiving < s->cfg.receivers) {
		worker_recv(s, w);
		return;
	}
	w->state     = W_IDLE;
	w->next_idle = s->idle;
	s->idle      = w;
}

// Replies handed to nng and not yet sent, per session.  A client that
// sends requests without reading replies would otherwise hold a worker
// (and a reply) per request until the broker runs out of both: past the
// limit its requests are dropped unread, until it reads its replies.
// (Closing its connection instead, as Redis does, makes nng 1.5.2's
// reaper hang on the send stuck in the full socket, and with it the next
// nng_close in the process.)
static void
unsent_session_open(mpbi_server *s, uint32_t sid)
{
	unsent_ctr *c = calloc(1, sizeof(*c));

	if (c != NULL &&
	    mpbi_htab_insert(s->unsent, &sid, sizeof(sid), c) != MPB_OK) {
		free(c);
	}
	// Without a counter the session's replies are not counted: better
	// than refusing it.
}

static void
unsent_session_close(mpbi_server *s, uint32_t sid)
{
	unsent_ctr *c = mpbi_htab_remove(s->unsent, &sid, sizeof(sid));

	if (c != NULL) {
		if (c->uc_n == 0) {
			free(c);
		} else {
			c->uc_gone = true;
		}
	}
}

static size_t
unsent_count(mpbi_server *s, uint32_t sid)
{
	unsent_ctr *c = mpbi_htab_get(s->unsent, &sid, sizeof(sid));

	return (c != NULL ? c->uc_n : 0);
}

// The send of w's reply has completed (or failed).
static void
unsent_done(worker *w)
{
	unsent_ctr *c = w->unsent;

	w->unsent = NULL;
	if (c != NULL && --c->uc_n == 0 && c->uc_gone) {
		free(c);
	}
}

static void
worker_send(mpbi_server *s, worker *w, nng_msg *msg)
{
	w->state = W_SEND;
	s->sending++;
	// A reply to a session that has already ended (a parked request
	// cancelled at its end) finds no counter: nng drops it anyway.
	if ((w->unsent = mpbi_htab_get(s->unsent, &w->sid, sizeof(w->sid))) !=
	    NULL) {
		w->unsent->uc_n++;
	}
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
}

// mpbi_transport.send_reply: the core answers a parked request.
static void
server_send_reply(void *arg, void *token, nng_msg *msg)
{
	mpbi_server *s = arg;
	worker      *w = token;

	if (msg == NULL) {
		// No reply could be built; a new recv on this context discards
		// the request and the client times out.
		worker_release(s, w);
		return;
	}
	worker_send(s, w, msg);
}

static void
wake_timer_if_needed(mpbi_server *s)
{
	if (mpbi_broker_next_deadline(s->broker) < s->timer_armed) {
		pthread_cond_signal(&s->timer_cv);
	}
}

static void
worker_on_recv(mpbi_server *s, worker *w, int rv)
{
	nng_msg     *msg;
	nng_msg     *reply = NULL;
	mpbi_outcome outcome;

	s->receiving--;
	if (rv != 0) {
		if (rv == NNG_ECLOSED || s->stopping) {
			w->state = W_DEAD;
			return;
		}
		worker_release(s, w);
		return;
	}
	msg = nng_aio_get_msg(w->aio);
	nng_aio_set_msg(w->aio, NULL);
	if (s->stopping) {
		nng_msg_free(msg);
		w->state = W_DEAD;
		return;
	}
	w->sid = (uint32_t) nng_pipe_id(nng_msg_get_pipe(msg));
	if (unsent_count(s, w->sid) >= s->cfg.max_unsent) {
		if (s->flood_sid != w->sid) {
			s->flood_sid = w->sid;
			mpbi_log("session %u leaves %u replies unread: dropping "
			         "its requests until it reads them",
			    w->sid, s->cfg.max_unsent);
		}
		nng_msg_free(msg);
		worker_release(s, w);
		return;
	}
	outcome = mpbi_broker_handle(s->broker, w->sid, w, nng_msg_body(msg),
	    nng_msg_len(msg), mpbi_now_ms(), &reply);
	// Any request may arm a timer (a parked one's deadline, a lock's
	// lease), not only one that parks.
	wake_timer_if_needed(s);
	switch (outcome) {
	case MPBI_REPLY:
		// The reply leaves in the request's message (no allocation);
		// the core kept no pointer into the request.
		worker_send(s, w, mpbi_reply_move(reply, msg));
		// Keep the receivers whole while replies are on their way: a
		// client slow to read them must not stop the broker reading.
		fill_receivers(s);
		break;
	case MPBI_PARKED:
		nng_msg_free(msg);
		w->state = W_PARKED;
		fill_receivers(s);
		break;
	case MPBI_DROP:
		nng_msg_free(msg);
		worker_release(s, w);
		break;
	}
}

static void
worker_cb(void *arg)
{
	worker      *w  = arg;
	mpbi_server *s  = w->srv;
	int          rv = nng_aio_result(w->aio);

	pthread_mutex_lock(&s->lock);
	switch (w->state) {
	case W_RECV:
		worker_on_recv(s, w, rv);
		break;
	case W_SEND:
		s->sending--;
		unsent_done(w);
		if (rv != 0) {
			// The message is still ours when a send fails.
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
		}
		worker_release(s, w);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

// ---------------------------------------------------------------------
// Sessions: one per pipe.  Registered in ADD_PRE, because a request can
// reach a context before ADD_POST has run (TECH-NOTES 1.5).

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	mpbi_server *s   = arg;
	uint32_t     sid = (uint32_t) nng_pipe_id(p);
	uint64_t     pid = 0;
	mpb_err      rv  = MPB_OK;

	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) != 0) {
		pid = 0;
	}
	pthread_mutex_lock(&s->lock);
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if ((rv = mpbi_broker_session_open(s->broker, sid)) == MPB_OK) {
			unsent_session_open(s, sid);
		}
	} else {
		// Releasing what the session held may start a lease.
		mpbi_broker_session_close(s->broker, sid);
		unsent_session_close(s, sid);
		wake_timer_if_needed(s);
	}
	pthread_mutex_unlock(&s->lock);

	if (rv != MPB_OK) {
		mpbi_log("refusing connection %u: %s", sid, mpb_strerror(rv));
		nng_pipe_close(p);
		return;
	}
	if (s->cfg.verbose && pid != (uint64_t) getpid()) {
		mpbi_log("session %u %s (peer pid %llu)", sid,
		    ev == NNG_PIPE_EV_ADD_PRE ? "started" : "ended",
		    (unsigned long long) pid);
	}
}

// ---------------------------------------------------------------------
// Timer thread: expires parked requests at their deadlines, and ticks the
// broker (log fsync and rewrites) once a second.
#define TICK_MS 1000

static void *
timer_main(void *arg)
{
	mpbi_server *s = arg;

	uint64_t     next_tick = mpbi_now_ms() + TICK_MS;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		uint64_t        now  = mpbi_now_ms();
		uint64_t        next = mpbi_broker_expire(s->broker, now);
		struct timespec ts;

		if (now >= next_tick) {
			mpbi_broker_tick(s->broker);
			next_tick = now + TICK_MS;
		}
		s->timer_armed = next;
		if (next > next_tick) {
			next = next_tick;
		}
		ts.tv_sec  = (time_t) (next / 1000u);
		ts.tv_nsec = (long) (next % 1000u) * 1000000L;
		(void) pthread_cond_timedwait(&s->timer_cv, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return (NULL);
}

// ---------------------------------------------------------------------
// Listeners and the watchdog

// The URL a local client dials to reach listener url, or NULL when the
// watchdog cannot probe it (tls, ws, abstract sockets...).
static char *
probe_url_for(const char *url, nng_listener l)
{
	nng_url    *u;
	char       *probe = NULL;
	const char *host;
	int         port = 0;

	if (strncmp(url, "ipc://", 6) == 0) {
		return (strdup(url));
	}
	if (strncmp(url, "tcp://", 6) != 0 || nng_url_parse(&u, url) != 0) {
		return (NULL);
	}
	host = u->u_hostname;
	if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "*") == 0) {
		host = "127.0.0.1";
	} else if (strcmp(host, "::") == 0) {
		host = "::1";
	}
	if (nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
		port = atoi(u->u_port);
	}
	if (asprintf(&probe, strchr(host, ':') != NULL ? "tcp://[%s]:%d"
	                                               : "tcp://%s:%d",
	        host, port) < 0) {
		probe = NULL;
	}
	nng_url_free(u);
	return (probe);
}

// Reads a whole (small) file into a new NUL-terminated string.
static char *
read_text_file(const char *path)
{
	FILE  *f = fopen(path, "r");
	char  *buf;
	size_t n;

	if (f == NULL) {
		return (NULL);
	}
	if ((buf = calloc(1, 65537)) != NULL) {
		n = fread(buf, 1, 65536, f);
		if (n == 0 || n == 65536) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return (buf);
}

// Gives a tls+tcp:// listener the broker's certificate and key.
static int
listener_tls(mpbi_server *s, nng_listener l)
{
	nng_tls_config *tls;
	char           *cert = NULL;
	char           *key  = NULL;
	int             rv;

	if (s->cfg.tls_cert_file == NULL || s->cfg.tls_key_file == NULL) {
		mpbi_log("tls+tcp:// listeners need --tls-cert and --tls-key");
		return (NNG_EINVAL);
	}
	if ((cert = read_text_file(s->cfg.tls_cert_file)) == NULL ||
	    (key = read_text_file(s->cfg.tls_key_file)) == NULL) {
		mpbi_log("cannot read %s", cert == NULL ? s->cfg.tls_cert_file
		                                        : s->cfg.tls_key_file);
		free(cert);
		return (NNG_EINVAL);
	}
	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER)) == 0) {
		if ((rv = nng_tls_config_own_cert(tls, cert, key, NULL)) == 0) {
			rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls);
		}
		nng_tls_config_free(tls); // the listener keeps its reference
	}
	free(cert);
	free(key);
	return (rv);
}

static int
listener_open(mpbi_server *s, listener *ln)
{
	int rv;

	if ((rv = nng_listener_create(&ln->l, s->sock, ln->url)) != 0) {
		return (rv);
	}
	if (strncmp(ln->url, "tls+tcp://", 10) == 0 &&
	    (rv = listener_tls(s, ln->l)) != 0) {
		nng_listener_close(ln->l);
		return (rv);
	}
	// nng's own cap refuses a bigger frame before reading it whole (and
	// closes that connection without a reply).  It sits a little above
	// ours, so a frame just over the limit still gets a proper error
	// reply; libmpb never sends one (it learns the limit from ping).
	(void) nng_listener_set_size(ln->l, NNG_OPT_RECVMAXSZ,
	    (size_t) s->bcfg.max_frame + FRAME_SLACK);
	if (ln->ipc_path != NULL) {
		(void) nng_listener_set_int(
		    ln->l, NNG_OPT_IPC_PERMISSIONS, s->cfg.ipc_mode);
	}
	if ((rv = nng_listener_start(ln->l, 0)) != 0) {
		nng_listener_close(ln->l);
		return (rv);
	}
	return (0);
}

static int
listener_init(mpbi_server *s, listener *ln, const char *url)
{
	int rv;

	memset(ln, 0, sizeof(*ln));
	if ((ln->url = strdup(url)) == NULL) {
		return (NNG_ENOMEM);
	}
	if (strncmp(url, "ipc://", 6) == 0) {
		if ((ln->ipc_path = strdup(url + 6)) == NULL) {
			return (NNG_ENOMEM);
		}
	}
	if ((rv = listener_open(s, ln)) != 0) {
		return (rv);
	}
	ln->started   = true;
	ln->probe_url = probe_url_for(url, ln->l);
	return (0);
}

static void
listener_fini(listener *ln)
{
	free(ln->url);
	free(ln->probe_url);
	free(ln->ipc_path);
}

// Dials url as a brand-new client and pings.  true if the broker answered.
static bool
probe(const char *url, int timeout_ms)
{
	nng_socket  ps;
	nng_msg    *msg = NULL;
	mpbi_writer w;
	mpbi_frame  f;
	bool        ok = false;

	if (nng_req0_open(&ps) != 0) {
		return (true); // cannot tell; do not restart on our own failure
	}
	(void) nng_socket_set_ms(ps, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	(void) nng_socket_set_ms(ps, NNG_OPT_SENDTIMEO, timeout_ms);
	(void) nng_socket_set_ms(ps, NNG_OPT_RECVTIMEO, timeout_ms);
	if (nng_dial(ps, url, NULL, 0) != 0 || nng_msg_alloc(&msg, 0) != 0) {
		goto done;
	}
	mpbi_writer_init(&w, msg);
	mpbi_request_begin(&w, MPBI_OP_PING, 0);
	if (mpbi_writer_err(&w) != MPB_OK || nng_sendmsg(ps, msg, 0) != 0) {
		nng_msg_free(msg);
		goto done;
	}
	if (nng_recvmsg(ps, &msg, 0) == 0) {
		ok = mpbi_reply_parse(nng_msg_body(msg), nng_msg_len(msg),
		         MPBI_MAX_DEPTH_CAP, &f, NULL, NULL) == MPB_OK;
		nng_msg_free(msg);
	}
done:
	nng_close(ps);
	return (ok);
}

void
mpbi_server_watchdog(mpbi_server *s)
{
	for (size_t i = 0; i < s->nlisteners; i++) {
		listener *ln = &s->listeners[i];
		int       rv;

		if (ln->probe_url == NULL) {
			continue;
		}
		if (probe(ln->probe_url, ln->ipc_path != NULL
		            ? WATCHDOG_IPC_TIMEOUT_MS
		            : WATCHDOG_TCP_TIMEOUT_MS)) {
			ln->failures = 0;
			continue;
		}
		// TCP restarts drop the listener's connections, so want two
		// misses in a row; an ipc restart costs nothing.
		if (++ln->failures < (ln->ipc_path != NULL ? 1 : 2)) {
			continue;
		}
		mpbi_log("listener %s stopped accepting (nng 1.5.2 bug #1518); "
		         "restarting it",
		    ln->url);
		if (ln->ipc_path != NULL) {
			// The dead listener is left open: closing it would close
			// the connections it accepted and unlink the new file.
			(void) unlink(ln->ipc_path);
		} else {
			nng_listener_close(ln->l);
		}
		if ((rv = listener_open(s, ln)) != 0) {
			mpbi_log("cannot restart listener %s: %s", ln->url,
			    nng_strerror(rv));
			continue;
		}
		ln->failures = 0;
	}
}

// ---------------------------------------------------------------------
// Start and stop

static void
free_unsent_ctr(void *arg, const void *key, size_t klen, void *val)
{
	(void) arg;
	(void) key;
	(void) klen;
	free(val);
}

static void
server_free(mpbi_server *s)
{
	worker  *w;
	uint64_t c = 0;

	while ((w = s->all) != NULL) {
		s->all = w->next_all;
		nng_aio_free(w->aio); // waits for a callback still running
		free(w);
	}
	for (size_t i = 0; i < s->nlisteners; i++) {
		listener_fini(&s->listeners[i]);
	}
	free(s->listeners);
	// Counters of sessions that never ended; those of ended sessions
	// were freed by their last send, which nng_aio_free waited for.
	if (s->unsent != NULL) {
		do {
			c = mpbi_htab_scan(s->unsent, c, 256, free_unsent_ctr, NULL);
		} while (c != 0);
	}
	mpbi_htab_destroy(s->unsent);
	mpbi_broker_destroy(s->broker);
	mpbi_aof_close(s->aof); // after the broker: nothing logs any more
	pthread_cond_destroy(&s->timer_cv);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

mpb_err
mpbi_server_start(const mpbi_config *cfg, const mpbi_server_config *scfg,
    mpbi_server **sp)
{
	mpbi_server       *s;
	pthread_condattr_t ca;
	mpbi_transport     tp;
	int                rv;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return (MPB_ENOMEM);
	}
	s->cfg         = *scfg;
	s->bcfg        = *cfg;
	s->timer_armed = MPBI_NO_DEADLINE;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->timer_cv, &ca);
	pthread_condattr_destroy(&ca);
	tp.arg        = s;
	tp.send_reply = server_send_reply;
	if (mpbi_broker_create(cfg, &tp, &s->broker) != MPB_OK) {
		pthread_cond_destroy(&s->timer_cv);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return (MPB_ENOMEM);
	}
	// State comes back from the log before anyone can connect.
	if (scfg->data_dir != NULL) {
		mpb_err rv2 = mpbi_aof_open(scfg->data_dir, scfg->fsync, &s->aof);
		if (rv2 == MPB_OK) {
			rv2 = mpbi_durable_replay(s->broker, s->aof);
		}
		if (rv2 != MPB_OK) {
			server_free(s);
			return (rv2);
		}
	}
	if ((s->listeners = calloc(scfg->nurls, sizeof(listener))) == NULL ||
	    mpbi_htab_create(&s->unsent) != MPB_OK) {
		server_free(s);
		return (MPB_ENOMEM);
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		mpbi_log("cannot open socket: %s", nng_strerror(rv));
		server_free(s);
		return (MPB_EINTERNAL);
	}
	nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_event, s);
	nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_event, s);
	pthread_mutex_lock(&s->lock);
	fill_receivers(s);
	pthread_mutex_unlock(&s->lock);

	for (size_t i = 0; i < scfg->nurls; i++) {
		listener *ln = &s->listeners[i];

		rv = listener_init(s, ln, scfg->urls[i]);
		s->nlisteners = i + 1;
		if (rv != 0) {
			mpbi_log("cannot listen on %s: %s%s", scfg->urls[i],
			    nng_strerror(rv),
			    rv == NNG_EADDRINUSE ? " (is another broker running?)"
			                         : "");
			mpbi_server_stop(s);
			return (rv == NNG_EADDRINUSE ? MPB_EEXIST : MPB_EINVAL);
		}
		mpbi_log("listening on %s", ln->probe_url != NULL &&
		                 ln->ipc_path == NULL ? ln->probe_url : ln->url);
	}
	if (pthread_create(&s->timer_thread, NULL, timer_main, s) != 0) {
		mpbi_server_stop(s);
		return (MPB_ENOMEM);
	}
	s->timer_started = true;
	*sp              = s;
	return (MPB_OK);
}

void
mpbi_server_stop(mpbi_server *s)
{
	pthread_mutex_lock(&s->lock);
	mpbi_broker_shutdown(s->broker);
	pthread_mutex_unlock(&s->lock);

	// Let the "shutting down" replies leave before the socket closes.
	for (int waited = 0; waited < SHUTDOWN_FLUSH_MS; waited += 10) {
		unsigned sending;
		pthread_mutex_lock(&s->lock);
		sending = s->sending;
		pthread_mutex_unlock(&s->lock);
		if (sending == 0) {
			break;
		}
		usleep(10000);
	}
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->timer_cv);
	pthread_mutex_unlock(&s->lock);
	if (s->timer_started) {
		pthread_join(s->timer_thread, NULL);
	}
	// Closing the socket closes its listeners (unlinking ipc files) and
	// every context; their callbacks see `stopping`.
	nng_close(s->sock);
	for (size_t i = 0; i < s->nlisteners; i++) {
		if (s->listeners[i].started && s->listeners[i].ipc_path != NULL) {
			(void) unlink(s->listeners[i].ipc_path);
		}
	}
	server_free(s);
}
