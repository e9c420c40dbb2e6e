// main.c -- mpbroker's command line, signals and watchdog loop.

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define MAX_LISTEN 16
#define DEFAULT_URL "ipc:///tmp/mpbroker.ipc"
#define DEFAULT_IPC_MODE 0600
#define DEFAULT_RECEIVERS 8
#define DEFAULT_MAX_UNSENT 1024

static void
usage(FILE *out)
{
	fprintf(out,
	    "Usage: mpbroker [OPTIONS]\n"
	    "\n"
	    "The mpbroker message broker: named FIFO, LIFO and priority queues\n"
	    "served over nng to client processes (libmpb, the mpb command).\n"
	    "Runs in the foreground and logs to stderr; SIGINT or SIGTERM stop\n"
	    "it cleanly (parked requests are answered ECLOSED and ipc socket\n"
	    "files removed).\n"
	    "\n"
	    "Options:\n"
	    "  -l, --listen URL     listen on URL; repeat for several (at most %d).\n"
	    "                       Default: $MPB_URL if set, else %s.\n"
	    "                       Examples: ipc:///run/mpb.ipc, tcp://127.0.0.1:7070\n"
	    "      --ipc-mode MODE  permission bits (octal) of ipc socket files\n"
	    "                       (default %04o: only this user may connect)\n"
	    "      --max-frame N    largest request frame in bytes (default %u);\n"
	    "                       clients learn it from ping and refuse bigger\n"
	    "                       requests themselves (EMSGSIZE); a frame up to\n"
	    "                       1 KiB over it gets EMSGSIZE, a bigger one is\n"
	    "                       refused before it is read and its connection\n"
	    "                       closed\n"
	    "      --max-name N     longest object name in bytes (default %u)\n"
	    "      --max-objects N  most named objects (default %u)\n"
	    "      --max-parked N   most blocked requests per client (default %u)\n"
	    "      --max-memory N   bytes of stored values (with suffix k, M or G)\n"
	    "                       past which puts and sets fail with ENOMEM\n"
	    "                       (default 0: no limit)\n"
	    "      --max-depth N    deepest msgpack nesting accepted in a frame,\n"
	    "                       1..%u (default %u)\n"
	    "      --receivers N    contexts waiting for requests (default %d)\n"
	    "      --max-unsent N   replies a client may leave unread; past that\n"
	    "                       its requests are dropped unrun until it\n"
	    "                       reads them (default %d)\n"
	    "      --auth-file FILE require every client to prove it knows the\n"
	    "                       secret in FILE (its bytes, less one trailing\n"
	    "                       newline) before any other request; clients\n"
	    "                       use MPB_AUTH_FILE or mpb_connect_ex()\n"
	    "      --insecure       allow a tcp:// listener on a non-loopback\n"
	    "                       address without --auth-file (refused otherwise)\n"
	    "      --tls-cert FILE  certificate (PEM) for tls+tcp:// listeners\n"
	    "      --tls-key FILE   its private key (PEM)\n"
	    "      --data-dir DIR   keep queues (and dicts and lists) durable in\n"
	    "                       DIR/mpbroker.aof, replayed at start-up;\n"
	    "                       without it everything is in memory only\n"
	    "      --fsync always|everysec|no\n"
	    "                       when log writes reach the disk: before each\n"
	    "                       reply (always), once a second (everysec, the\n"
	    "                       default), or when the kernel decides (no)\n"
	    "  -v, --verbose        also log each client session's start and end\n"
	    "  -h, --help           show this help and exit\n"
	    "      --version        show the version and exit\n"
	    "\n"
	    "Exit status: 0 after a clean stop, 1 when it cannot start (bad\n"
	    "option, address in use, ...).\n",
	    MAX_LISTEN, DEFAULT_URL, DEFAULT_IPC_MODE, MPBI_DEFAULT_MAX_FRAME,
	    MPBI_DEFAULT_MAX_NAME, MPBI_DEFAULT_MAX_OBJECTS,
	    MPBI_DEFAULT_MAX_PARKED, MPBI_MAX_DEPTH_CAP, MPBI_DEFAULT_MAX_DEPTH,
	    DEFAULT_RECEIVERS, DEFAULT_MAX_UNSENT);
}

// Parses a number in [min, max] (base 0: 0x.., 0.. octal) or exits.
static uint32_t
parse_num(const char *opt, const char *s, unsigned long min,
    unsigned long max, int base)
{
	char         *end;
	unsigned long v;

	errno = 0;
	v     = strtoul(s, &end, base);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "mpbroker: %s wants a number from %lu to %lu, not '%s'\n",
		    opt, min, max, s);
		exit(1);
	}
	return ((uint32_t) v);
}

