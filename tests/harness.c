// harness.c -- see harness.h.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "mpb.h"

#define BROKER_READY_MS 10000
#define BROKER_STOP_MS 5000

long long
mpbt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
mpbt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

const char *
mpbt_bin(const char *name)
{
	static char path[4][512];
	static int  next;
	const char *dir = getenv("MPB_TEST_BINDIR");
	char       *p   = path[next++ % 4];

	if (strcmp(name, "mpbroker") == 0 && getenv("MPB_TEST_BROKER") != NULL) {
		return (getenv("MPB_TEST_BROKER"));
	}
	if (strcmp(name, "mpb") == 0 && getenv("MPB_TEST_CLI") != NULL) {
		return (getenv("MPB_TEST_CLI"));
	}
	snprintf(p, sizeof(path[0]), "%s/%s", dir != NULL ? dir : ".", name);
	return (p);
}

// In the child between fork and exec: die with the test runner, and
// never return into cmocka.
static void
child_exec(const char *const *argv)
{
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	execv(argv[0], (char *const *) argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

bool
mpbt_spawn(mpbt_proc *p, const char *const *argv, bool capture)
{
	int fds[2] = { -1, -1 };

	if (capture && pipe2(fds, O_CLOEXEC) != 0) {
		return (false);
	}
	p->pid = fork();
	if (p->pid < 0) {
		return (false);
	}
	if (p->pid == 0) {
		if (capture) {
			dup2(fds[1], STDOUT_FILENO);
		}
		child_exec(argv);
	}
	if (capture) {
		close(fds[1]);
	}
	p->out_fd = fds[0];
	return (true);
}

int
mpbt_wait(mpbt_proc *p, int timeout_ms)
{
	long long deadline = mpbt_now_ms() + timeout_ms;
	int       status;

	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid) {
			break;
		}
		if (r < 0 && errno != EINTR) {
			return (-1);
		}
		if (mpbt_now_ms() >= deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			return (-1);
		}
		mpbt_sleep_ms(5);
	}
	if (WIFEXITED(status)) {
		return (WEXITSTATUS(status));
	}
	return (128 + WTERMSIG(status));
}

bool
mpbt_running(mpbt_proc *p)
{
	return (waitpid(p->pid, NULL, WNOHANG) == 0);
}

