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
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
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
    "Usage: mpb [--url URL] [--connect-timeout MS] [--auth-file FILE]\n"
    "           [--tls-ca FILE [--tls-server-name NAME]] COMMAND [ARGS...]\n"
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
    "  --auth-file FILE      file holding the broker's shared secret, for\n"
    "                        a broker started with --auth-file (EAUTH\n"
    "                        otherwise).  Default: MPB_AUTH_FILE if set\n"
    "  --tls-ca FILE         CA certificate (PEM) that must have signed\n"
    "                        the broker's certificate, for tls+tcp://\n"
    "                        URLs (required there).  Default: MPB_TLS_CA\n"
    "  --tls-server-name NAME  the name the broker's certificate must\n"
    "                        carry (default: the URL's host)\n"
    "  -h, --help            print this help and exit (also after a\n"
    "                        command: mpb queue --help)\n"
    "  --version             print mpb's version and exit\n"
    "\n"
    "Commands:\n"
    "  ping [--json]\n"
    "      Check that the broker answers; prints \"PONG (protocol N)\".\n"
    "  stats [--json]\n"
    "      What the broker is doing: version, uptime, connected sessions,\n"
    "      waiting requests, objects, memory used and its limit,\n"
    "      durability, error replies and requests run per operation; as\n"
    "      \"key: value\" lines, or one JSON object with --json.\n"
    "  list-objects [--json]\n"
    "      Print every named object, sorted by name, one per line as\n"
    "      NAME<TAB>CLASS<TAB>KIND<TAB>SIZE\n"
    "      CLASS is queue, dict, list, lock, ...; KIND its kind within\n"
    "      the class (fifo, rlock, ...); SIZE its items, keys or elements.\n"
    "  delete NAME\n"
    "      Delete the object NAME, whatever its kind; requests waiting on\n"
    "      it fail.\n"
    "  queue create NAME --kind fifo|lifo|priority [--maxsize N] [--json]\n"
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
    "  queue get NAME [--timeout SECONDS] [--json]\n"
    "      Remove the next item from NAME and print it (see Values).  Waits\n"
    "      up to SECONDS for one (default 0: fail at once if empty).\n"
    "  queue size NAME [--json]\n"
    "      Print the number of items in NAME.\n"
    "  queue list [--json]\n"
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
    "      Set KEY to VALUE in dict NAME (created on first use); VALUE\n"
    "      \"-\" reads all of standard input.\n"
    "  dict get NAME KEY [--int-key] [--json]\n"
    "      Print the value of KEY (see Values); exit 3 if there is none.\n"
    "  dict del NAME KEY [--int-key]\n"
    "      Remove KEY; exit 3 if there is none.\n"
    "  dict incr NAME KEY [DELTA] [--int-key] [--json]\n"
    "      Add DELTA (a 64-bit integer, default 1) to the integer at KEY,\n"
    "      a missing key counting as 0, atomically; print the new value.\n"
    "  dict len NAME [--json]\n"
    "      Print the number of keys.\n"
    "  dict keys NAME [--json]\n"
    "  dict items NAME [--json]\n"
    "      Print every key, one per line, or every KEY<TAB>VALUE, in no\n"
    "      particular order (read in pages; a dict changed meanwhile may\n"
    "      show a key twice or miss one added or removed meanwhile).\n"
    "  list append NAME VALUE [--int]\n"
    "      Append VALUE to list NAME (created on first use); VALUE \"-\"\n"
    "      reads all of standard input.\n"
    "  list get NAME INDEX [--json]\n"
    "  list set NAME INDEX VALUE [--int]\n"
    "  list pop NAME [INDEX] [--json]\n"
    "      Print, replace (VALUE \"-\": all of standard input), or remove\n"
    "      and print the element at INDEX (default for pop: -1, the\n"
    "      last); negative indexes count from the end, as in Python.\n"
    "      Exit 3 if INDEX is outside the list.\n"
    "  list len NAME [--json]\n"
    "      Print the number of elements.\n"
    "  list range NAME [START [STOP]] [--json]\n"
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
    "  VALUE \"-\" is all of standard input, even after \"--\": a string\n"
    "  of its bytes unchanged, or with --int an integer (one trailing\n"
    "  newline allowed: echo 5 | mpb dict set d k - --int).\n"
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
    "JSON output:\n"
    "  --json (after the command or before it) makes a command that\n"
    "  prints write one JSON document on one line instead: a single\n"
    "  value as itself (queue get, dict get, list get, list pop; sizes\n"
    "  and dict incr as a bare integer, the same as without --json);\n"
    "  a listing as an array (dict keys, list range; queue list and\n"
    "  list-objects as arrays of objects with the members name, kind,\n"
    "  size, maxsize, unfinished / name, class, kind, size); dict items\n"
    "  as one object KEY: VALUE; ping as {\"protocol\":N}; queue create\n"
    "  as {\"created\":true|false}; stats as the broker's object.\n"
    "  msgpack values become JSON as follows: nil null; booleans and\n"
    "  integers as they are; floats in the shortest form that reads back\n"
    "  the same (always with a '.' or an exponent; NaN and infinities as\n"
    "  null); str a JSON string, each byte that is not well-formed UTF-8\n"
    "  as \\ufffd; bin {\"$bin\":\"BASE64\"}; ext {\"$ext\":TYPE,\"data\":\n"
    "  \"BASE64\"}; arrays as arrays; maps as objects, a key that is not\n"
    "  a string named by its own JSON text (5 -> \"5\", so keys 5 and\n"
    "  \"5\" both print as \"5\").\n"
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
    "  MPB_AUTH_FILE  the shared secret's file when --auth-file is not\n"
    "                 given\n"
    "  MPB_TLS_CA     the CA certificate when --tls-ca is not given\n"
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
	OPT_AUTH     = 1u << 9,
	OPT_TLS_CA   = 1u << 10,
	OPT_TLS_NAME = 1u << 11,
};

