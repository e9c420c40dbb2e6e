// aof.c -- the append-only log (see aof.h).

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aof.h"
#include "core.h"

#define AOF_NAME "mpbroker.aof"
#define AOF_TMP_NAME "mpbroker.aof.rewrite"
#define HDR_LEN 8
// No rewrite below this size: small logs cost nothing to replay.
#define REWRITE_FLOOR (16u * 1024u * 1024u)
// A rewrite child gets this long, plus a second per 16 MiB of log, before
// it counts as stuck and is killed (the rewrite is then tried again).  A
// child forked from a multi-threaded process can deadlock on a lock some
// other thread held at the fork (an allocator's: GCC 12's AddressSanitizer
// does not take its allocator's lock around fork); it must not stop
// compaction for good.
#define REWRITE_CHILD_MS 10000u
// A single record larger than this is damage, not data.
#define RECORD_MAX (1u << 30)

struct mpbi_aof {
	int        fd;
	char      *path;
	char      *tmp_path;
	char      *dir;
	mpbi_fsync policy;
	uint8_t   *buf; // records added, not yet written
	size_t     len;
	size_t     cap;
	uint64_t   size;      // bytes in the file
	uint64_t   base_size; // size just after the last rewrite (or open)
	bool       unsynced;  // written but not fsynced (everysec)
	pid_t      child;     // rewrite in progress, or 0
	uint64_t   child_deadline_ms; // when a child still running is stuck
	uint8_t   *rw_buf;    // what was written while the child ran
	size_t     rw_len;
	size_t     rw_cap;
	bool       rw_failed; // rw_buf could not grow: the rewrite is void
};

uint32_t
mpbi_crc32c(const void *buf, size_t len)
{
	static uint32_t table[256];
	static bool     ready;
	const uint8_t  *p   = buf;
	uint32_t        crc = 0xffffffffu;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++) {
				c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			}
			table[i] = c;
		}
		ready = true;
	}
	for (size_t i = 0; i < len; i++) {
		crc = table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
	}
	return (crc ^ 0xffffffffu);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
	    (uint32_t) p[2] << 8 | (uint32_t) p[3]);
}

// Appends n bytes to a growable buffer.
static bool
buf_append(uint8_t **bufp, size_t *lenp, size_t *capp, const void *p, size_t n)
{
	if (*capp - *lenp < n) {
		size_t   cap = *capp != 0 ? *capp : 4096;
		uint8_t *nb;
		while (cap - *lenp < n) {
			cap *= 2;
		}
		if ((nb = realloc(*bufp, cap)) == NULL) {
			return (false);
		}
		*bufp = nb;
		*capp = cap;
	}
	memcpy(*bufp + *lenp, p, n);
	*lenp += n;
	return (true);
}

static bool
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return (false);
		}
		b += w;
		n -= (size_t) w;
	}
	return (true);
}

static char *
path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		return (NULL);
	}
	return (p);
}

mpb_err
mpbi_aof_open(const char *dir, mpbi_fsync policy, mpbi_aof **aofp)
{
	mpbi_aof   *aof;
	struct stat st;

	if ((aof = calloc(1, sizeof(*aof))) == NULL) {
		return (MPB_ENOMEM);
	}
	aof->fd     = -1;
	aof->policy = policy;
	aof->dir    = strdup(dir);
	aof->path   = path_join(dir, AOF_NAME);
	aof->tmp_path = path_join(dir, AOF_TMP_NAME);
	if (aof->dir == NULL || aof->path == NULL || aof->tmp_path == NULL) {
		mpbi_aof_close(aof);
		return (MPB_ENOMEM);
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		mpbi_log("cannot create data directory %s: %s", dir, strerror(errno));
		mpbi_aof_close(aof);
		return (MPB_EINVAL);
	}
	// A rewrite that was under way when the broker stopped is unfinished
	// by definition: the old log is still the truth.
	(void) unlink(aof->tmp_path);
	aof->fd = open(aof->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (aof->fd < 0 || fstat(aof->fd, &st) != 0) {
		mpbi_log("cannot open %s: %s", aof->path, strerror(errno));
		mpbi_aof_close(aof);
		return (MPB_EINVAL);
	}
	aof->size      = (uint64_t) st.st_size;
	aof->base_size = aof->size;
	*aofp          = aof;
	return (MPB_OK);
}

void
mpbi_aof_close(mpbi_aof *aof)
{
	if (aof == NULL) {
		return;
	}
	if (aof->child > 0) {
		kill(aof->child, SIGKILL);
		waitpid(aof->child, NULL, 0);
		(void) unlink(aof->tmp_path);
	}
	if (aof->fd >= 0) {
		(void) mpbi_aof_commit(aof);
		(void) fdatasync(aof->fd);
		close(aof->fd);
	}
	free(aof->buf);
	free(aof->rw_buf);
	free(aof->path);
	free(aof->tmp_path);
	free(aof->dir);
	free(aof);
}

// Reads the whole file: logs are replayed once, at start-up.
static mpb_err
read_file(int fd, uint8_t **bufp, size_t *lenp)
{
	struct stat st;
	uint8_t    *buf;
	size_t      got = 0;

	if (fstat(fd, &st) != 0) {
		return (MPB_EINVAL);
	}
	if ((buf = malloc((size_t) st.st_size + 1)) == NULL) {
		return (MPB_ENOMEM);
	}
	while (got < (size_t) st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t) st.st_size - got, (off_t) got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			free(buf);
			return (MPB_EINVAL);
		}
		got += (size_t) n;
	}
	*bufp = buf;
	*lenp = got;
	return (MPB_OK);
}

