// server.h -- the nng side of the broker: the rep socket, its listeners,
// the pool of contexts that receive and answer requests, the timer thread
// that expires parked requests, and the listener watchdog.

#ifndef MPBI_SERVER_H
#define MPBI_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "aof.h"
#include "core.h"

typedef struct mpbi_server_config {
	const char *const *urls;      // listen addresses
	size_t             nurls;
	int                ipc_mode;  // permission bits of ipc socket files
	unsigned           receivers; // contexts kept waiting for requests
	unsigned           max_unsent; // replies a session may leave unread
	bool               verbose;   // log every session's start and end
	const char        *tls_cert_file; // PEM, for tls+tcp:// listeners
	const char        *tls_key_file;
	const char        *data_dir; // the log's directory; NULL: in memory only
	mpbi_fsync         fsync;
} mpbi_server_config;

typedef struct mpbi_server mpbi_server;

// Starts listening on every URL.  On failure logs why and returns the
// error; nothing is left running.  Signals should be blocked in the
// calling thread first: nng's threads inherit the mask.
mpb_err mpbi_server_start(const mpbi_config *cfg,
    const mpbi_server_config *scfg, mpbi_server **sp);

// One pass of the listener watchdog (call about once a second from the
// main thread): dials each listener as a fresh client and pings; a
// listener that no longer accepts is replaced.  Debian's nng 1.5.2 stops
// accepting for good after one client aborts its handshake (nng #1518,
// TECH-NOTES 1.6).
void mpbi_server_watchdog(mpbi_server *s);

// Answers parked requests with MPB_ECLOSED, closes the listeners (which
// removes ipc socket files) and the socket, and frees everything.
void mpbi_server_stop(mpbi_server *s);

#endif // MPBI_SERVER_H
