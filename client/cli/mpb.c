// mpb.c -- mpb, the command-line client of mpbroker (in the spirit of
// redis-cli).
//
// One invocation runs one command against the broker and maps the outcome
// to an exit status, so that shell scripts can branch on "got nothing"
// (3) or "no broker" (4) without parsing text.  The program uses only the
// public libmpb API (mpb.h) plus msgpack-c to encode values and print them.
//
// The command line is table driven: commands[] maps "queue put" and the
// like to a handler, the number of positional arguments and the options it
// accepts; optdefs[] says how each option's value is parsed.  Options may
// be mixed with positional arguments in any order.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include "mpb.h"

// Exit statuses; documented in the help text.
enum {
	EXIT_OK       = 0,
	EXIT_ERR      = 1, // any other broker, connection or local error
	EXIT_USAGE    = 2, // bad command line
	EXIT_NOTHING  = 3, // empty, full or timed out: nothing got or put
	EXIT_NOBROKER = 4, // nobody answered at the URL
};

static const char help_text[] =
    "Usage: mpb [--url URL] [--connect-timeout MS] COMMAND [ARGS...]\n"
    "       mpb --help | -h\n"
    "       mpb --version\n"
    "\n"
    "mpb runs one command against an mpbroker and exits.\n"
    "\n"
    "Global options (also accepted after the command):\n"
    "  --url URL             the broker's address, an nng URL such as\n"
    "                        ipc:///path or tcp://host:port.  Default: the\n"
    "                        environment variable MPB_URL if set and not\n"
    "                        empty, else " MPB_DEFAULT_URL "\n"
    "  --connect-timeout MS  how long to wait, in milliseconds, for the\n"
    "                        broker to answer when connecting (default 0,\n"
    "                        which means 5000)\n"
    "  -h, --help            print this help and exit (also after a\n"
    "                        command: mpb queue --help)\n"
    "  --version             print mpb's version and exit\n"
    "\n"
    "Commands:\n"
    "  ping\n"
    "      Check that the broker answers; prints \"PONG (protocol N)\".\n"
    "  stats [--json]\n"
    "      What the broker is doing: version, uptime, connected sessions,\n"
    "      waiting requests, objects, memory used and its limit,\n"
    "      durability, error replies and requests run per operation; as\n"
    "      \"key: value\" lines, or one JSON object with --json.\n"
    "  list-objects\n"
    "      Print every named object, sorted by name, one per line as\n"
    "      NAME<TAB>CLASS<TAB>KIND<TAB>SIZE\n"
    "      CLASS is queue, dict, list, lock, ...; KIND its kind within\n"
    "      the class (fifo, rlock, ...); SIZE its items, keys or elements.\n"
    "  delete NAME\n"
    "      Delete the object NAME, whatever its kind; requests waiting on\n"
    "      it fail.\n"
    "  queue create NAME --kind fifo|lifo|priority [--maxsize N]\n"
    "      Open queue NAME, creating it if it does not exist; prints\n"
    "      \"created\" or \"exists\".  --maxsize bounds the number of items\n"
    "      (default 0: unbounded).  Fails if NAME exists with another kind\n"
    "      or maxsize.\n"
    "  queue put NAME VALUE [--priority N] [--timeout SECONDS]\n"
    "      Append VALUE to NAME; VALUE \"-\" reads all of standard input.\n"
    "      --priority orders a priority queue, lowest first, equal ones in\n"
    "      put order (any 64-bit integer, default 0; fifo and lifo queues\n"
    "      ignore it).  If a bounded queue is full, waits up to SECONDS for\n"
    "      room (default 0: fail at once).\n"
    "  queue get NAME [--timeout SECONDS]\n"
    "      Remove the next item from NAME and print it (see Values).  Waits\n"
    "      up to SECONDS for one (default 0: fail at once if empty).\n"
    "  queue size NAME\n"
    "      Print the number of items in NAME.\n"
    "  queue list\n"
    "      Print every queue, sorted by name, one per line as\n"
    "      NAME<TAB>KIND<TAB>SIZE<TAB>MAXSIZE<TAB>UNFINISHED\n"
    "      KIND is fifo, lifo or priority; MAXSIZE 0 means unbounded;\n"
    "      UNFINISHED counts items put and not yet marked done.\n"
    "  queue delete NAME\n"
    "      Delete NAME and its items; requests waiting on it fail.\n"
    "  queue task-done NAME\n"
    "      Mark one item got from NAME as processed.\n"
    "  queue join NAME [--timeout SECONDS]\n"
    "      Wait up to SECONDS until every item put in NAME has been marked\n"
    "      done (default 0: fail at once if any is unfinished).\n"
    "  dict set NAME KEY VALUE [--int] [--int-key]\n"
    "      Set KEY to VALUE in dict NAME (created on first use).\n"
    "  dict get NAME KEY [--int-key]\n"
    "      Print the value of KEY (see Values); exit 3 if there is none.\n"
    "  dict del NAME KEY [--int-key]\n"
    "      Remove KEY; exit 3 if there is none.\n"
    "  dict incr NAME KEY [DELTA] [--int-key]\n"
    "      Add DELTA (a 64-bit integer, default 1) to the integer at KEY,\n"
    "      a missing key counting as 0, atomically; print the new value.\n"
    "  dict len NAME\n"
    "      Print the number of keys.\n"
    "  dict keys NAME\n"
    "  dict items NAME\n"
    "      Print every key, one per line, or every KEY<TAB>VALUE, in no\n"
    "      particular order (read in pages; a dict changed meanwhile may\n"
    "      show a key twice or miss one added or removed meanwhile).\n"
    "  list append NAME VALUE [--int]\n"
    "      Append VALUE to list NAME (created on first use).\n"
    "  list get NAME INDEX\n"
    "  list set NAME INDEX VALUE [--int]\n"
    "  list pop NAME [INDEX]\n"
    "      Print, replace, or remove and print the element at INDEX\n"
    "      (default for pop: -1, the last); negative indexes count from\n"
    "      the end, as in Python.  Exit 3 if INDEX is outside the list.\n"
    "  list len NAME\n"
    "      Print the number of elements.\n"
    "  list range NAME [START [STOP]]\n"
    "      Print the elements of NAME[START:STOP] (Python's slice rules;\n"
    "      default the whole list), one per line.\n"
    "  lock run NAME [--timeout SECONDS] -- COMMAND [ARGS...]\n"
    "      Take the lock NAME (created on first use), run COMMAND while\n"
    "      holding it, release it, and exit with COMMAND's status (128+N\n"
    "      if a signal N killed it; 127 if it cannot be found), as\n"
    "      flock(1) does.  Waits up to SECONDS for the lock (default: as\n"
    "      long as it takes); exit 3 if it was not had in time.  SIGINT,\n"
    "      SIGTERM, SIGHUP and SIGQUIT sent to mpb are passed on to\n"
    "      COMMAND.  The lock belongs to mpb's connection: if mpb itself\n"
    "      dies (kill -9), the broker releases the lock at once, even if\n"
    "      COMMAND still runs.  If the release fails (the lock was\n"
    "      deleted or the connection lost meanwhile) mpb reports it and\n"
    "      exits 1 when COMMAND succeeded.\n"
    "  event set NAME | event clear NAME\n"
    "      Set (waking every waiter) or clear the event NAME (created on\n"
    "      first use, clear).\n"
    "  event wait NAME [--timeout SECONDS]\n"
    "      Wait until the event NAME is set (default: as long as it\n"
    "      takes); exit 0 once it is, 3 if SECONDS pass first.\n"
    "  sem acquire NAME [--timeout SECONDS]\n"
    "      Take one permit of the semaphore NAME (created on first use\n"
    "      with value 1), waiting up to SECONDS (default: as long as it\n"
    "      takes); exit 3 if none came in time.  The permit outlives mpb:\n"
    "      it is given back only by \"sem release\".\n"
    "  sem release NAME\n"
    "      Give back one permit; exit 1 (ESTATE) if a bounded semaphore\n"
    "      is at its initial value.\n"
    "  State of locks, semaphores, events and other synchronisation\n"
    "  objects: see list-objects (SIZE is a lock's count, a semaphore's\n"
    "  value, 1 for a set event, waiters of a condition or a barrier,\n"
    "  messages in a pipe).\n"
    "\n"
    "  Options may come before or after a command's arguments, and may be\n"
    "  written --name VALUE or --name=VALUE; negative numbers are values\n"
    "  (--priority -5).  \"--\" ends the options, so that a VALUE that\n"
    "  begins with \"-\" can be given: mpb queue put NAME -- -x.\n"
    "  SECONDS is a decimal number of seconds >= 0 and may have a fraction\n"
    "  (0.5); it is rounded up to whole milliseconds, at most 4294967.295.\n"
    "\n"
    "Values:\n"
    "  KEY and VALUE are stored as msgpack strings, unless --int-key or\n"
    "  --int says it is a 64-bit integer (dict keys \"5\" and 5 differ).\n"
    "  Queue items are msgpack values.  \"queue put\" stores VALUE as a\n"
    "  msgpack string (str) holding its bytes unchanged, without a newline.\n"
    "  \"queue get\", \"dict get\", \"list get\" and the like print each\n"
    "  value followed by a newline:\n"
    "    a string      its bytes as they are, not quoted or escaped;\n"
    "    an integer    in decimal (-5, 42);\n"
    "    anything else (put by other clients) in msgpack-c's text form:\n"
    "                  nil, true, false; floats as 1.500000; arrays as\n"
    "                  [a, b]; maps as {key=>value, key=>value};\n"
    "                  strings inside them as \"...\" (bytes as they\n"
    "                  are, cut at a NUL byte); bin as \"...\" with '\"'\n"
    "                  as \\\" and non-printable bytes as \\xNN; ext as\n"
    "                  (ext: TYPE)\"...\" likewise.\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  error: any other broker, connection or local error\n"
    "  2  usage error: bad command line\n"
    "  3  nothing got or put: the queue is empty (get) or full (put), or\n"
    "     the timeout expired (get, put, join); no such key (dict get, del)\n"
    "     or no such index (list get, set, pop); the lock or permit was\n"
    "     not had in time (lock run, sem acquire), the event was not set\n"
    "     in time (event wait)\n"
    "  N  lock run: COMMAND's own exit status\n"
    "  4  no broker: nobody listens at the URL, or it did not answer\n"
    "     within the connect timeout\n"
    "\n"
    "Environment:\n"
    "  MPB_URL        the broker's address when --url is not given (empty:\n"
    "                 the default above)\n"
    "  MPB_AUTH_FILE  file holding the broker's shared secret, for a\n"
    "                 broker started with --auth-file (EAUTH otherwise)\n"
    "  MPB_TLS_CA     CA certificate (PEM) that signed the broker's\n"
    "                 certificate, for tls+tcp:// URLs\n"
    "\n"
    "Errors are printed on standard error as one line:\n"
    "  mpb: ERRNAME: description[: the broker's message]\n"
    "for example: mpb: ENOENT: no such object: no object 'jobs'\n";