mpb_err
mpbi_aof_replay(mpbi_aof *aof,
    mpb_err (*apply)(void *arg, const uint8_t *rec, size_t len), void *arg)
{
	uint8_t *data;
	size_t   len;
	size_t   off = 0;
	size_t   n   = 0;
	mpb_err  rv;

	if ((rv = read_file(aof->fd, &data, &len)) != MPB_OK) {
		mpbi_log("cannot read %s", aof->path);
		return (rv);
	}
	while (off < len) {
		uint32_t rlen;
		bool     whole;

		whole = len - off >= HDR_LEN;
		rlen  = whole ? get_be32(data + off) : 0;
		whole = whole && rlen <= RECORD_MAX && len - off - HDR_LEN >= rlen;
		if (!whole || mpbi_crc32c(data + off + HDR_LEN, rlen) !=
		        get_be32(data + off + 4)) {
			// Only the last record may be damaged: a write cut
			// short by a crash.
			if (whole && off + HDR_LEN + rlen < len) {
				mpbi_log("%s: record %zu at byte %zu is damaged and "
				         "more follow; refusing to start (move the "
				         "file away to start empty)",
				    aof->path, n, off);
				free(data);
				return (MPB_EPROTO);
			}
			mpbi_log("%s: dropping a torn last record at byte %zu "
			         "(%zu bytes)",
			    aof->path, off, len - off);
			if (ftruncate(aof->fd, (off_t) off) != 0) {
				free(data);
				return (MPB_EINVAL);
			}
			len = off;
			break;
		}
		if ((rv = apply(arg, data + off + HDR_LEN, rlen)) != MPB_OK) {
			mpbi_log("%s: record %zu at byte %zu cannot be applied (%s); "
			         "refusing to start",
			    aof->path, n, off, mpb_strerror(rv));
			free(data);
			return (MPB_EPROTO);
		}
		off += HDR_LEN + rlen;
		n++;
	}
	free(data);
	aof->size      = len;
	aof->base_size = len;
	mpbi_log("replayed %zu record(s) from %s", n, aof->path);
	return (MPB_OK);
}

mpb_err
mpbi_aof_add(mpbi_aof *aof, const void *rec, size_t len)
{
	uint8_t hdr[HDR_LEN];
	size_t  old = aof->len;

	put_be32(hdr, (uint32_t) len);
	put_be32(hdr + 4, mpbi_crc32c(rec, len));
	if (!buf_append(&aof->buf, &aof->len, &aof->cap, hdr, HDR_LEN) ||
	    !buf_append(&aof->buf, &aof->len, &aof->cap, rec, len)) {
		aof->len = old;
		return (MPB_ENOMEM);
	}
	return (MPB_OK);
}