// The global options are accepted after the command too: appending
// "--url X" to a command line is the natural thing to do.
#define OPT_GLOBAL \
	(OPT_URL | OPT_CONNECT | OPT_AUTH | OPT_TLS_CA | OPT_TLS_NAME)

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
	// How to connect (mpb_connect_opts); NULL lets libmpb apply
	// MPB_URL, MPB_AUTH_FILE and MPB_TLS_CA.
	const char           *url;
	const char           *auth_file;
	const char           *tls_ca;
	const char           *tls_name;
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
	// A string option (parse NULL): where in struct cli it goes.  0
	// (the offset of cmd) means none: the option is a flag.
	size_t word;
};

#define WORD(field) .word = offsetof(struct cli, field)
_Static_assert(offsetof(struct cli, cmd) == 0, "word 0 means a flag");

static const struct optdef optdefs[] = {
	{ "url", OPT_URL, NULL, "an nng URL such as ipc:///path", WORD(url) },
	{ "connect-timeout", OPT_CONNECT, opt_connect,
	    "milliseconds, an integer from 0 to 2147483647", 0 },
	{ "auth-file", OPT_AUTH, NULL, "a file name", WORD(auth_file) },
	{ "tls-ca", OPT_TLS_CA, NULL, "a file name", WORD(tls_ca) },
	{ "tls-server-name", OPT_TLS_NAME, NULL, "a host name",
	    WORD(tls_name) },
	{ "kind", OPT_KIND, opt_kind, "fifo, lifo or priority", 0 },
	{ "maxsize", OPT_MAXSIZE, opt_maxsize, "an integer from 0", 0 },
	{ "priority", OPT_PRIORITY, opt_priority, "a 64-bit integer", 0 },
	{ "timeout", OPT_TIMEOUT, opt_timeout,
	    "seconds from 0 to 4294967.295, such as 2 or 0.5", 0 },
	// Flags: no value (parse NULL, no word).
	{ "int", OPT_INT, NULL, "no value", 0 },
	{ "int-key", OPT_INT_KEY, NULL, "no value", 0 },
	{ "json", OPT_JSON, NULL, "no value", 0 },
};