// Option bits: which options a command accepts, and which were given.
enum {
	OPT_URL      = 1u << 0,
	OPT_CONNECT  = 1u << 1,
	OPT_KIND     = 1u << 2,
	OPT_MAXSIZE  = 1u << 3,
	OPT_PRIORITY = 1u << 4,
	OPT_TIMEOUT  = 1u << 5,
	OPT_INT      = 1u << 6, // VALUE (or DELTA) is an integer
	OPT_INT_KEY  = 1u << 7, // KEY is an integer
	OPT_JSON     = 1u << 8, // machine-readable output
};

// The global options are accepted after the command too: appending
// "--url X" to a command line is the natural thing to do.
#define OPT_GLOBAL (OPT_URL | OPT_CONNECT)

// The most positional arguments any command takes (dict set NAME KEY
// VALUE).
#define MAX_ARGS 3

struct command;

// cli is the parsed command line.
struct cli {
	const struct command *cmd;
	const char           *args[MAX_ARGS];
	int                   nargs;
	unsigned              given; // OPT_ bits seen
	const char           *url;   // NULL: MPB_URL, else MPB_DEFAULT_URL
	int                   connect_ms;
	mpb_queue_kind        kind;
	uint64_t              maxsize;
	int64_t               priority;
	uint32_t              timeout_ms;
	char *const          *rest; // after "--", for commands that run one
	int                   nrest;
};

// A handler runs its command on a connected client and returns the exit
// status; it reports its own errors.
typedef int (*cmd_fn)(mpb_client *, const struct cli *);

struct command {
	const char *group;    // "queue", or NULL for a top-level command
	const char *name;     // word after the group
	cmd_fn      run;
	int         nargs;    // positional arguments, exactly
	unsigned    opts;     // OPT_ bits accepted besides OPT_GLOBAL
	unsigned    required; // OPT_ bits that must be given
	const char *synopsis; // for usage errors, after "mpb "
	int         optional; // how many of the last nargs may be left out
};

// ---------------------------------------------------------------------
// Reporting

static int
exit_status(mpb_err err)
{
	switch (err) {
	case MPB_OK:
		return (EXIT_OK);
	case MPB_EEMPTY:
	case MPB_EFULL:
	case MPB_ETIMEDOUT:
	case MPB_ENOTFOUND:
	case MPB_EINDEX:
		return (EXIT_NOTHING);
	case MPB_ENOBROKER:
		return (EXIT_NOBROKER);
	default:
		return (EXIT_ERR);
	}
}

// put_oneline writes s with control characters turned into spaces: a
// broker message is untrusted text, and an error report must stay one
// line for scripts that read stderr line by line.
static void
put_oneline(const char *s, FILE *f)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;
		fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
	}
}

// fail reports a libmpb error and returns its exit status.  It must be
// called right after the failing call: the broker's message lives only
// until this thread's next libmpb call.  A message that only repeats the
// description ("timed out: timed out") is left out.
static int
fail(mpb_err err)
{
	const char *msg  = mpb_last_error_text();
	const char *desc = mpb_strerror(err);

	fprintf(stderr, "mpb: %s: %s", mpb_errname(err), desc);
	if (msg != NULL && msg[0] != '\0' && strcmp(msg, desc) != 0) {
		fputs(": ", stderr);
		put_oneline(msg, stderr);
	}
	fputc('\n', stderr);
	return (exit_status(err));
}