// Reads fd to EOF into a NUL-terminated malloc'ed buffer.
static char *
read_fd_all(int fd)
{
	size_t  cap = 4096;
	size_t  len = 0;
	char   *buf = malloc(cap);
	ssize_t n;

	if (buf == NULL) {
		abort();
	}
	for (;;) {
		if (cap - len < 2048) {
			cap *= 2;
			if ((buf = realloc(buf, cap)) == NULL) {
				abort();
			}
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		len += (size_t) n;
	}
	buf[len] = '\0';
	return (buf);
}

char *
mpbt_read_all(mpbt_proc *p)
{
	char *s = read_fd_all(p->out_fd);

	close(p->out_fd);
	p->out_fd = -1;
	return (s);
}

char *
mpbt_read_line(mpbt_proc *p)
{
	size_t cap = 128;
	size_t len = 0;
	char  *buf = malloc(cap);
	char   ch;

	if (buf == NULL) {
		abort();
	}
	while (read(p->out_fd, &ch, 1) == 1) {
		if (len + 2 > cap && (buf = realloc(buf, cap *= 2)) == NULL) {
			abort();
		}
		buf[len++] = ch;
		if (ch == '\n') {
			break;
		}
	}
	buf[len] = '\0';
	return (buf);
}

int
mpbt_run(const char *const *argv, const char *input, char **outp,
    char **errp, int timeout_ms)
{
	char       outfile[] = "/tmp/mpbt-out-XXXXXX";
	char       errfile[] = "/tmp/mpbt-err-XXXXXX";
	char       infile[]  = "/tmp/mpbt-in-XXXXXX";
	int        outfd     = mkstemp(outfile);
	int        errfd     = mkstemp(errfile);
	int        infd      = mkstemp(infile);
	mpbt_proc  p;
	int        code;

	if (outfd < 0 || errfd < 0 || infd < 0) {
		abort();
	}
	if (input != NULL && write(infd, input, strlen(input)) < 0) {
		abort();
	}
	unlink(outfile);
	unlink(errfile);
	unlink(infile);
	p.out_fd = -1;
	p.pid    = fork();
	if (p.pid < 0) {
		abort();
	}
	if (p.pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		lseek(infd, 0, SEEK_SET);
		dup2(input != NULL ? infd : devnull, STDIN_FILENO);
		dup2(outfd, STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		child_exec(argv);
	}
	code = mpbt_wait(&p, timeout_ms);
	lseek(outfd, 0, SEEK_SET);
	lseek(errfd, 0, SEEK_SET);
	if (outp != NULL) {
		*outp = read_fd_all(outfd);
	}
	if (errp != NULL) {
		*errp = read_fd_all(errfd);
	}
	close(outfd);
	close(errfd);
	close(infd);
	return (code);
}

static void
print_broker_log(const mpbt_broker *b)
{
	FILE *f = fopen(b->log, "r");
	char  line[512];

	if (f == NULL) {
		return;
	}
	fprintf(stderr, "---- broker log %s ----\n", b->log);
	while (fgets(line, sizeof(line), f) != NULL) {
		fputs(line, stderr);
	}
	fclose(f);
}

bool
mpbt_broker_start(mpbt_broker *b, const char *const *extra)
{
	const char *argv[32];
	size_t      n = 0;
	long long   deadline;
	mpb_client *c;
	mpbt_proc   p;
	int         logfd;

	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/mpbt-XXXXXX");
	if (mkdtemp(b->dir) == NULL) {
		return (false);
	}
	snprintf(b->path, sizeof(b->path), "%s/broker.ipc", b->dir);
	snprintf(b->url, sizeof(b->url), "ipc://%s", b->path);
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);

	argv[n++] = mpbt_bin("mpbroker");
	argv[n++] = "--listen";
	argv[n++] = b->url;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) {
		argv[n++] = extra[i];
	}
	argv[n] = NULL;

	if ((logfd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		return (false);
	}
	p.pid = fork();
	if (p.pid < 0) {
		close(logfd);
		return (false);
	}
	if (p.pid == 0) {
		dup2(logfd, STDERR_FILENO);
		child_exec(argv);
	}
	close(logfd);
	b->pid = p.pid;

	// Ready when it answers ping; never a fixed sleep.
	deadline = mpbt_now_ms() + BROKER_READY_MS;
	while (mpbt_now_ms() < deadline) {
		if (mpb_connect(b->url, 500, &c) == MPB_OK) {
			mpb_close(c);
			return (true);
		}
		if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
			fprintf(stderr, "mpbroker exited during start-up\n");
			print_broker_log(b);
			b->pid = 0;
			return (false);
		}
		mpbt_sleep_ms(20);
	}
	fprintf(stderr, "mpbroker did not answer within %d ms\n", BROKER_READY_MS);
	print_broker_log(b);
	mpbt_broker_kill(b);
	return (false);
}

int
mpbt_broker_stop(mpbt_broker *b)
{
	mpbt_proc p = { b->pid, -1 };
	int       code;

	if (b->pid <= 0) {
		return (-1);
	}
	kill(b->pid, SIGTERM);
	code   = mpbt_wait(&p, BROKER_STOP_MS);
	b->pid = 0;
	if (code == 0 && access(b->path, F_OK) == 0) {
		fprintf(stderr, "mpbroker left its socket file %s\n", b->path);
		unlink(b->path);
		code = MPBT_STOP_LEFT_SOCKET;
	}
	if (code != 0) {
		print_broker_log(b);
	}
	unlink(b->log);
	rmdir(b->dir);
	return (code);
}

void
mpbt_broker_kill(mpbt_broker *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
	unlink(b->path);
	unlink(b->log);
	rmdir(b->dir);
}