// set_value parses an option's value into cli.  An empty string option
// is a mistake (an unset variable in a script), not a request for the
// default.
static bool
set_value(struct cli *cli, const struct optdef *od, const char *val)
{
	if (od->parse != NULL) {
		return (od->parse(cli, val));
	}
	*(const char **) (void *) ((char *) cli + od->word) = val;
	return (val[0] != '\0');
}

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
	if (od->parse == NULL && od->word == 0) {
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
	if (!set_value(cli, od, val)) {
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

// ---------------------------------------------------------------------
// JSON output (--json).  One printer turns any msgpack value into JSON, as
// documented under "JSON output" in the help; every command's JSON goes
// through it or through json_string() for the strings it prints itself.

// utf8_len returns the length of the well-formed UTF-8 sequence at p (n
// bytes left), or 0 if p does not start one: overlong forms, surrogates
// and code points past U+10FFFF are not well-formed, and a JSON reader
// would reject them.
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t                len;
	uint32_t              cp;

	if (p[0] < 0x80) {
		return (1);
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, cp = p[0] & 0x07;
	} else {
		return (0);
	}
	if (len > n) {
		return (0);
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return (0);
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		return (0);
	}
	return (len);
}

// json_string writes p[0..n) as a JSON string: the escapes JSON requires,
// and U+FFFD for each byte that is not part of well-formed UTF-8, so that
// the output always parses.
static void
json_string(FILE *f, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *) p;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(u + i, n - i);

		if (len == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		switch (u[i]) {
		case '"':
		case '\\':
			fprintf(f, "\\%c", u[i]);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (u[i] < 0x20) {
				fprintf(f, "\\u%04x", u[i]);
			} else {
				fwrite(u + i, 1, len, f);
			}
			break;
		}
		i += len;
	}
	fputc('"', f);
}

// json_base64 writes p[0..n) as a JSON string in base64 (RFC 4648, with
// padding): how bin and ext bytes appear.
static void
json_base64(FILE *f, const char *p, size_t n)
{
	static const char    digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *u = (const unsigned char *) p;

	fputc('"', f);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t) u[i] << 16 |
		    (i + 1 < n ? (uint32_t) u[i + 1] << 8 : 0) |
		    (i + 2 < n ? u[i + 2] : 0);

		fputc(digits[v >> 18], f);
		fputc(digits[v >> 12 & 63], f);
		fputc(i + 1 < n ? digits[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? digits[v & 63] : '=', f);
	}
	fputc('"', f);
}

// json_float writes the shortest decimal that reads back as the same
// float, with ".0" when it would otherwise look like an integer.  JSON has
// no NaN or infinity: they become null.
static void
json_float(FILE *f, msgpack_object o)
{
	bool f32 = o.type == MSGPACK_OBJECT_FLOAT32;
	char buf[32];

	if (!isfinite(o.via.f64)) {
		fputs("null", f);
		return;
	}
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, o.via.f64);
		if (f32 ? strtof(buf, NULL) == (float) o.via.f64
		        : strtod(buf, NULL) == o.via.f64) {
			break;
		}
	}
	fputs(buf, f);
	if (strpbrk(buf, ".e") == NULL) {
		fputs(".0", f);
	}
}

static bool json_key(FILE *f, msgpack_object k);

// json_print writes o as JSON.  It fails (false) only when memory for a
// map key runs out.
static bool
json_print(FILE *f, msgpack_object o)
{
	bool ok = true;

	switch (o.type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", f);
		return (true);
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o.via.boolean ? "true" : "false", f);
		return (true);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(f, "%" PRIu64, o.via.u64);
		return (true);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(f, "%" PRId64, o.via.i64);
		return (true);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		json_float(f, o);
		return (true);
	case MSGPACK_OBJECT_STR:
		json_string(f, o.via.str.ptr, o.via.str.size);
		return (true);
	case MSGPACK_OBJECT_BIN:
		fputs("{\"$bin\":", f);
		json_base64(f, o.via.bin.ptr, o.via.bin.size);
		fputc('}', f);
		return (true);
	case MSGPACK_OBJECT_EXT:
		fprintf(f, "{\"$ext\":%d,\"data\":", (int) o.via.ext.type);
		json_base64(f, o.via.ext.ptr, o.via.ext.size);
		fputc('}', f);
		return (true);
	case MSGPACK_OBJECT_ARRAY:
	case MSGPACK_OBJECT_MAP: {
		bool     map = o.type == MSGPACK_OBJECT_MAP;
		uint32_t n   = map ? o.via.map.size : o.via.array.size;

		fputc(map ? '{' : '[', f);
		for (uint32_t i = 0; i < n && ok; i++) {
			fputs(i > 0 ? "," : "", f);
			ok = map ? json_key(f, o.via.map.ptr[i].key) &&
			        json_print(f, o.via.map.ptr[i].val)
			         : json_print(f, o.via.array.ptr[i]);
		}
		fputc(map ? '}' : ']', f);
		return (ok);
	}
	}
	fputs("null", f); // a type newer than this msgpack-c
	return (true);
}