// fail_local reports an error found by mpb itself, in the same form as
// fail() but without a broker message (there is none to show).
static int
fail_local(mpb_err err, const char *detail)
{
	if (detail != NULL) {
		fprintf(stderr, "mpb: %s: %s: %s\n", mpb_errname(err),
		    mpb_strerror(err), detail);
	} else {
		fprintf(stderr, "mpb: %s: %s\n", mpb_errname(err),
		    mpb_strerror(err));
	}
	return (exit_status(err));
}

// usage_error reports a bad command line as one line, followed by the
// command's synopsis when the command is known, and returns EXIT_USAGE.
static int usage_error(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("mpb: ", stderr);
	if (cmd != NULL) {
		fprintf(stderr, "%s%s%s: ", cmd->group ? cmd->group : "",
		    cmd->group ? " " : "", cmd->name);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL) {
		fprintf(stderr, "; usage: mpb %s\n", cmd->synopsis);
	} else {
		fputs("; try 'mpb --help'\n", stderr);
	}
	return (EXIT_USAGE);
}

// ---------------------------------------------------------------------
// Option values.  Numbers are checked by hand rather than left to
// strto*() alone, which would accept leading blanks, "0x10", "inf" or
// (for strtoull) a minus sign that silently wraps around.

static bool
all_digits(const char *s)
{
	if (*s == '\0') {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return (false);
		}
	}
	return (true);
}

static bool
parse_u64(const char *s, uint64_t *vp)
{
	unsigned long long v;
	char              *end;

	if (!all_digits(s)) {
		return (false);
	}
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return (false);
	}
	*vp = (uint64_t) v;
	return (true);
}

static bool
parse_i64(const char *s, int64_t *vp)
{
	long long v;
	char     *end;

	if (!all_digits(s[0] == '-' || s[0] == '+' ? s + 1 : s)) {
		return (false);
	}
	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return (false);
	}
	*vp = (int64_t) v;
	return (true);
}

// looks_numeric tells whether an argument that begins with "-" is a
// negative number (a positional VALUE such as -5 or -0.5) rather than a
// mistyped option.
static bool
looks_numeric(const char *s)
{
	const char *p = s[0] == '-' ? s + 1 : s;

	if (*p == '.') {
		p++;
	}
	return (*p >= '0' && *p <= '9');
}

static bool
opt_url(struct cli *cli, const char *s)
{
	if (*s == '\0') {
		return (false);
	}
	cli->url = s;
	return (true);
}

static bool
opt_connect(struct cli *cli, const char *s)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v > INT_MAX) {
		return (false);
	}
	cli->connect_ms = (int) v;
	return (true);
}

static bool
opt_kind(struct cli *cli, const char *s)
{
	static const struct {
		const char    *name;
		mpb_queue_kind kind;
	} kinds[] = {
		{ "fifo", MPB_QUEUE_FIFO },
		{ "lifo", MPB_QUEUE_LIFO },
		{ "priority", MPB_QUEUE_PRIORITY },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(s, kinds[i].name) == 0) {
			cli->kind = kinds[i].kind;
			return (true);
		}
	}
	return (false);
}

static bool
opt_maxsize(struct cli *cli, const char *s)
{
	return (parse_u64(s, &cli->maxsize));
}

static bool
opt_priority(struct cli *cli, const char *s)
{
	return (parse_i64(s, &cli->priority));
}

// opt_timeout takes seconds, as people think of waits, and converts them
// to the milliseconds libmpb wants.  The decimal is converted exactly, in
// integers (a double would turn 1.1 s into 1100.0000000000002 ms), and
// rounded up so that a small positive wait never becomes 0, which would
// mean "do not wait".  Only plain decimals are taken ("2", "0.5", ".5"):
// no sign, exponent, hex, "inf" or blanks.
static bool
opt_timeout(struct cli *cli, const char *s)
{
	static const unsigned scale[] = { 100, 10, 1 };
	uint64_t              ms      = 0;
	size_t                whole   = strspn(s, "0123456789");
	size_t                frac    = 0;
	bool                  roundup = false;

	if (s[whole] == '.') {
		frac = strspn(s + whole + 1, "0123456789");
		if (s[whole + 1 + frac] != '\0') {
			return (false);
		}
	} else if (s[whole] != '\0') {
		return (false);
	}
	if (whole + frac == 0) {
		return (false);
	}
	for (size_t i = 0; i < whole; i++) {
		ms = ms * 10 + (uint64_t) (s[i] - '0');
		if (ms > UINT32_MAX / 1000 + 1) {
			return (false); // and keep ms from overflowing
		}
	}
	ms *= 1000;
	for (size_t i = 0; i < frac; i++) {
		unsigned d = (unsigned) (s[whole + 1 + i] - '0');

		if (i < 3) {
			ms += d * scale[i];
		} else if (d != 0) {
			roundup = true;
		}
	}
	ms += roundup ? 1 : 0;
	if (ms > UINT32_MAX) {
		return (false);
	}
	cli->timeout_ms = (uint32_t) ms;
	return (true);
}

struct optdef {
	const char *name; // without the leading "--"
	unsigned    bit;
	bool (*parse)(struct cli *, const char *);
	const char *want; // what a valid value looks like
};

static const struct optdef optdefs[] = {
	{ "url", OPT_URL, opt_url, "an nng URL such as ipc:///path" },
	{ "connect-timeout", OPT_CONNECT, opt_connect,
	    "milliseconds, an integer from 0 to 2147483647" },
	{ "kind", OPT_KIND, opt_kind, "fifo, lifo or priority" },
	{ "maxsize", OPT_MAXSIZE, opt_maxsize, "an integer from 0" },
	{ "priority", OPT_PRIORITY, opt_priority, "a 64-bit integer" },
	{ "timeout", OPT_TIMEOUT, opt_timeout,
	    "seconds from 0 to 4294967.295, such as 2 or 0.5" },
	// Flags: no value (parse NULL).
	{ "int", OPT_INT, NULL, "no value" },
	{ "int-key", OPT_INT_KEY, NULL, "no value" },
	{ "json", OPT_JSON, NULL, "no value" },
};

static const char *
opt_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++) {
		if (optdefs[i].bit == bit) {
			return (optdefs[i].name);
		}
	}
	return ("?");
}

// parse_option parses the option at argv[*ip] (which begins with "--"),
// taking its value from "=VALUE" or from the next argument, whatever that
// looks like: "--priority -5" must work.  cmd is NULL before the command.
// Returns EXIT_OK or, having reported it, EXIT_USAGE.
static int
parse_option(struct cli *cli, const struct command *cmd, unsigned allowed,
    int argc, char **argv, int *ip)
{
	const char          *arg = argv[*ip] + 2;
	const char          *eq  = strchr(arg, '=');
	size_t               len = eq ? (size_t) (eq - arg) : strlen(arg);
	const char          *val;
	const struct optdef *od = NULL;

	for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++) {
		if (strlen(optdefs[i].name) == len &&
		    strncmp(optdefs[i].name, arg, len) == 0) {
			od = &optdefs[i];
			break;
		}
	}
	if (od == NULL || (od->bit & allowed) == 0) {
		return (usage_error(cmd, "unknown option '%.*s'", (int) len + 2,
		    argv[*ip]));
	}
	if (od->parse == NULL) {
		if (eq != NULL) {
			return (usage_error(cmd, "option '--%s' takes no value",
			    od->name));
		}
		cli->given |= od->bit;
		return (EXIT_OK);
	}
	if (eq != NULL) {
		val = eq + 1;
	} else if (*ip + 1 < argc) {
		val = argv[++*ip];
	} else {
		return (usage_error(cmd, "option '--%s' needs a value (%s)",
		    od->name, od->want));
	}
	if (!od->parse(cli, val)) {
		return (usage_error(cmd, "bad value '%s' for '--%s': want %s",
		    val, od->name, od->want));
	}
	cli->given |= od->bit;
	return (EXIT_OK);
}

