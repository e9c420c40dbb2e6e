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
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "\n"
    "  Options may come before or after a command's arguments, and may be\n"
    "  written --name VALUE or --name=VALUE; negative numbers are values\n"
    "  (--priority -5).  \"--\" ends the options, so that a VALUE that\n"
    "  begins with \"-\" can be given: mpb queue put NAME -- -x.\n"
    "  SECONDS is a decimal number of seconds >= 0 and may have a fraction\n"
    "  (0.5); it is rounded up to whole milliseconds, at most 4294967.295.\n"
    "\n"
    "Values:\n"
    "  Queue items are msgpack values.  \"queue put\" stores VALUE as a\n"
    "  msgpack string (str) holding its bytes unchanged, without a newline.\n"
    "  \"queue get\" prints the item followed by a newline:\n"
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
    "     the timeout expired (get, put, join)\n"
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
};

// The global options are accepted after the command too: appending
// "--url X" to a command line is the natural thing to do.
#define OPT_GLOBAL (OPT_URL | OPT_CONNECT)

// The most positional arguments any command takes (queue put NAME VALUE).
#define MAX_ARGS 2

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
print_text(msgpack_object obj)
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
	fputc('\n', stdout);
	free(buf);
	return (EXIT_OK);
}

// print_value prints one item as documented under "Values" in the help:
// strings raw (they are what "queue put" stores, and scripts want the
// bytes back), integers in decimal, the rest as msgpack-c text.
static int
print_value(const void *data, size_t len)
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
		fputc('\n', stdout);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64 "\n", up.data.via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%" PRId64 "\n", up.data.via.i64);
		break;
	default:
		rv = print_text(up.data);
		break;
	}
	msgpack_unpacked_destroy(&up);
	return (rv);
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

static const struct command commands[] = {
	{ NULL, "ping", cmd_ping, 0, 0, 0, "ping" },
	{ NULL, "list-objects", cmd_objects, 0, 0, 0, "list-objects" },
	{ NULL, "delete", cmd_object_delete, 1, 0, 0, "delete NAME" },
	{ "queue", "create", cmd_create, 1, OPT_KIND | OPT_MAXSIZE, OPT_KIND,
	    "queue create NAME --kind fifo|lifo|priority [--maxsize N]" },
	{ "queue", "put", cmd_put, 2, OPT_PRIORITY | OPT_TIMEOUT, 0,
	    "queue put NAME VALUE [--priority N] [--timeout SECONDS]" },
	{ "queue", "get", cmd_get, 1, OPT_TIMEOUT, 0,
	    "queue get NAME [--timeout SECONDS]" },
	{ "queue", "size", cmd_size, 1, 0, 0, "queue size NAME" },
	{ "queue", "list", cmd_list, 0, 0, 0, "queue list" },
	{ "queue", "delete", cmd_delete, 1, 0, 0, "queue delete NAME" },
	{ "queue", "task-done", cmd_task_done, 1, 0, 0,
	    "queue task-done NAME" },
	{ "queue", "join", cmd_join, 1, OPT_TIMEOUT, 0,
	    "queue join NAME [--timeout SECONDS]" },
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
	if (cli->nargs < cmd->nargs) {
		return (usage_error(cmd, "missing %s",
		    cli->nargs == 0 ? "NAME" : "VALUE"));
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