// true for addresses only this host can reach: ipc, abstract sockets and
// tcp/tls on a loopback address.  (Redis calls refusing the others
// without a password "protected mode".)
static bool
url_is_private(const char *url)
{
	static const char *const loopback[] = { "127.", "localhost:", "[::1]:" };
	const char              *host;

	if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "abstract://", 11) == 0 ||
	    strncmp(url, "inproc://", 9) == 0) {
		return (true);
	}
	if ((host = strstr(url, "://")) == NULL) {
		return (false);
	}
	host += 3;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		if (strncmp(host, loopback[i], strlen(loopback[i])) == 0) {
			return (true);
		}
	}
	return (false);
}

// Parses a byte count with an optional k, M or G suffix (powers of 1024),
// or exits.
static uint64_t
parse_size(const char *opt, const char *s)
{
	char              *end;
	unsigned long long v;
	unsigned           shift = 0;

	errno = 0;
	v     = strtoull(s, &end, 10);
	if (*end == 'k' || *end == 'K') {
		shift = 10;
	} else if (*end == 'M') {
		shift = 20;
	} else if (*end == 'G') {
		shift = 30;
	}
	if (shift != 0) {
		end++;
	}
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v > (UINT64_MAX >> shift)) {
		fprintf(stderr, "mpbroker: %s wants a size like 512M, not '%s'\n",
		    opt, s);
		exit(1);
	}
	return ((uint64_t) v << shift);
}

// The listener watchdog runs on its own thread, so that a probe stuck in
// nng (nng_close can wait on nng's reaper) never keeps the main thread
// from answering a stop signal.
#define STOP_JOIN_S 5
// A stop that has not finished by then is stuck in nng: exit anyway.
#define STOP_DEADLINE_S 20

static pthread_mutex_t watchdog_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  watchdog_cv  = PTHREAD_COND_INITIALIZER;
static bool            watchdog_done;

static void *
watchdog_main(void *arg)
{
	mpbi_server *srv = arg;

	pthread_mutex_lock(&watchdog_mtx);
	while (!watchdog_done) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		(void) pthread_cond_timedwait(&watchdog_cv, &watchdog_mtx, &until);
		if (watchdog_done) {
			break;
		}
		pthread_mutex_unlock(&watchdog_mtx);
		mpbi_server_watchdog(srv);
		pthread_mutex_lock(&watchdog_mtx);
	}
	pthread_mutex_unlock(&watchdog_mtx);
	return (NULL);
}

static void
watchdog_stop(void)
{
	pthread_mutex_lock(&watchdog_mtx);
	watchdog_done = true;
	pthread_cond_signal(&watchdog_cv);
	pthread_mutex_unlock(&watchdog_mtx);
}

static void *
deadline_main(void *arg)
{
	(void) arg;
	sleep(STOP_DEADLINE_S);
	mpbi_log("stop did not finish in %d s (stuck in nng); exiting",
	    STOP_DEADLINE_S);
	_exit(1);
}

