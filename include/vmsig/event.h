/* SPDX-License-Identifier: MIT */
/*
 * The event a holder receives: a fixed header, a small inline POD whose
 * layout depends on the type (vmsig_memctx, vmsig_memctx_inv, ...), an
 * owned variable-length payload, and at most one file descriptor.
 *
 * Runs in: holder
 */
#ifndef VMSIG_EVENT_H
#define VMSIG_EVENT_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Layout checks that compile as C11 and as C++ (g++ has static_assert, not
 * _Static_assert).  The library is built with hidden visibility; what the
 * public headers declare is its exported API (the pragma below).
 */
#ifdef __cplusplus
#define VMSIG_STATIC_ASSERT(c, m)	static_assert(c, m)
#else
#define VMSIG_STATIC_ASSERT(c, m)	_Static_assert(c, m)
#endif

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Event types.  The numbers are the wire's (proto/vmsig.proto EventType). */
enum vmsig_event_type {
	VMSIG_EV_MEMCTX = 1,		/* inln: vmsig_memctx; payload: segs; fd */
	VMSIG_EV_MEMCTX_INVALIDATED = 2,	/* inln: vmsig_memctx_inv */
	VMSIG_EV_MEMWRITTEN = 3,	/* inln: vmsig_memwritten */
	VMSIG_EV_LEASE_LOST = 4,	/* inln: vmsig_lease_lost */
	VMSIG_EV_ENDPOINT_GONE = 5,	/* inln unused */
	VMSIG_EV_MAX_ = 5,
};

/* A subscription's event mask selects types by bit (1u << type); 0 means all. */
#define VMSIG_EV_BIT(t)		(1u << (t))
#define VMSIG_EV_ALL		0u

/* Who produced an event.  Only the memory-context source exists today. */
enum vmsig_source {
	VMSIG_SRC_MEMCTX = 1,
};

/* Size of the inline POD area.  Every POD below fits in it. */
#define VMSIG_EVENT_INLN	48

/*
 * One event.  `inln` is 8-byte aligned so a vmsig_memctx can be read from
 * it in place.  `payload` is owned by the event; `fd` is owned by the event
 * (closed by vmsig_event_free) unless the caller takes it with
 * vmsig_event_take_fd().  fd is -1 when the event carries none.
 */
typedef struct vmsig_event {
	uint32_t type;		/* enum vmsig_event_type */
	uint32_t endpoint;	/* which guest */
	uint32_t source;	/* enum vmsig_source */
	uint32_t epoch;		/* VM session this event belongs to */
	uint64_t seq;		/* per-endpoint sequence number, from 1 */
	alignas(8) unsigned char inln[VMSIG_EVENT_INLN];
	struct {
		void *data;
		size_t len;
	} payload;
	int fd;
} vmsig_event;

/* MEMWRITTEN: a leased write landed in guest RAM; drop caches of the range. */
typedef struct vmsig_memwritten {
	uint64_t gpa;		/* first guest-physical byte written */
	uint64_t len;		/* number of bytes written */
	uint32_t writer;	/* peer id of the writing holder */
	uint32_t _pad;
} vmsig_memwritten;

/* LEASE_LOST: a lease this holder held has ended. */
enum vmsig_lease_reason {
	VMSIG_LEASE_EXPIRED = 1,
	VMSIG_LEASE_EPOCH = 2,		/* the endpoint's epoch changed */
	VMSIG_LEASE_RELEASED = 3,
	VMSIG_LEASE_ENDPOINT_GONE = 4,
};

typedef struct vmsig_lease_lost {
	uint64_t lease_id;
	uint32_t reason;	/* enum vmsig_lease_reason */
	uint32_t _pad;
} vmsig_lease_lost;

VMSIG_STATIC_ASSERT(offsetof(vmsig_event, inln) == 24, "vmsig_event layout");
VMSIG_STATIC_ASSERT(sizeof(vmsig_memwritten) <= VMSIG_EVENT_INLN, "inln");
VMSIG_STATIC_ASSERT(sizeof(vmsig_lease_lost) <= VMSIG_EVENT_INLN, "inln");

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* VMSIG_EVENT_H */