// ---------------------------------------------------------------------
// Values

// read_all reads f to its end into a new buffer.
static int
read_all(FILE *f, char **bufp, size_t *lenp)
{
	char  *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		size_t n;

		if (len == cap) {
			char *nbuf;

			cap  = cap ? cap * 2 : 4096;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				free(buf);
				return (
				    fail_local(MPB_ENOMEM, "reading stdin"));
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			break;
		}
	}
	if (ferror(f)) {
		int e = errno;

		free(buf);
		fprintf(stderr, "mpb: cannot read stdin: %s\n", strerror(e));
		return (EXIT_ERR);
	}
	*bufp = buf;
	*lenp = len;
	return (EXIT_OK);
}

// pack_str encodes data[0..len) as one msgpack str into sb.
static int
pack_str(msgpack_sbuffer *sb, const char *data, size_t len)
{
	msgpack_packer pk;

	// A msgpack str carries a 32-bit length.
	if (len > UINT32_MAX) {
		return (fail_local(MPB_EMSGSIZE, NULL));
	}
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_str(&pk, len) != 0 ||
	    msgpack_pack_str_body(&pk, data, len) != 0) {
		return (fail_local(MPB_ENOMEM, NULL));
	}
	return (EXIT_OK);
}

// text_bound returns an upper bound on the length of o in msgpack-c's
// text form, so that one buffer of that size surely holds it: the text's
// size is not known up front, and msgpack_object_print_buffer() writes
// only what fits.
static size_t
text_bound(msgpack_object o)
{
	size_t n = 2; // brackets or quotes

	switch (o.type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_BOOLEAN:
		return (5);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return (20);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return (320); // "%f" of -DBL_MAX: 309 digits, sign, ".000000"
	case MSGPACK_OBJECT_STR:
		return (n + o.via.str.size);
	case MSGPACK_OBJECT_BIN:
		return (n + 4 * (size_t) o.via.bin.size); // "\xNN" per byte
	case MSGPACK_OBJECT_EXT:
		return (n + 16 + 4 * (size_t) o.via.ext.size); // "(ext: -128)"
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o.via.array.size; i++) {
			n += 2 + text_bound(o.via.array.ptr[i]); // ", "
		}
		return (n);
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o.via.map.size; i++) {
			// "=>" and ", "
			n += 4 + text_bound(o.via.map.ptr[i].key) +
			    text_bound(o.via.map.ptr[i].val);
		}
		return (n);
	}
	return (64); // "#<UNKNOWN %i %llu>"
}

// print_text prints obj in msgpack-c's text form, through a buffer sized
// by text_bound().  msgpack-c 4.0's print_buffer fails (returns 0) on any
// value holding an empty bin or ext, however large the buffer; the stdio
// printer, which writes the same form, takes over then.
static int
print_text(msgpack_object obj, int end)
{
	size_t size = text_bound(obj) + 1; // and the NUL
	char  *buf;
	int    n = 0;

	if (size > INT_MAX) {
		return (fail_local(MPB_EMSGSIZE, "value too large to print"));
	}
	if ((buf = malloc(size)) == NULL) {
		return (fail_local(MPB_ENOMEM, NULL));
	}
	n = msgpack_object_print_buffer(buf, size, obj);
	if (n > 0 && (size_t) n < size) {
		fwrite(buf, 1, (size_t) n, stdout);
	} else {
		msgpack_object_print(stdout, obj);
	}
	fputc(end, stdout);
	free(buf);
	return (EXIT_OK);
}

// print_value_end prints one item as documented under "Values" in the
// help: strings raw (they are what "queue put" stores, and scripts want
// the bytes back), integers in decimal, the rest as msgpack-c text; then
// the character end.
static int
print_value_end(const void *data, size_t len, int end)
{
	msgpack_unpacked up;
	size_t           off = 0;
	int              rv  = EXIT_OK;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	        MSGPACK_UNPACK_SUCCESS ||
	    off != len) {
		// The broker checks values on put, so this means a broken
		// broker or library; say so rather than print garbage.
		msgpack_unpacked_destroy(&up);
		return (fail_local(
		    MPB_EPROTO, "item is not one msgpack value"));
	}
	switch (up.data.type) {
	case MSGPACK_OBJECT_STR:
		// msgpack-c gives an empty string a NULL ptr, which fwrite()
		// must not be handed even with a zero size.
		if (up.data.via.str.size > 0) {
			fwrite(up.data.via.str.ptr, 1, up.data.via.str.size,
			    stdout);
		}
		fputc(end, stdout);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64 "%c", up.data.via.u64, end);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%" PRId64 "%c", up.data.via.i64, end);
		break;
	default:
		rv = print_text(up.data, end);
		break;
	}
	msgpack_unpacked_destroy(&up);
	return (rv);
}

static int
print_value(const void *data, size_t len)
{
	return (print_value_end(data, len, '\n'));
}

static const char *
kind_name(mpb_queue_kind kind)
{
	switch (kind) {
	case MPB_QUEUE_FIFO:
		return ("fifo");
	case MPB_QUEUE_LIFO:
		return ("lifo");
	case MPB_QUEUE_PRIORITY:
		return ("priority");
	}
	return (NULL);
}

// ---------------------------------------------------------------------
// Commands

static int
cmd_ping(mpb_client *c, const struct cli *cli)
{
	uint32_t version;
	mpb_err  err;

	(void) cli;
	if ((err = mpb_ping(c, &version)) != MPB_OK) {
		return (fail(err));
	}
	printf("PONG (protocol %" PRIu32 ")\n", version);
	return (EXIT_OK);
}

static int
cmd_create(mpb_client *c, const struct cli *cli)
{
	bool    created;
	mpb_err err;

	err = mpb_queue_create(
	    c, cli->args[0], cli->kind, cli->maxsize, &created);
	if (err != MPB_OK) {
		return (fail(err));
	}
	puts(created ? "created" : "exists");
	return (EXIT_OK);
}

static int
cmd_put(mpb_client *c, const struct cli *cli)
{
	msgpack_sbuffer sb;
	const char     *value = cli->args[1];
	char           *input = NULL;
	size_t          len;
	mpb_err         err;
	int             rv;

	if (strcmp(value, "-") == 0) {
		if ((rv = read_all(stdin, &input, &len)) != EXIT_OK) {
			return (rv);
		}
		value = input;
	} else {
		len = strlen(value);
	}
	msgpack_sbuffer_init(&sb);
	if ((rv = pack_str(&sb, value, len)) == EXIT_OK) {
		err = mpb_queue_put(c, cli->args[0], sb.data, sb.size,
		    cli->priority, cli->timeout_ms);
		if (err != MPB_OK) {
			rv = fail(err);
		}
	}
	msgpack_sbuffer_destroy(&sb);
	free(input);
	return (rv);
}