int
main(int argc, char **argv)
{
	enum {
		OPT_IPC_MODE = 256,
		OPT_MAX_FRAME,
		OPT_MAX_NAME,
		OPT_MAX_OBJECTS,
		OPT_MAX_PARKED,
		OPT_MAX_DEPTH,
		OPT_RECEIVERS,
		OPT_VERSION,
		OPT_AUTH_FILE,
		OPT_INSECURE,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_MAX_UNSENT,
		OPT_DATA_DIR,
		OPT_FSYNC,
		OPT_MAX_MEMORY,
	};
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "ipc-mode", required_argument, NULL, OPT_IPC_MODE },
		{ "max-frame", required_argument, NULL, OPT_MAX_FRAME },
		{ "max-name", required_argument, NULL, OPT_MAX_NAME },
		{ "max-objects", required_argument, NULL, OPT_MAX_OBJECTS },
		{ "max-parked", required_argument, NULL, OPT_MAX_PARKED },
		{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
		{ "receivers", required_argument, NULL, OPT_RECEIVERS },
		{ "max-unsent", required_argument, NULL, OPT_MAX_UNSENT },
		{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "fsync", required_argument, NULL, OPT_FSYNC },
		{ "auth-file", required_argument, NULL, OPT_AUTH_FILE },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char        *urls[MAX_LISTEN];
	mpbi_config        cfg;
	mpbi_server_config scfg = { 0 };
	mpbi_server       *srv;
	sigset_t           sigs;
	pthread_t          watchdog;
	pthread_t          deadline;
	int                c;
	mpb_err            rv;
	const char        *auth_file = NULL;
	bool               insecure  = false;
	uint8_t           *secret    = NULL;

	mpbi_config_defaults(&cfg);
	scfg.urls      = urls;
	scfg.ipc_mode  = DEFAULT_IPC_MODE;
	scfg.receivers  = DEFAULT_RECEIVERS;
	scfg.max_unsent = DEFAULT_MAX_UNSENT;
	scfg.fsync      = MPBI_FSYNC_EVERYSEC;
	while ((c = getopt_long(argc, argv, "l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (scfg.nurls == MAX_LISTEN) {
				fprintf(stderr, "mpbroker: at most %d --listen\n",
				    MAX_LISTEN);
				return (1);
			}
			urls[scfg.nurls++] = optarg;
			break;
		case OPT_IPC_MODE:
			scfg.ipc_mode = (int) parse_num(
			    "--ipc-mode", optarg, 0, 0777, 8);
			break;
		case OPT_MAX_FRAME:
			cfg.max_frame = parse_num(
			    "--max-frame", optarg, 64, INT32_MAX / 2, 0);
			break;
		case OPT_MAX_NAME:
			cfg.max_name = parse_num(
			    "--max-name", optarg, 1, 65535, 0);
			break;
		case OPT_MAX_OBJECTS:
			cfg.max_objects = parse_num(
			    "--max-objects", optarg, 1, UINT32_MAX, 0);
			break;
		case OPT_MAX_PARKED:
			cfg.max_parked = parse_num(
			    "--max-parked", optarg, 0, UINT32_MAX, 0);
			break;
		case OPT_MAX_DEPTH:
			cfg.max_depth = parse_num(
			    "--max-depth", optarg, 1, MPBI_MAX_DEPTH_CAP, 0);
			break;
		case OPT_RECEIVERS:
			scfg.receivers = parse_num(
			    "--receivers", optarg, 1, 1024, 0);
			break;
		case OPT_MAX_UNSENT:
			scfg.max_unsent = parse_num(
			    "--max-unsent", optarg, 1, 1u << 20, 0);
			break;
		case OPT_MAX_MEMORY:
			cfg.max_memory = parse_size("--max-memory", optarg);
			break;
		case OPT_DATA_DIR:
			scfg.data_dir = optarg;
			break;
		case OPT_FSYNC:
			if (strcmp(optarg, "always") == 0) {
				scfg.fsync = MPBI_FSYNC_ALWAYS;
			} else if (strcmp(optarg, "everysec") == 0) {
				scfg.fsync = MPBI_FSYNC_EVERYSEC;
			} else if (strcmp(optarg, "no") == 0) {
				scfg.fsync = MPBI_FSYNC_NO;
			} else {
				fprintf(stderr, "mpbroker: --fsync wants always, "
				                "everysec or no\n");
				return (1);
			}
			break;
		case OPT_AUTH_FILE:
			auth_file = optarg;
			break;
		case OPT_INSECURE:
			insecure = true;
			break;
		case OPT_TLS_CERT:
			scfg.tls_cert_file = optarg;
			break;
		case OPT_TLS_KEY:
			scfg.tls_key_file = optarg;
			break;
		case 'v':
			scfg.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case OPT_VERSION:
			printf("mpbroker 0.1.0 (protocol %d)\n",
			    MPBI_PROTOCOL_VERSION);
			return (0);
		default:
			usage(stderr);
			return (1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mpbroker: unexpected argument '%s'\n", argv[optind]);
		return (1);
	}
	if (scfg.nurls == 0) {
		const char *env = getenv("MPB_URL");
		urls[scfg.nurls++] = env != NULL && env[0] != '\0' ? env : DEFAULT_URL;
	}
	if (auth_file != NULL &&
	    mpbi_auth_read_secret(auth_file, &secret, &cfg.auth_secret_len) !=
	        MPB_OK) {
		fprintf(stderr,
		    "mpbroker: cannot read a secret from %s (empty, unreadable "
		    "or over 4 KiB)\n",
		    auth_file);
		return (1);
	}
	cfg.auth_secret = secret;
	for (size_t i = 0; i < scfg.nurls && secret == NULL && !insecure; i++) {
		if (!url_is_private(urls[i])) {
			fprintf(stderr,
			    "mpbroker: refusing to listen on %s without "
			    "--auth-file: anyone who can reach it could use the "
			    "broker (--insecure to do it anyway)\n",
			    urls[i]);
			return (1);
		}
	}

	// Block the stop signals before nng starts its threads (they inherit
	// the mask), so only sigwaitinfo below ever sees them.
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rv = mpbi_server_start(&cfg, &scfg, &srv)) != MPB_OK) {
		return (1);
	}
	mpbi_log("ready (protocol %d, max frame %u bytes)", MPBI_PROTOCOL_VERSION,
	    (unsigned) cfg.max_frame);
	if (pthread_create(&watchdog, NULL, watchdog_main, srv) != 0) {
		mpbi_log("cannot start the listener watchdog");
		mpbi_server_stop(srv);
		return (1);
	}
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);

		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			mpbi_log("stopping on signal %d", sig);
			break;
		}
	}
	// Whatever happens in nng from here on, the broker exits.
	(void) pthread_create(&deadline, NULL, deadline_main, NULL);
	watchdog_stop();
	{
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STOP_JOIN_S;
		if (pthread_timedjoin_np(watchdog, NULL, &until) != 0) {
			// Stuck inside nng (a close waiting on its reaper):
			// freeing the server under it is not safe.
			mpbi_log("the listener watchdog is stuck in nng; exiting "
			         "without a clean stop");
			_exit(1);
		}
	}
	mpbi_server_stop(srv);
	mpbi_log("stopped");
	free(secret);
	return (0);
}