mpb_err
mpbi_aof_commit(mpbi_aof *aof)
{
	if (aof->len == 0) {
		return (MPB_OK);
	}
	if (!write_all(aof->fd, aof->buf, aof->len)) {
		mpbi_log("cannot write %s: %s", aof->path, strerror(errno));
		return (MPB_EINTERNAL);
	}
	aof->size += aof->len;
	if (aof->child > 0 && !aof->rw_failed &&
	    !buf_append(&aof->rw_buf, &aof->rw_len, &aof->rw_cap, aof->buf,
	        aof->len)) {
		aof->rw_failed = true;
	}
	aof->len = 0;
	if (aof->policy == MPBI_FSYNC_ALWAYS) {
		if (fdatasync(aof->fd) != 0) {
			mpbi_log("cannot fsync %s: %s", aof->path, strerror(errno));
			return (MPB_EINTERNAL);
		}
	} else {
		aof->unsynced = true;
	}
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Rewrite

typedef struct child_sink {
	FILE *f;
} child_sink;

static mpb_err
child_emit(void *sink, const void *rec, size_t len)
{
	child_sink *cs = sink;
	uint8_t     hdr[HDR_LEN];

	put_be32(hdr, (uint32_t) len);
	put_be32(hdr + 4, mpbi_crc32c(rec, len));
	if (fwrite(hdr, 1, HDR_LEN, cs->f) != HDR_LEN ||
	    fwrite(rec, 1, len, cs->f) != len) {
		return (MPB_EINTERNAL);
	}
	return (MPB_OK);
}

mpb_err
mpbi_aof_rewrite(mpbi_aof *aof, mpbi_aof_dump_fn dump, void *arg)
{
	pid_t pid;

	if (aof->child > 0) {
		return (MPB_ESTATE);
	}
	if ((pid = fork()) < 0) {
		mpbi_log("cannot fork to rewrite the log: %s", strerror(errno));
		return (MPB_ENOMEM);
	}
	if (pid == 0) {
		// The child only writes memory to a file: no nng here.
		child_sink cs;
		int        ok;
		cs.f = fopen(aof->tmp_path, "w");
		ok   = cs.f != NULL && dump(arg, child_emit, &cs) == MPB_OK &&
		    fflush(cs.f) == 0 && fdatasync(fileno(cs.f)) == 0;
		_exit(ok ? 0 : 1);
	}
	aof->child             = pid;
	aof->child_deadline_ms = mpbi_now_ms() + REWRITE_CHILD_MS +
	    1000u * (aof->size >> 24);
	aof->rw_len            = 0;
	aof->rw_failed         = false;
	mpbi_log("rewriting %s (%llu bytes) in process %d", aof->path,
	    (unsigned long long) aof->size, (int) pid);
	return (MPB_OK);
}

// The child is done: add what was appended since the fork, and put the
// new file in place of the old one.
static void
rewrite_finish(mpbi_aof *aof, int status)
{
	int         fd = -1;
	struct stat st;
	int         dfd;

	aof->child = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || aof->rw_failed) {
		mpbi_log("log rewrite failed; keeping the old log");
		goto fail;
	}
	fd = open(aof->tmp_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || !write_all(fd, aof->rw_buf, aof->rw_len) ||
	    fdatasync(fd) != 0 || fstat(fd, &st) != 0 ||
	    rename(aof->tmp_path, aof->path) != 0) {
		mpbi_log("log rewrite failed: %s; keeping the old log",
		    strerror(errno));
		goto fail;
	}
	// Make the rename itself durable.
	if ((dfd = open(aof->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void) fsync(dfd);
		close(dfd);
	}
	close(aof->fd);
	aof->fd        = fd;
	aof->size      = (uint64_t) st.st_size;
	aof->base_size = aof->size;
	aof->rw_len    = 0;
	mpbi_log("log rewritten: %llu bytes", (unsigned long long) aof->size);
	return;
fail:
	if (fd >= 0) {
		close(fd);
	}
	(void) unlink(aof->tmp_path);
	aof->rw_len = 0;
}

void
mpbi_aof_tick(mpbi_aof *aof, mpbi_aof_dump_fn dump, void *arg)
{
	int status;

	if (aof->unsynced && aof->policy == MPBI_FSYNC_EVERYSEC) {
		(void) fdatasync(aof->fd);
		aof->unsynced = false;
	}
	if (aof->child > 0 && waitpid(aof->child, &status, WNOHANG) == aof->child) {
		rewrite_finish(aof, status);
	} else if (aof->child > 0 && mpbi_now_ms() > aof->child_deadline_ms) {
		mpbi_log("log rewrite process %d is stuck; killing it",
		    (int) aof->child);
		(void) kill(aof->child, SIGKILL);
		// SIGKILL cannot be caught: this wait is short.
		(void) waitpid(aof->child, &status, 0);
		rewrite_finish(aof, status); // fails, and a later tick retries
	}
	if (aof->child == 0 && aof->size > REWRITE_FLOOR &&
	    aof->size > 2 * aof->base_size) {
		(void) mpbi_aof_rewrite(aof, dump, arg);
	}
}

bool
mpbi_aof_rewriting(const mpbi_aof *aof)
{
	return (aof->child > 0);
}

uint64_t
mpbi_aof_size(const mpbi_aof *aof)
{
	return (aof->size + aof->len);
}

mpbi_fsync
mpbi_aof_policy(const mpbi_aof *aof)
{
	return (aof->policy);
}