static int
cmd_get(mpb_client *c, const struct cli *cli)
{
	void   *value;
	size_t  len;
	mpb_err err;
	int     rv;

	err = mpb_queue_get(
	    c, cli->args[0], cli->timeout_ms, &value, &len, NULL);
	if (err != MPB_OK) {
		return (fail(err));
	}
	rv = print_value(value, len);
	mpb_free(value);
	return (rv);
}

static int
cmd_size(mpb_client *c, const struct cli *cli)
{
	uint64_t size;
	mpb_err  err;

	if ((err = mpb_queue_qsize(c, cli->args[0], &size)) != MPB_OK) {
		return (fail(err));
	}
	printf("%" PRIu64 "\n", size);
	return (EXIT_OK);
}

static int
cmd_list(mpb_client *c, const struct cli *cli)
{
	mpb_queue_info *list;
	size_t          count;
	mpb_err         err;

	(void) cli;
	if ((err = mpb_queue_list(c, &list, &count)) != MPB_OK) {
		return (fail(err));
	}
	for (size_t i = 0; i < count; i++) {
		const mpb_queue_info *q    = &list[i];
		const char           *kind = kind_name(q->kind);

		// A kind this mpb does not know (a newer broker) is shown
		// by number rather than hidden.
		printf("%s\t", q->name);
		if (kind != NULL) {
			fputs(kind, stdout);
		} else {
			printf("%d", (int) q->kind);
		}
		printf("\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", q->size,
		    q->maxsize, q->unfinished);
	}
	mpb_queue_list_free(list, count);
	return (EXIT_OK);
}

static int
cmd_delete(mpb_client *c, const struct cli *cli)
{
	mpb_err err;

	if ((err = mpb_queue_delete(c, cli->args[0])) != MPB_OK) {
		return (fail(err));
	}
	return (EXIT_OK);
}

static int
cmd_task_done(mpb_client *c, const struct cli *cli)
{
	mpb_err err;

	if ((err = mpb_queue_task_done(c, cli->args[0])) != MPB_OK) {
		return (fail(err));
	}
	return (EXIT_OK);
}

static int
cmd_join(mpb_client *c, const struct cli *cli)
{
	mpb_err err;

	err = mpb_queue_join(c, cli->args[0], cli->timeout_ms);
	if (err != MPB_OK) {
		return (fail(err));
	}
	return (EXIT_OK);
}

// Prints a msgpack string for JSON: quoted, with the escapes JSON needs.
static void
json_string(const char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) p[i];
		if (ch == '"' || ch == '\\') {
			printf("\\%c", ch);
		} else if (ch < 0x20) {
			printf("\\u%04x", ch);
		} else {
			putchar(ch);
		}
	}
	putchar('"');
}

// Prints the scalars and maps a stats reply is made of, as JSON or as
// "key: value" lines (nested keys joined with dots).
static void
stats_print(msgpack_object o, bool json, const char *prefix)
{
	switch (o.type) {
	case MSGPACK_OBJECT_MAP:
		if (json) {
			putchar('{');
		}
		for (uint32_t i = 0; i < o.via.map.size; i++) {
			msgpack_object k = o.via.map.ptr[i].key;
			char           path[256];
			if (k.type != MSGPACK_OBJECT_STR) {
				continue;
			}
			if (json) {
				if (i > 0) {
					putchar(',');
				}
				json_string(k.via.str.ptr, k.via.str.size);
				putchar(':');
			}
			snprintf(path, sizeof(path), "%s%s%.*s", prefix,
			    prefix[0] != '\0' ? "." : "", (int) k.via.str.size,
			    k.via.str.ptr);
			stats_print(o.via.map.ptr[i].val, json, path);
		}
		if (json) {
			putchar('}');
		}
		return;
	case MSGPACK_OBJECT_STR:
		if (json) {
			json_string(o.via.str.ptr, o.via.str.size);
		} else {
			printf("%s: %.*s\n", prefix, (int) o.via.str.size, o.via.str.ptr);
		}
		return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (json) {
			printf("%" PRIu64, o.via.u64);
		} else {
			printf("%s: %" PRIu64 "\n", prefix, o.via.u64);
		}
		return;
	default:
		break;
	}
	// nil, booleans and anything else.
	{
		const char *t = o.type == MSGPACK_OBJECT_NIL ? "null"
		    : o.type == MSGPACK_OBJECT_BOOLEAN
		    ? (o.via.boolean ? "true" : "false")
		    : "null";
		if (json) {
			fputs(t, stdout);
		} else {
			printf("%s: %s\n", prefix, t);
		}
	}
}

static int
cmd_stats(mpb_client *c, const struct cli *cli)
{
	void            *buf;
	size_t           len;
	size_t           off = 0;
	msgpack_unpacked up;
	mpb_err          err;

	if ((err = mpb_stats(c, &buf, &len)) != MPB_OK) {
		return (fail(err));
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		stats_print(up.data, (cli->given & OPT_JSON) != 0, "");
		if ((cli->given & OPT_JSON) != 0) {
			putchar('\n');
		}
	}
	msgpack_unpacked_destroy(&up);
	mpb_free(buf);
	return (EXIT_OK);
}

static int
cmd_objects(mpb_client *c, const struct cli *cli)
{
	mpb_object_info *list;
	size_t           count;
	mpb_err          err;

	(void) cli;
	if ((err = mpb_object_list(c, &list, &count)) != MPB_OK) {
		return (fail(err));
	}
	for (size_t i = 0; i < count; i++) {
		printf("%s\t%s\t%s\t%" PRIu64 "\n", list[i].name,
		    list[i].class_name, list[i].kind, list[i].size);
	}
	mpb_object_list_free(list, count);
	return (EXIT_OK);
}

static int
cmd_object_delete(mpb_client *c, const struct cli *cli)
{
	mpb_err err;

	if ((err = mpb_object_delete(c, cli->args[0])) != MPB_OK) {
		return (fail(err));
	}
	return (EXIT_OK);
}

// ---------------------------------------------------------------------
// Dicts and lists

// encode_arg packs a command-line word into sb (cleared first): as an
// integer when as_int (a usage error unless it is one), else as a str.
static int
encode_arg(const struct cli *cli, msgpack_sbuffer *sb, const char *word,
    bool as_int)
{
	msgpack_packer pk;
	int64_t        v;

	msgpack_sbuffer_clear(sb);
	if (!as_int) {
		return (pack_str(sb, word, strlen(word)));
	}
	if (!parse_i64(word, &v)) {
		return (usage_error(cli->cmd, "'%s' is not a 64-bit integer", word));
	}
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_int64(&pk, v) != 0) {
		return (fail_local(MPB_ENOMEM, NULL));
	}
	return (EXIT_OK);
}

// An INDEX, START or STOP argument (negative ones count from the end).
static int
index_arg(const struct cli *cli, int i, int64_t *vp)
{
	if (!parse_i64(cli->args[i], vp)) {
		return (usage_error(cli->cmd, "'%s' is not an index", cli->args[i]));
	}
	return (EXIT_OK);
}