// json_key writes k as a JSON member name and ':'.  Names are strings, so
// any other key is named by its own JSON text: 5 -> "5", nil -> "null"
// (it may then clash with a string key; JSON readers keep the last).
static bool
json_key(FILE *f, msgpack_object k)
{
	char  *text = NULL;
	size_t len  = 0;
	FILE  *m;
	bool   ok;

	if (k.type == MSGPACK_OBJECT_STR) {
		json_string(f, k.via.str.ptr, k.via.str.size);
		fputc(':', f);
		return (true);
	}
	if ((m = open_memstream(&text, &len)) == NULL) {
		return (false);
	}
	ok = json_print(m, k);
	if (fclose(m) != 0 || !ok) {
		free(text);
		return (false);
	}
	json_string(f, text, len);
	fputc(':', f);
	free(text);
	return (true);
}

static bool
is_json(const struct cli *cli)
{
	return ((cli->given & OPT_JSON) != 0);
}

// A JSON array or object whose members come one at a time (pages of a
// dict or list), brackets "[]" or "{}": json_next before each member
// opens it or separates, json_close ends it.  Nothing is printed before
// the first member is at hand, so that a listing whose first page fails
// leaves no stray bracket.  Text output has no brackets or separators.
static void
json_next(const struct cli *cli, size_t *count, const char *brackets)
{
	if (is_json(cli)) {
		putchar((*count)++ == 0 ? brackets[0] : ',');
	}
}

static void
json_close(const struct cli *cli, size_t count, const char *brackets)
{
	if (is_json(cli)) {
		if (count == 0) {
			putchar(brackets[0]);
		}
		printf("%c\n", brackets[1]);
	}
}

// Where a value goes: alone (one per command), as an element of a
// listing, or as a dict item's key or value.  Text ends each with a
// newline and a key with a tab; JSON ends a lone value with a newline and
// a key with ':'.
enum role { ALONE, ELEM, KEY, VAL };

