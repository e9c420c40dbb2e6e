// aof.h -- the append-only log that makes a broker durable (--data-dir).
//
// The file DIR/mpbroker.aof is a sequence of records:
//
//   [u32 length, big-endian][u32 CRC-32C of the payload, big-endian][payload]
//
// and each payload is one msgpack array [record type, args...] (see
// durable.c for the record types).  A record is the effect of a change,
// not the request that caused it, so replaying the log rebuilds exactly
// the state that was acknowledged.
//
// On start-up the log is replayed.  A damaged *last* record -- cut short,
// or with a checksum that does not match and nothing after it -- is what a
// power cut mid-write leaves: it is dropped and the file truncated, with a
// log line.  Damage anywhere else stops start-up with an error: silently
// dropping acknowledged data is worse than not starting.
//
// fsync policies, as Redis's appendfsync: `always` (every append is on disk
// before its reply leaves), `everysec` (a flush each second:
// mpbi_aof_tick), `no` (the kernel decides).
//
// Compaction: when the log has grown to twice its size after the last
// rewrite (and past a floor), the broker writes a new log holding only the
// live state.  The snapshot is taken by a forked child that only writes
// memory to a file (no nng in the child); meanwhile appends go on to the
// old log and are also kept in memory, and are copied to the new file
// before it replaces the old one.  Clients are blocked only for the fork
// itself and that final copy.

#ifndef MPBI_AOF_H
#define MPBI_AOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mpb_err.h"

typedef enum mpbi_fsync {
	MPBI_FSYNC_ALWAYS,
	MPBI_FSYNC_EVERYSEC,
	MPBI_FSYNC_NO,
} mpbi_fsync;

typedef struct mpbi_aof mpbi_aof;

// Writes the live state as records through emit (a rewrite).  Returns
// MPB_OK or the first error emit returned.
typedef mpb_err (*mpbi_aof_dump_fn)(
    void *arg, mpb_err (*emit)(void *sink, const void *rec, size_t len),
    void *sink);

// Opens (creating if needed) DIR/mpbroker.aof.  MPB_EINVAL with a message
// on stderr when the directory or file cannot be used.
mpb_err mpbi_aof_open(const char *dir, mpbi_fsync policy, mpbi_aof **aofp);
void    mpbi_aof_close(mpbi_aof *aof);

// Calls apply for every record, in order.  Truncates a torn last record
// (logged).  MPB_EPROTO (logged with the offset) for damage elsewhere or a
// record apply refuses; the file is left as it was.
mpb_err mpbi_aof_replay(mpbi_aof *aof,
    mpb_err (*apply)(void *arg, const uint8_t *rec, size_t len), void *arg);

// Appends one record to the write buffer.
mpb_err mpbi_aof_add(mpbi_aof *aof, const void *rec, size_t len);
// Writes the buffer out, and fsyncs under `always`.  A failure here means
// the broker can no longer keep its promise: the caller stops.
mpb_err mpbi_aof_commit(mpbi_aof *aof);

// Once a second: fsync under `everysec`; reap a finished rewrite and swap
// it in; start a rewrite when the log has grown enough (dump writes the
// state, in the forked child).
void mpbi_aof_tick(mpbi_aof *aof, mpbi_aof_dump_fn dump, void *arg);
// Starts a rewrite now (unless one runs).  MPB_OK if started.
mpb_err mpbi_aof_rewrite(mpbi_aof *aof, mpbi_aof_dump_fn dump, void *arg);
bool    mpbi_aof_rewriting(const mpbi_aof *aof);
// Size of the log file in bytes, and the policy, for stats.
uint64_t   mpbi_aof_size(const mpbi_aof *aof);
mpbi_fsync mpbi_aof_policy(const mpbi_aof *aof);

// CRC-32C (Castagnoli) of buf, as stored in each record header.
uint32_t mpbi_crc32c(const void *buf, size_t len);

#endif // MPBI_AOF_H