// What a dict or list command sends: the key (argument 1, a dict's KEY)
// and the value (argument vi), encoded as the options say.
struct kv {
	msgpack_sbuffer key;
	msgpack_sbuffer val;
};

static int
kv_encode(const struct cli *cli, struct kv *kv, int ki, int vi)
{
	int rv = EXIT_OK;

	msgpack_sbuffer_init(&kv->key);
	msgpack_sbuffer_init(&kv->val);
	if (ki > 0) {
		rv = encode_arg(cli, &kv->key, cli->args[ki], (cli->given & OPT_INT_KEY) != 0);
	}
	if (rv == EXIT_OK && vi > 0) {
		rv = encode_arg(cli, &kv->val, cli->args[vi], (cli->given & OPT_INT) != 0);
	}
	return (rv);
}

static void
kv_fini(struct kv *kv)
{
	msgpack_sbuffer_destroy(&kv->key);
	msgpack_sbuffer_destroy(&kv->val);
}

// done reports err (if any) and otherwise prints value[0..len) when value
// is not NULL, then frees it.  Call it after the call that fills value,
// not around it: arguments are evaluated in no set order.
static int
done(mpb_err err, void *value, size_t len)
{
	int rv = err != MPB_OK ? fail(err) : value != NULL ? print_value(value, len) : EXIT_OK;

	mpb_free(value);
	return (rv);
}

static int
cmd_dict_set(mpb_client *c, const struct cli *cli)
{
	struct kv kv;
	int       rv = kv_encode(cli, &kv, 1, 2);

	if (rv == EXIT_OK) {
		rv = done(mpb_dict_set(c, cli->args[0], kv.key.data, kv.key.size,
		              kv.val.data, kv.val.size),
		    NULL, 0);
	}
	kv_fini(&kv);
	return (rv);
}

// dict get and dict del: the same shape, with or without a value back.
static int
cmd_dict_key(mpb_client *c, const struct cli *cli, bool get)
{
	struct kv kv;
	void     *value = NULL;
	size_t    len   = 0;
	int       rv    = kv_encode(cli, &kv, 1, 0);

	if (rv == EXIT_OK) {
		mpb_err err = get ? mpb_dict_get(c, cli->args[0], kv.key.data,
		                        kv.key.size, &value, &len)
		                  : mpb_dict_del(c, cli->args[0], kv.key.data, kv.key.size);
		rv = done(err, value, len);
	}
	kv_fini(&kv);
	return (rv);
}

static int
cmd_dict_get(mpb_client *c, const struct cli *cli)
{
	return (cmd_dict_key(c, cli, true));
}

static int
cmd_dict_del(mpb_client *c, const struct cli *cli)
{
	return (cmd_dict_key(c, cli, false));
}

static int
cmd_dict_incr(mpb_client *c, const struct cli *cli)
{
	struct kv kv;
	int64_t   delta = 1, v;
	mpb_err   err;
	int       rv = kv_encode(cli, &kv, 1, 0);

	if (rv == EXIT_OK && cli->nargs == 3 && !parse_i64(cli->args[2], &delta)) {
		rv = usage_error(cli->cmd, "'%s' is not a 64-bit integer", cli->args[2]);
	}
	if (rv == EXIT_OK) {
		err = mpb_dict_incr(c, cli->args[0], kv.key.data, kv.key.size, delta, &v);
		rv  = err != MPB_OK ? fail(err) : EXIT_OK;
	}
	if (rv == EXIT_OK) {
		printf("%" PRId64 "\n", v);
	}
	kv_fini(&kv);
	return (rv);
}

// len of a dict or a list; n is read only after the call filled it.
static int
print_len(mpb_err err, const uint64_t *n)
{
	if (err != MPB_OK) {
		return (fail(err));
	}
	printf("%" PRIu64 "\n", *n);
	return (EXIT_OK);
}

static int
cmd_dict_len(mpb_client *c, const struct cli *cli)
{
	uint64_t n = 0;

	return (print_len(mpb_dict_len(c, cli->args[0], &n), &n));
}

// Pages through the dict: keys one per line, or items as KEY<TAB>VALUE.
static int
dict_dump(mpb_client *c, const struct cli *cli, mpb_dict_what what)
{
	uint64_t cursor = 0;
	size_t   step   = what == MPB_DICT_ITEMS ? 2 : 1;
	int      rv     = EXIT_OK;

	do {
		mpb_value *vals;
		size_t     n;
		mpb_err    err = mpb_dict_scan(c, cli->args[0], cursor, 1000, what,
		       &vals, &n, &cursor);
		if (err != MPB_OK) {
			return (fail(err));
		}
		for (size_t i = 0; i + step <= n && rv == EXIT_OK; i += step) {
			rv = print_value_end(vals[i].data, vals[i].len, step == 2 ? '\t' : '\n');
			if (rv == EXIT_OK && step == 2) {
				rv = print_value(vals[i + 1].data, vals[i + 1].len);
			}
		}
		mpb_values_free(vals, n);
	} while (cursor != 0 && rv == EXIT_OK);
	return (rv);
}

static int
cmd_dict_keys(mpb_client *c, const struct cli *cli)
{
	return (dict_dump(c, cli, MPB_DICT_KEYS));
}

static int
cmd_dict_items(mpb_client *c, const struct cli *cli)
{
	return (dict_dump(c, cli, MPB_DICT_ITEMS));
}

// list append NAME VALUE, list set NAME INDEX VALUE.
static int
cmd_list_put(mpb_client *c, const struct cli *cli)
{
	struct kv kv;
	int64_t   index = 0;
	bool      set   = cli->cmd->nargs == 3;
	int       rv    = kv_encode(cli, &kv, 0, set ? 2 : 1);

	if (rv == EXIT_OK && set) {
		rv = index_arg(cli, 1, &index);
	}
	if (rv == EXIT_OK) {
		rv = done(set ? mpb_list_set(c, cli->args[0], index, kv.val.data, kv.val.size)
		              : mpb_list_append(c, cli->args[0], kv.val.data, kv.val.size),
		    NULL, 0);
	}
	kv_fini(&kv);
	return (rv);
}

// list get NAME INDEX, list pop NAME [INDEX].
static int
cmd_list_take(mpb_client *c, const struct cli *cli)
{
	bool    pop   = strcmp(cli->cmd->name, "pop") == 0;
	int64_t index = -1;
	void   *value = NULL;
	size_t  len   = 0;
	int     rv    = cli->nargs > 1 ? index_arg(cli, 1, &index) : EXIT_OK;
	mpb_err err;

	if (rv != EXIT_OK) {
		return (rv);
	}
	err = pop ? mpb_list_pop(c, cli->args[0], index, &value, &len)
	          : mpb_list_get(c, cli->args[0], index, &value, &len);
	return (done(err, value, len));
}

static int
cmd_list_len(mpb_client *c, const struct cli *cli)
{
	uint64_t n = 0;

	return (print_len(mpb_list_len(c, cli->args[0], &n), &n));
}

