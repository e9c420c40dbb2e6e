// chunkq.h -- a double-ended queue of byte strings stored inline in
// fixed-size chunks: O(1) push, peek and drop at both ends, no malloc per
// entry.  Backs the fifo and lifo queues.
//
// An entry is its value's bytes plus a small length prefix and suffix
// (1 + 1 bytes for values under 64 bytes), and a delivery count only when
// it is not 0 (a leased item that came back).  Entries are packed back to
// back in 4 KiB chunks (CHUNK_ALLOC in chunkq.c); a value too big for one
// gets a chunk of its own, sized to fit.  A chunk is freed as soon as it
// empties, except that one standard chunk is kept as a spare, so a queue
// hovering around empty, or a fifo moving steadily from back to front,
// does not malloc and free; memory follows the standing depth.
//
// Views handed out point into a chunk and stay valid until the next push
// or drop on the queue.

#ifndef MPBI_CHUNKQ_H
#define MPBI_CHUNKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpb_err.h"

typedef struct chunkq_chunk chunkq_chunk; // chunkq.c

// The two ends, also the indexes of cq_end and of a chunk's links.
typedef enum mpbi_chunkq_end {
	MPBI_CHUNKQ_FRONT = 0,
	MPBI_CHUNKQ_BACK  = 1,
} mpbi_chunkq_end;

typedef struct mpbi_chunkq {
	chunkq_chunk *cq_end[2]; // the front and back chunks (doubly linked)
	chunkq_chunk *cq_spare;  // an empty standard chunk, or NULL
	size_t        cq_len;    // entries
} mpbi_chunkq;

// One entry as stored, not copied.
typedef struct mpbi_chunkq_view {
	const uint8_t *cv_data;
	size_t         cv_len;
	uint32_t       cv_deliveries;
} mpbi_chunkq_view;

// Front-to-back iteration (the queue must not change meanwhile).
typedef struct mpbi_chunkq_iter {
	const chunkq_chunk *ci_chunk;
	size_t              ci_off;
} mpbi_chunkq_iter;

// Largest value a chunkq stores.
#define MPBI_CHUNKQ_MAX_VALUE ((size_t) UINT32_MAX - 64)

void mpbi_chunkq_init(mpbi_chunkq *q);
// Frees every chunk (and with them the entries).  The queue is empty and
// usable afterwards.
void mpbi_chunkq_fini(mpbi_chunkq *q);

// Copies len bytes of data (and the delivery count) in as a new entry at
// end `e`.  MPB_OK, or MPB_ENOMEM (no memory for a chunk, or len above
// MPBI_CHUNKQ_MAX_VALUE) with the queue unchanged.
mpb_err mpbi_chunkq_push(mpbi_chunkq *q, mpbi_chunkq_end e, const void *data,
    size_t len, uint32_t deliveries);
// Shows the entry at end e in *v; false (and *v untouched) when empty.
bool mpbi_chunkq_peek(
    const mpbi_chunkq *q, mpbi_chunkq_end e, mpbi_chunkq_view *v);
// Removes the entry at end e and returns its value's length; the queue
// must not be empty.
size_t mpbi_chunkq_drop(mpbi_chunkq *q, mpbi_chunkq_end e);

size_t mpbi_chunkq_len(const mpbi_chunkq *q);
// Chunks allocated now, the spare included (for tests).
size_t mpbi_chunkq_chunks(const mpbi_chunkq *q);

void mpbi_chunkq_iter_init(const mpbi_chunkq *q, mpbi_chunkq_iter *it);
// The next entry in *v, or false at the end.
bool mpbi_chunkq_iter_next(mpbi_chunkq_iter *it, mpbi_chunkq_view *v);

#endif // MPBI_CHUNKQ_H