// print_value prints one msgpack value in its role: as JSON with --json,
// else as documented under "Values" in the help: strings raw (they are
// what "queue put" stores, and scripts want the bytes back), integers in
// decimal, the rest as msgpack-c text.
static int
print_value(
    const struct cli *cli, const void *data, size_t len, enum role role)
{
	msgpack_unpacked up;
	size_t           off = 0;
	int              end = role == KEY ? '\t' : '\n';
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
	if (is_json(cli)) {
		if (!(role == KEY ? json_key(stdout, up.data)
		                  : json_print(stdout, up.data))) {
			rv = fail_local(MPB_ENOMEM, NULL);
		} else if (role == ALONE) {
			putchar('\n');
		}
		msgpack_unpacked_destroy(&up);
		return (rv);
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

// A field of a record that a listing prints (queue list, list-objects):
// a string, or a number when s is NULL.
struct field {
	const char *name;
	const char *s;
	uint64_t    n;
};

// print_record prints one record: NAME<TAB>VALUE... and a newline, or a
// JSON object (the caller separates the records of a JSON array).
static void
print_record(const struct cli *cli, const struct field *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		if (is_json(cli)) {
			printf("%s\"%s\":", i == 0 ? "{" : ",", f[i].name);
		} else if (i > 0) {
			putchar('\t');
		}
		if (f[i].s == NULL) {
			printf("%" PRIu64, f[i].n);
		} else if (is_json(cli)) {
			json_string(stdout, f[i].s, strlen(f[i].s));
		} else {
			fputs(f[i].s, stdout);
		}
	}
	fputs(is_json(cli) ? "}" : "\n", stdout);
}

// print_len prints a size, the same as text and as JSON; n is read only
// after the call filled it.
static int
print_len(mpb_err err, const uint64_t *n)
{
	if (err != MPB_OK) {
		return (fail(err));
	}
	printf("%" PRIu64 "\n", *n);
	return (EXIT_OK);
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

	if ((err = mpb_ping(c, &version)) != MPB_OK) {
		return (fail(err));
	}
	printf(is_json(cli) ? "{\"protocol\":%" PRIu32 "}\n"
	                    : "PONG (protocol %" PRIu32 ")\n",
	    version);
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
	if (is_json(cli)) {
		printf("{\"created\":%s}\n", created ? "true" : "false");
	} else {
		puts(created ? "created" : "exists");
	}
	return (EXIT_OK);
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
	rv = print_value(cli, value, len, ALONE);
	mpb_free(value);
	return (rv);
}

static int
cmd_size(mpb_client *c, const struct cli *cli)
{
	uint64_t size = 0;

	return (print_len(mpb_queue_qsize(c, cli->args[0], &size), &size));
}

static int
cmd_list(mpb_client *c, const struct cli *cli)
{
	mpb_queue_info *list;
	size_t          count, n = 0;
	mpb_err         err;

	if ((err = mpb_queue_list(c, &list, &count)) != MPB_OK) {
		return (fail(err));
	}
	for (size_t i = 0; i < count; i++) {
		const mpb_queue_info *q = &list[i];
		// A kind this mpb does not know (a newer broker) is shown
		// by number rather than hidden.
		const struct field f[] = {
			{ "name", q->name, 0 },
			{ "kind", kind_name(q->kind), (uint64_t) q->kind },
			{ "size", NULL, q->size },
			{ "maxsize", NULL, q->maxsize },
			{ "unfinished", NULL, q->unfinished },
		};

		json_next(cli, &n, "[]");
		print_record(cli, f, sizeof(f) / sizeof(f[0]));
	}
	json_close(cli, n, "[]");
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

// stats_lines prints a stats reply as "key: value" lines, nested keys
// joined with dots: strings as they are, other scalars as JSON.
static bool
stats_lines(msgpack_object o, const char *prefix)
{
	bool ok = true;

	if (o.type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < o.via.map.size && ok; i++) {
			msgpack_object k = o.via.map.ptr[i].key;
			char           path[256];

			if (k.type != MSGPACK_OBJECT_STR) {
				continue;
			}
			snprintf(path, sizeof(path), "%s%s%.*s", prefix,
			    prefix[0] != '\0' ? "." : "", (int) k.via.str.size,
			    k.via.str.ptr);
			ok = stats_lines(o.via.map.ptr[i].val, path);
		}
		return (ok);
	}
	printf("%s: ", prefix);
	if (o.type == MSGPACK_OBJECT_STR) {
		printf("%.*s", (int) o.via.str.size, o.via.str.ptr);
	} else {
		ok = json_print(stdout, o);
	}
	putchar('\n');
	return (ok);
}

static int
cmd_stats(mpb_client *c, const struct cli *cli)
{
	void            *buf;
	size_t           len;
	size_t           off = 0;
	msgpack_unpacked up;
	mpb_err          err;
	bool             ok = false;

	if ((err = mpb_stats(c, &buf, &len)) != MPB_OK) {
		return (fail(err));
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		ok = is_json(cli) ? json_print(stdout, up.data)
		                  : stats_lines(up.data, "");
		if (ok && is_json(cli)) {
			putchar('\n');
		}
	}
	msgpack_unpacked_destroy(&up);
	mpb_free(buf);
	return (ok ? EXIT_OK : fail_local(MPB_ENOMEM, NULL));
}

static int
cmd_objects(mpb_client *c, const struct cli *cli)
{
	mpb_object_info *list;
	size_t           count, n = 0;
	mpb_err          err;

	if ((err = mpb_object_list(c, &list, &count)) != MPB_OK) {
		return (fail(err));
	}
	for (size_t i = 0; i < count; i++) {
		const struct field f[] = {
			{ "name", list[i].name, 0 },
			{ "class", list[i].class_name, 0 },
			{ "kind", list[i].kind, 0 },
			{ "size", NULL, list[i].size },
		};

		json_next(cli, &n, "[]");
		print_record(cli, f, sizeof(f) / sizeof(f[0]));
	}
	json_close(cli, n, "[]");
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

// encode_arg packs word[0..len) into sb (cleared first): as an integer
// when as_int (a usage error unless it is one), else as a str.  from_stdin
// says where word came from, for the error; one trailing newline is not
// part of an integer read from there (echo 5 | mpb ... - --int).
static int
encode_arg(const struct cli *cli, msgpack_sbuffer *sb, const char *word,
    size_t len, bool as_int, bool from_stdin)
{
	msgpack_packer pk;
	char           num[24]; // "-9223372036854775808" and a NUL
	int64_t        v;

	msgpack_sbuffer_clear(sb);
	if (!as_int) {
		return (pack_str(sb, word, len));
	}
	if (len > 0 && word[len - 1] == '\n') {
		len--;
	}
	if (len >= sizeof(num) || memchr(word, '\0', len) != NULL) {
		len = 0; // parse_i64("") fails
	}
	memcpy(num, word, len);
	num[len] = '\0';
	if (!parse_i64(num, &v)) {
		return (from_stdin ? usage_error(cli->cmd,
		                         "standard input is not a 64-bit integer")
		                   : usage_error(cli->cmd,
		                         "'%s' is not a 64-bit integer", word));
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

// What a queue, dict or list command sends: the key (argument ki, a
// dict's KEY; 0 for none) and the value (argument vi, 0 for none), encoded
// as the options say.  VALUE "-" is all of standard input.
struct kv {
	msgpack_sbuffer key;
	msgpack_sbuffer val;
	char           *input; // standard input, read for VALUE "-"
};

static int
kv_encode(const struct cli *cli, struct kv *kv, int ki, int vi)
{
	const char *word = vi > 0 ? cli->args[vi] : NULL;
	size_t      len  = word != NULL ? strlen(word) : 0;
	bool        in   = word != NULL && strcmp(word, "-") == 0;
	int         rv   = EXIT_OK;

	msgpack_sbuffer_init(&kv->key);
	msgpack_sbuffer_init(&kv->val);
	kv->input = NULL;
	if (ki > 0) {
		rv = encode_arg(cli, &kv->key, cli->args[ki],
		    strlen(cli->args[ki]), (cli->given & OPT_INT_KEY) != 0, false);
	}
	if (rv == EXIT_OK && in) {
		rv   = read_all(stdin, &kv->input, &len);
		word = kv->input;
	}
	if (rv == EXIT_OK && word != NULL) {
		rv = encode_arg(cli, &kv->val, word, len,
		    (cli->given & OPT_INT) != 0, in);
	}
	return (rv);
}

static void
kv_fini(struct kv *kv)
{
	msgpack_sbuffer_destroy(&kv->key);
	msgpack_sbuffer_destroy(&kv->val);
	free(kv->input);
}

// done reports err (if any) and otherwise prints value[0..len) when value
// is not NULL, then frees it.  Call it after the call that fills value,
// not around it: arguments are evaluated in no set order.
static int
done(const struct cli *cli, mpb_err err, void *value, size_t len)
{
	int rv = err != MPB_OK ? fail(err)
	    : value != NULL    ? print_value(cli, value, len, ALONE)
	                       : EXIT_OK;

	mpb_free(value);
	return (rv);
}

// queue put NAME VALUE: VALUE is always a str.
static int
cmd_put(mpb_client *c, const struct cli *cli)
{
	struct kv kv;
	int       rv = kv_encode(cli, &kv, 0, 1);

	if (rv == EXIT_OK) {
		rv = done(cli, mpb_queue_put(c, cli->args[0], kv.val.data,
		                   kv.val.size, cli->priority, cli->timeout_ms),
		    NULL, 0);
	}
	kv_fini(&kv);
	return (rv);
}

static int
cmd_dict_set(mpb_client *c, const struct cli *cli)
{
	struct kv kv;
	int       rv = kv_encode(cli, &kv, 1, 2);

	if (rv == EXIT_OK) {
		rv = done(cli, mpb_dict_set(c, cli->args[0], kv.key.data, kv.key.size,
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
		rv = done(cli, err, value, len);
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
	size_t      count    = 0;
	const char *brackets = step == 2 ? "{}" : "[]";
	int         rv       = EXIT_OK;

	do {
		mpb_value *vals;
		size_t     n;
		mpb_err    err = mpb_dict_scan(c, cli->args[0], cursor, 1000, what,
		       &vals, &n, &cursor);
		if (err != MPB_OK) {
			return (fail(err));
		}
		for (size_t i = 0; i + step <= n && rv == EXIT_OK; i += step) {
			json_next(cli, &count, brackets);
			rv = print_value(cli, vals[i].data, vals[i].len,
			    step == 2 ? KEY : ELEM);
			if (rv == EXIT_OK && step == 2) {
				rv = print_value(cli, vals[i + 1].data,
				    vals[i + 1].len, VAL);
			}
		}
		mpb_values_free(vals, n);
	} while (cursor != 0 && rv == EXIT_OK);
	if (rv == EXIT_OK) {
		json_close(cli, count, brackets);
	}
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
		mpb_err err = set ? mpb_list_set(c, cli->args[0], index,
		                        kv.val.data, kv.val.size)
		                  : mpb_list_append(c, cli->args[0],
		                        kv.val.data, kv.val.size);

		rv = done(cli, err, NULL, 0);
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
	return (done(cli, err, value, len));
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
	size_t  count = 0;
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
			json_next(cli, &count, "[]");
			rv = print_value(cli, vals[i].data, vals[i].len, ELEM);
		}
		mpb_values_free(vals, n);
	}
	if (rv == EXIT_OK) {
		json_close(cli, count, "[]");
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

// Every command that prints takes --json (see "JSON output" in the help).
static const struct command commands[] = {
	{ NULL, "ping", cmd_ping, 0, OPT_JSON, 0, "ping [--json]", 0 },
	{ NULL, "list-objects", cmd_objects, 0, OPT_JSON, 0,
	    "list-objects [--json]", 0 },
	{ NULL, "stats", cmd_stats, 0, OPT_JSON, 0, "stats [--json]", 0 },
	{ NULL, "delete", cmd_object_delete, 1, 0, 0, "delete NAME", 0 },
	{ "queue", "create", cmd_create, 1, OPT_KIND | OPT_MAXSIZE | OPT_JSON,
	    OPT_KIND,
	    "queue create NAME --kind fifo|lifo|priority [--maxsize N] "
	    "[--json]",
	    0 },
	{ "queue", "put", cmd_put, 2, OPT_PRIORITY | OPT_TIMEOUT, 0,
	    "queue put NAME VALUE [--priority N] [--timeout SECONDS]", 0 },
	{ "queue", "get", cmd_get, 1, OPT_TIMEOUT | OPT_JSON, 0,
	    "queue get NAME [--timeout SECONDS] [--json]", 0 },
	{ "queue", "size", cmd_size, 1, OPT_JSON, 0,
	    "queue size NAME [--json]", 0 },
	{ "queue", "list", cmd_list, 0, OPT_JSON, 0, "queue list [--json]", 0 },
	{ "queue", "delete", cmd_delete, 1, 0, 0, "queue delete NAME", 0 },
	{ "queue", "task-done", cmd_task_done, 1, 0, 0,
	    "queue task-done NAME", 0 },
	{ "queue", "join", cmd_join, 1, OPT_TIMEOUT, 0,
	    "queue join NAME [--timeout SECONDS]", 0 },
	{ "dict", "set", cmd_dict_set, 3, OPT_INT | OPT_INT_KEY, 0,
	    "dict set NAME KEY VALUE [--int] [--int-key]", 0 },
	{ "dict", "get", cmd_dict_get, 2, OPT_INT_KEY | OPT_JSON, 0,
	    "dict get NAME KEY [--int-key] [--json]", 0 },
	{ "dict", "del", cmd_dict_del, 2, OPT_INT_KEY, 0,
	    "dict del NAME KEY [--int-key]", 0 },
	{ "dict", "incr", cmd_dict_incr, 3, OPT_INT_KEY | OPT_JSON, 0,
	    "dict incr NAME KEY [DELTA] [--int-key] [--json]", 1 },
	{ "dict", "len", cmd_dict_len, 1, OPT_JSON, 0,
	    "dict len NAME [--json]", 0 },
	{ "dict", "keys", cmd_dict_keys, 1, OPT_JSON, 0,
	    "dict keys NAME [--json]", 0 },
	{ "dict", "items", cmd_dict_items, 1, OPT_JSON, 0,
	    "dict items NAME [--json]", 0 },
	{ "list", "append", cmd_list_put, 2, OPT_INT, 0,
	    "list append NAME VALUE [--int]", 0 },
	{ "list", "get", cmd_list_take, 2, OPT_JSON, 0,
	    "list get NAME INDEX [--json]", 0 },
	{ "list", "set", cmd_list_put, 3, OPT_INT, 0,
	    "list set NAME INDEX VALUE [--int]", 0 },
	{ "list", "pop", cmd_list_take, 2, OPT_JSON, 0,
	    "list pop NAME [INDEX] [--json]", 1 },
	{ "list", "len", cmd_list_len, 1, OPT_JSON, 0,
	    "list len NAME [--json]", 0 },
	{ "list", "range", cmd_list_range, 3, OPT_JSON, 0,
	    "list range NAME [START [STOP]] [--json]", 2 },
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
			// --json is taken from every command so that one that
			// prints nothing can say so below.
			rv = parse_option(cli, cmd, cmd->opts | OPT_GLOBAL | OPT_JSON,
			    argc, argv, &i);
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
	if ((cli->given & ~(cmd->opts | OPT_GLOBAL)) != 0) {
		return (usage_error(cmd, "option '--%s' does not apply",
		    opt_name(cli->given & ~(cmd->opts | OPT_GLOBAL))));
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
		// --json is a command's option, but "mpb --json queue list"
		// reads naturally too; it is checked against the command below.
		rv = parse_option(
		    cli, NULL, OPT_GLOBAL | OPT_JSON, argc, argv, &i);
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

// setting returns an option's value, else the environment variable that
// libmpb falls back to (NULL if neither is set or it is empty).
static const char *
setting(const char *opt, const char *env)
{
	const char *v = opt != NULL ? opt : getenv(env);

	return (v != NULL && v[0] != '\0' ? v : NULL);
}

// connect_hint names the input that libmpb's bare EINVAL from connecting
// is about, for the error line: the files are checked again here.
static const char *
connect_hint(const struct cli *cli)
{
	static char buf[PATH_MAX + 64];
	const char *auth = setting(cli->auth_file, "MPB_AUTH_FILE");
	const char *ca   = setting(cli->tls_ca, "MPB_TLS_CA");
	const char *url  = setting(cli->url, "MPB_URL");
	const char *bad  = NULL;

	if (auth != NULL && access(auth, R_OK) != 0) {
		bad = auth;
	} else if (url != NULL && strncmp(url, "tls+tcp://", 10) == 0) {
		if (ca == NULL) {
			return ("a tls+tcp:// URL needs --tls-ca or MPB_TLS_CA");
		}
		bad = access(ca, R_OK) != 0 ? ca : NULL;
	}
	if (bad != NULL) {
		snprintf(buf, sizeof(buf), "cannot read '%s': %s", bad,
		    strerror(errno));
		return (buf);
	}
	return ("bad URL, or an empty secret or CA file");
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
	struct cli       cli  = { 0 };
	mpb_connect_opts opts = { 0 };
	mpb_client      *client;
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

	opts.url                = cli.url;
	opts.connect_timeout_ms = cli.connect_ms;
	opts.auth_file          = cli.auth_file;
	opts.tls_ca_file        = cli.tls_ca;
	opts.tls_server_name    = cli.tls_name;
	if ((err = mpb_connect_ex(&opts, &client)) != MPB_OK) {
		return (err == MPB_EINVAL && mpb_last_error_text()[0] == '\0'
		        ? fail_local(err, connect_hint(&cli))
		        : fail(err));
	}
	rv = cli.cmd->run(client, &cli);
	mpb_close(client);
	return (finish_output(rv));
}