static int
cmd_list_range(mpb_client *c, const struct cli *cli)
{
	int64_t start = 0, stop = MPB_LIST_END;
	int     rv    = EXIT_OK;

	if (cli->nargs > 1) {
		rv = index_arg(cli, 1, &start);
	}
	if (rv == EXIT_OK && cli->nargs > 2) {
		rv = index_arg(cli, 2, &stop);
	}
	// START may be negative; every later page starts at an absolute
	// index, and -1 says the slice is complete.
	for (bool more = rv == EXIT_OK; more && rv == EXIT_OK; more = start >= 0) {
		mpb_value *vals;
		size_t     n;
		mpb_err    err = mpb_list_slice(c, cli->args[0], start, stop, 1000,
		       &vals, &n, &start);
		if (err != MPB_OK) {
			return (fail(err));
		}
		for (size_t i = 0; i < n && rv == EXIT_OK; i++) {
			rv = print_value(vals[i].data, vals[i].len);
		}
		mpb_values_free(vals, n);
	}
	return (rv);
}

// ---------------------------------------------------------------------
// Synchronisation objects

// The timeout of a command that waits: --timeout, else as long as the
// broker allows (about 49 days; libmpb stops waiting after 24).
static uint32_t
sync_timeout(const struct cli *cli)
{
	return ((cli->given & OPT_TIMEOUT) != 0 ? cli->timeout_ms : UINT32_MAX);
}

// The child that "lock run" waits for; signals to mpb are passed on to it
// so that it, not mpb, decides when the lock is given back.
static volatile sig_atomic_t run_child;

static void
forward_signal(int sig)
{
	if (run_child > 0) {
		kill((pid_t) run_child, sig);
	}
}

// run_command forks and execs cli->rest (in the child nothing but exec:
// no libmpb, no nng), passes on SIGINT, SIGTERM, SIGHUP and SIGQUIT, and
// returns the shell-style status: the exit code, or 128 + the signal.
static int
run_command(const struct cli *cli)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = forward_signal };
	pid_t            pid;
	int              status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "mpb: cannot fork: %s\n", strerror(errno));
		return (EXIT_ERR);
	}
	if (pid == 0) {
		execvp(cli->rest[0], cli->rest);
		fprintf(stderr, "mpb: cannot run '%s': %s\n", cli->rest[0],
		    strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	run_child = pid;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "mpb: waitpid: %s\n", strerror(errno));
			return (EXIT_ERR);
		}
	}
	return (WIFEXITED(status) ? WEXITSTATUS(status)
	                          : 128 + WTERMSIG(status));
}

static int
cmd_lock_run(mpb_client *c, const struct cli *cli)
{
	mpb_err err;
	int     rv;

	if ((err = mpb_lock_acquire(c, cli->args[0], sync_timeout(cli))) !=
	    MPB_OK) {
		return (err == MPB_EBUSY ? fail(MPB_ETIMEDOUT) : fail(err));
	}
	rv = run_command(cli);
	if ((err = mpb_lock_release(c, cli->args[0])) != MPB_OK) {
		// The lock was lost while COMMAND ran (deleted, or the
		// connection dropped): its exclusion may not have held.
		(void) fail(err);
		return (rv == EXIT_OK ? EXIT_ERR : rv);
	}
	return (rv);
}

static int
cmd_event_set(mpb_client *c, const struct cli *cli)
{
	mpb_err err;

	err = strcmp(cli->cmd->name, "set") == 0
	    ? mpb_event_set(c, cli->args[0])
	    : mpb_event_clear(c, cli->args[0]);
	return (err == MPB_OK ? EXIT_OK : fail(err));
}

static int
cmd_event_wait(mpb_client *c, const struct cli *cli)
{
	bool    set;
	mpb_err err;

	if ((err = mpb_event_wait(c, cli->args[0], sync_timeout(cli), &set)) !=
	    MPB_OK) {
		return (fail(err));
	}
	return (set ? EXIT_OK : fail_local(MPB_ETIMEDOUT, "the event is not set"));
}

static int
cmd_sem_acquire(mpb_client *c, const struct cli *cli)
{
	mpb_err err;

	// Detached: the permit must outlive this process.
	err = mpb_sem_acquire_detached(c, cli->args[0], sync_timeout(cli));
	if (err == MPB_EBUSY) {
		err = MPB_ETIMEDOUT;
	}
	return (err == MPB_OK ? EXIT_OK : fail(err));
}

static int
cmd_sem_release(mpb_client *c, const struct cli *cli)
{
	mpb_err err = mpb_sem_release(c, cli->args[0], 1);

	return (err == MPB_OK ? EXIT_OK : fail(err));
}

static const struct command commands[] = {
	{ NULL, "ping", cmd_ping, 0, 0, 0, "ping", 0 },
	{ NULL, "list-objects", cmd_objects, 0, 0, 0, "list-objects", 0 },
	{ NULL, "stats", cmd_stats, 0, OPT_JSON, 0, "stats [--json]", 0 },
	{ NULL, "delete", cmd_object_delete, 1, 0, 0, "delete NAME", 0 },
	{ "queue", "create", cmd_create, 1, OPT_KIND | OPT_MAXSIZE, OPT_KIND,
	    "queue create NAME --kind fifo|lifo|priority [--maxsize N]", 0 },
	{ "queue", "put", cmd_put, 2, OPT_PRIORITY | OPT_TIMEOUT, 0,
	    "queue put NAME VALUE [--priority N] [--timeout SECONDS]", 0 },
	{ "queue", "get", cmd_get, 1, OPT_TIMEOUT, 0,
	    "queue get NAME [--timeout SECONDS]", 0 },
	{ "queue", "size", cmd_size, 1, 0, 0, "queue size NAME", 0 },
	{ "queue", "list", cmd_list, 0, 0, 0, "queue list", 0 },
	{ "queue", "delete", cmd_delete, 1, 0, 0, "queue delete NAME", 0 },
	{ "queue", "task-done", cmd_task_done, 1, 0, 0,
	    "queue task-done NAME", 0 },
	{ "queue", "join", cmd_join, 1, OPT_TIMEOUT, 0,
	    "queue join NAME [--timeout SECONDS]", 0 },
	{ "dict", "set", cmd_dict_set, 3, OPT_INT | OPT_INT_KEY, 0,
	    "dict set NAME KEY VALUE [--int] [--int-key]", 0 },
	{ "dict", "get", cmd_dict_get, 2, OPT_INT_KEY, 0,
	    "dict get NAME KEY [--int-key]", 0 },
	{ "dict", "del", cmd_dict_del, 2, OPT_INT_KEY, 0,
	    "dict del NAME KEY [--int-key]", 0 },
	{ "dict", "incr", cmd_dict_incr, 3, OPT_INT_KEY, 0,
	    "dict incr NAME KEY [DELTA] [--int-key]", 1 },
	{ "dict", "len", cmd_dict_len, 1, 0, 0, "dict len NAME", 0 },
	{ "dict", "keys", cmd_dict_keys, 1, 0, 0, "dict keys NAME", 0 },
	{ "dict", "items", cmd_dict_items, 1, 0, 0, "dict items NAME", 0 },
	{ "list", "append", cmd_list_put, 2, OPT_INT, 0,
	    "list append NAME VALUE [--int]", 0 },
	{ "list", "get", cmd_list_take, 2, 0, 0, "list get NAME INDEX", 0 },
	{ "list", "set", cmd_list_put, 3, OPT_INT, 0,
	    "list set NAME INDEX VALUE [--int]", 0 },
	{ "list", "pop", cmd_list_take, 2, 0, 0, "list pop NAME [INDEX]", 1 },
	{ "list", "len", cmd_list_len, 1, 0, 0, "list len NAME", 0 },
	{ "list", "range", cmd_list_range, 3, 0, 0,
	    "list range NAME [START [STOP]]", 2 },
	{ "lock", "run", cmd_lock_run, 1, OPT_TIMEOUT, 0,
	    "lock run NAME [--timeout SECONDS] -- COMMAND [ARGS...]", 0 },
	{ "event", "set", cmd_event_set, 1, 0, 0, "event set NAME", 0 },
	{ "event", "clear", cmd_event_set, 1, 0, 0, "event clear NAME", 0 },
	{ "event", "wait", cmd_event_wait, 1, OPT_TIMEOUT, 0,
	    "event wait NAME [--timeout SECONDS]", 0 },
	{ "sem", "acquire", cmd_sem_acquire, 1, OPT_TIMEOUT, 0,
	    "sem acquire NAME [--timeout SECONDS]", 0 },
	{ "sem", "release", cmd_sem_release, 1, 0, 0, "sem release NAME", 0 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

// ---------------------------------------------------------------------
// Command line

static bool
is_help(const char *arg)
{
	return (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0);
}

static bool
is_group(const char *word)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (commands[i].group != NULL &&
		    strcmp(commands[i].group, word) == 0) {
			return (true);
		}
	}
	return (false);
}

