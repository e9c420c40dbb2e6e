// harness.h -- helpers for tests that drive real processes: a private
// mpbroker per test group, client processes started with fork+exec, and
// running commands with their output captured.
//
// nng must never be called in a child forked after the parent used it,
// so every child here execs at once.

#ifndef MPBT_HARNESS_H
#define MPBT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mpbt_broker {
	pid_t pid;
	char  dir[64];  // private directory of the socket file
	char  path[96]; // <dir>/broker.ipc
	char  url[112]; // ipc://<path>
	char  log[96];  // the broker's stderr
} mpbt_broker;

// Starts build/bin/mpbroker (path from $MPB_TEST_BROKER) on a private ipc
// address, with extra arguments (NULL-terminated, may be NULL), and waits
// until it answers ping.  Returns false (and logs why) on failure.
bool mpbt_broker_start(mpbt_broker *b, const char *const *extra);
// SIGTERM, wait (bounded), SIGKILL if needed.  Returns the broker's exit
// code (0 after a clean stop), -1 if it had to be killed, or
// MPBT_STOP_LEFT_SOCKET if it exited 0 but left its socket file behind.
int mpbt_broker_stop(mpbt_broker *b);
#define MPBT_STOP_LEFT_SOCKET 300
// SIGKILL and reap.
void mpbt_broker_kill(mpbt_broker *b);

// Path of a test helper program built next to the tests.
const char *mpbt_bin(const char *name);

// A child process with its stdout read through a pipe.
typedef struct mpbt_proc {
	pid_t pid;
	int   out_fd; // read end of its stdout, or -1
} mpbt_proc;

// fork+exec argv (argv[0] is the program path); stdout piped when
// capture.  Returns false on failure.
bool mpbt_spawn(mpbt_proc *p, const char *const *argv, bool capture);
// Waits at most timeout_ms for the process to exit; returns its exit code
// (0..255), 128+signal if killed by a signal, or -1 on timeout (the
// process is then SIGKILLed and reaped).
int mpbt_wait(mpbt_proc *p, int timeout_ms);
// true if the process is still running (not reaped).
bool mpbt_running(mpbt_proc *p);
// Reads all of the child's stdout until EOF into a NUL-terminated
// malloc'ed buffer (never NULL).
char *mpbt_read_all(mpbt_proc *p);
// Reads one line of the child's stdout (up to and including '\n', or to
// EOF), blocking; a NUL-terminated malloc'ed string, never NULL.
char *mpbt_read_line(mpbt_proc *p);

// Runs argv to completion (at most timeout_ms), capturing stdout and
// stderr into malloc'ed strings (either pointer may be NULL).  stdin is
// fed from `input` when not NULL, else /dev/null.  Returns the exit code
// as mpbt_wait does.
int mpbt_run(const char *const *argv, const char *input, char **outp,
    char **errp, int timeout_ms);

// Asserts that an libmpb call returns `want`, naming both errors and the
// broker's message when it does not (use where cmocka.h is included).
#define assert_mpb(expr, want)                                               \
	do {                                                                  \
		mpb_err rv_ = (expr);                                         \
		if (rv_ != (want)) {                                          \
			fail_msg("%s: got %s (%s: %s), want %s", #expr,       \
			    mpb_errname(rv_), mpb_strerror(rv_),              \
			    mpb_last_error_text(), mpb_errname(want));        \
		}                                                             \
	} while (0)
#define assert_ok(expr) assert_mpb(expr, MPB_OK)

// Monotonic milliseconds.
long long mpbt_now_ms(void);
// Sleeps ms milliseconds.
void mpbt_sleep_ms(int ms);

#endif // MPBT_HARNESS_H
