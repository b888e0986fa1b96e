/* SPDX-License-Identifier: MIT */
/*
 * The memory-context contract: what a holder receives to read a guest.
 *
 * A MEMCTX event pairs the guest kernel's permanent page-table root (kcr3,
 * the System process's DirectoryTableBase) with a read-only descriptor of
 * the guest's RAM file and a locator saying where each guest-physical range
 * lives in that file.  All of it is valid only inside one epoch (one VM
 * session).
 *
 * What a holder must do with it:
 *  - Map the descriptor with PROT_READ only; the locator means nothing
 *    against any other file.  The descriptor is always O_RDONLY, so a
 *    writable shared mapping of it fails with EACCES: writing into the guest
 *    goes through the leased MEMWRITE command, never through this mapping.
 *  - When MEMCTX_INVALIDATED{endpoint, epoch} arrives, unmap and close the
 *    previous context and wait for MEMCTX of the new epoch.
 *  - Translate with kcr3 only while its epoch is current.
 *
 * libvmsig-holder's context tracker (holder.h) does all three.
 *
 * Runs in: any
 */
#ifndef VMSIG_MEMCTX_H
#define VMSIG_MEMCTX_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/event.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* flags: the descriptor is vended read-only.  vmsigd always sets it. */
#define VMSIG_MEMCTX_RDONLY	0x1u
/* flags: the guest uses 5-level paging (CR4.LA57).  Unknown bits are ignored. */
#define VMSIG_MEMCTX_LA57	0x2u

/*
 * The locator, carried inline in a MEMCTX event.  With nseg == 0 the file
 * holds guest-physical [0, low) at offset 0 and [4 GiB, 4 GiB + rest) at
 * offset low; with nseg > 0 the event's payload holds nseg vmsig_memseg.
 */
typedef struct vmsig_memctx {
	uint64_t kcr3;		/* guest kernel page-table root (physical) */
	uint64_t low;		/* RAM below 4 GiB; split point of the file */
	uint32_t epoch;		/* VM session; kcr3 means nothing outside it */
	uint32_t nseg;		/* segments in the payload, 0 = split by low */
	uint32_t flags;		/* VMSIG_MEMCTX_* */
	uint32_t _pad;
} vmsig_memctx;

/* One guest-physical window and where it lives in the RAM file. */
typedef struct vmsig_memseg {
	uint64_t gpa;		/* first guest-physical address */
	uint64_t len;		/* bytes */
	uint64_t file_off;	/* offset of gpa in the RAM file */
} vmsig_memseg;

/* MEMCTX_INVALIDATED payload: the context before `epoch` is dead. */
typedef struct vmsig_memctx_inv {
	uint32_t endpoint;
	uint32_t epoch;		/* the new epoch */
} vmsig_memctx_inv;

VMSIG_STATIC_ASSERT(sizeof(vmsig_memctx) == 32, "vmsig_memctx is 32 bytes");
VMSIG_STATIC_ASSERT(offsetof(vmsig_memctx, kcr3) == 0, "layout");
VMSIG_STATIC_ASSERT(offsetof(vmsig_memctx, low) == 8, "layout");
VMSIG_STATIC_ASSERT(offsetof(vmsig_memctx, epoch) == 16, "layout");
VMSIG_STATIC_ASSERT(offsetof(vmsig_memctx, nseg) == 20, "layout");
VMSIG_STATIC_ASSERT(offsetof(vmsig_memctx, flags) == 24, "layout");
VMSIG_STATIC_ASSERT(sizeof(vmsig_memseg) == 24, "vmsig_memseg is 24 bytes");
VMSIG_STATIC_ASSERT(sizeof(vmsig_memctx_inv) == 8, "vmsig_memctx_inv is 8 bytes");
VMSIG_STATIC_ASSERT(sizeof(vmsig_memctx) <= VMSIG_EVENT_INLN, "fits inln");

/*
 * The segments of a MEMCTX event.  Pure: no allocation, no ownership
 * transfer; the result points into ev->payload and lives as long as ev.
 * Returns NULL and stores 0 in *ret_nseg (when non-NULL) if the event has no
 * segments (nseg == 0: open by `low`) or its payload is too short for nseg.
 */
static inline const vmsig_memseg *
vmsig_memctx_segs(const vmsig_event *ev, uint32_t *ret_nseg)
{
	const vmsig_memctx *m = (const vmsig_memctx *)(const void *)ev->inln;
	uint32_t n = m->nseg;

	if (n == 0 || ev->payload.data == NULL ||
	    ev->payload.len / sizeof(vmsig_memseg) < n) {
		if (ret_nseg != NULL)
			*ret_nseg = 0;
		return NULL;
	}
	if (ret_nseg != NULL)
		*ret_nseg = n;
	return (const vmsig_memseg *)ev->payload.data;
}

/*
 * The seam between an adapter and the core.  vmsigd keeps one registration
 * per endpoint and no copy of the locator: to deliver or replay a context it
 * calls describe() for the current locator and share_fd() for a fresh
 * O_RDONLY descriptor.  The core owns the epoch: describe() leaves it alone
 * and the core writes its own.  invalidate() asks the adapter to
 * re-bootstrap for the new epoch; the adapter then offers a new context.
 * Every callback runs on the core's loop thread.
 */
typedef struct vmsig_memctx_reg {
	uint32_t endpoint;
	uint32_t source;	/* VMSIG_SRC_MEMCTX */
	void *ctx;		/* the adapter's, passed back to each callback */
	/* Current locator.  *ret_segs is borrowed from the adapter and stays
	 * valid until its next context. */
	void (*describe)(void *ctx, vmsig_memctx *ret_pod,
	    const vmsig_memseg **ret_segs, uint32_t *ret_nseg);
	/* A new O_RDONLY descriptor of the RAM file (the caller closes it),
	 * or -errno. */
	int (*share_fd)(void *ctx);
	/* The epoch moved to `epoch`: drop the old context, make a new one. */
	void (*invalidate)(void *ctx, uint32_t epoch);
} vmsig_memctx_reg;

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* VMSIG_MEMCTX_H */