static const struct command *
find_command(const char *group, const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];

		if ((group == NULL) != (c->group == NULL)) {
			continue;
		}
		if ((group == NULL || strcmp(c->group, group) == 0) &&
		    strcmp(c->name, name) == 0) {
			return (c);
		}
	}
	return (NULL);
}

// arg_word returns the name of positional argument k (from 0) as the
// synopsis spells it ("NAME", "KEY"), for "missing ..." errors.
static const char *
arg_word(const struct command *cmd, int k)
{
	static char word[32];
	const char *p     = cmd->synopsis;
	int         skip  = cmd->group != NULL ? 2 : 1;
	size_t      n     = 0;

	for (int w = 0; *p != '\0'; w++) {
		while (*p == ' ' || *p == '[') {
			p++;
		}
		n = strcspn(p, " []");
		if (w == skip + k) {
			break;
		}
		p += n;
		n = 0;
		while (*p == ']') {
			p++;
		}
	}
	if (n == 0 || n >= sizeof(word)) {
		return ("an argument");
	}
	memcpy(word, p, n);
	word[n] = '\0';
	return (word);
}

// runs_command tells whether what follows "--" is a command line for
// cmd to run (lock run) rather than more positional arguments.
static bool
runs_command(const struct command *cmd)
{
	return (cmd->run == cmd_lock_run);
}

// Results of parse_args besides the exit statuses: stop and exit 0.
#define PARSE_HELP (-1)
#define PARSE_VERSION (-2)

// parse_command parses what follows the command words: its options and
// positional arguments, in any order.
static int
parse_command(struct cli *cli, int argc, char **argv, int i)
{
	const struct command *cmd     = cli->cmd;
	bool                  endopts = false;
	int                   rv;

	for (; i < argc; i++) {
		const char *arg = argv[i];

		if (!endopts && strcmp(arg, "--") == 0) {
			endopts = true;
			if (runs_command(cmd)) {
				cli->rest  = &argv[i + 1];
				cli->nrest = argc - i - 1;
				break;
			}
			continue;
		}
		if (!endopts && is_help(arg)) {
			return (PARSE_HELP);
		}
		if (!endopts && strncmp(arg, "--", 2) == 0) {
			rv = parse_option(
			    cli, cmd, cmd->opts | OPT_GLOBAL, argc, argv, &i);
			if (rv != EXIT_OK) {
				return (rv);
			}
			continue;
		}
		// A lone "-" is VALUE read from stdin and "-5" a number;
		// any other "-x" is a mistyped option, not a value.
		if (!endopts && arg[0] == '-' && arg[1] != '\0' &&
		    !looks_numeric(arg)) {
			return (usage_error(cmd, "unknown option '%s'", arg));
		}
		if (cli->nargs == cmd->nargs) {
			return (usage_error(
			    cmd, "unexpected argument '%s'", arg));
		}
		cli->args[cli->nargs++] = arg;
	}
	if (cli->nargs < cmd->nargs - cmd->optional) {
		return (usage_error(cmd, "missing %s", arg_word(cmd, cli->nargs)));
	}
	if (runs_command(cmd) && cli->nrest == 0) {
		return (usage_error(cmd, "missing COMMAND after '--'"));
	}
	if ((cmd->required & ~cli->given) != 0) {
		return (usage_error(cmd, "option '--%s' is required",
		    opt_name(cmd->required & ~cli->given)));
	}
	return (EXIT_OK);
}

// parse_args fills cli from argv: global options, the command words,
// then the command's own arguments.
static int
parse_args(struct cli *cli, int argc, char **argv)
{
	const char *group = NULL;
	int         i;
	int         rv;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (is_help(argv[i])) {
			return (PARSE_HELP);
		}
		if (strcmp(argv[i], "--version") == 0) {
			return (PARSE_VERSION);
		}
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			return (usage_error(
			    NULL, "unknown option '%s'", argv[i]));
		}
		rv = parse_option(cli, NULL, OPT_GLOBAL, argc, argv, &i);
		if (rv != EXIT_OK) {
			return (rv);
		}
	}
	if (i == argc) {
		return (usage_error(NULL, "missing command"));
	}
	if (is_group(argv[i])) {
		group = argv[i++];
		if (i == argc) {
			return (usage_error(
			    NULL, "missing %s subcommand", group));
		}
		if (is_help(argv[i])) {
			return (PARSE_HELP);
		}
	}
	cli->cmd = find_command(group, argv[i]);
	if (cli->cmd == NULL) {
		return (usage_error(NULL, "unknown command '%s%s%s'",
		    group ? group : "", group ? " " : "", argv[i]));
	}
	return (parse_command(cli, argc, argv, i + 1));
}

// finish_output flushes stdout and turns a failed write into an error:
// "queue get" has already removed the item, so a full disk or a closed
// pipe must not pass for success.
static int
finish_output(int rv)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mpb: cannot write output: %s\n",
		    strerror(errno));
		return (rv == EXIT_OK ? EXIT_ERR : rv);
	}
	return (rv);
}

int
main(int argc, char **argv)
{
	struct cli  cli = { 0 };
	mpb_client *client;
	mpb_err     err;
	int         rv;

	switch (rv = parse_args(&cli, argc, argv)) {
	case EXIT_OK:
		break;
	case PARSE_HELP:
		fputs(help_text, stdout);
		return (finish_output(EXIT_OK));
	case PARSE_VERSION:
		puts("mpb " MPB_VERSION_STRING);
		return (finish_output(EXIT_OK));
	default:
		return (rv);
	}

	// A NULL url lets libmpb apply MPB_URL, then MPB_DEFAULT_URL.
	if ((err = mpb_connect(cli.url, cli.connect_ms, &client)) != MPB_OK) {
		return (fail(err));
	}
	rv = cli.cmd->run(client, &cli);
	mpb_close(client);
	return (finish_output(rv));
}
