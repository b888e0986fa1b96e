/* SPDX-License-Identifier: MIT */
/*
 * The vmsig wire: one protobuf-c Frame per SOCK_SEQPACKET datagram, with its
 * descriptors as SCM_RIGHTS.  Two layers:
 *   fdpass_*  moves one datagram and its descriptors (the only code in the
 *             tree that calls sendmsg/recvmsg with SCM_RIGHTS);
 *   wire_*    packs and strictly unpacks a Frame: bounded allocation,
 *             unknown fields and strings holding NUL refused at every
 *             depth, values checked against the limits below, descriptor
 *             count checked against the frame.
 * Generated names (Vmsig__V1__*) appear only here and in the one file per
 * process that turns frames into its own structures.
 *
 * Runs in: any
 */
#ifndef VMSIG_WIRE_H
#define VMSIG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/memctx.h>

#include "vmsig.pb-c.h"

#define VMSIG_PROTO_VERSION	1u
#define VMSIG_FRAME_MAX		65536u	/* bytes in one datagram */
#define VMSIG_FRAME_MAX_FDS	1u	/* most descriptors any message carries */
#define VMSIG_NAME_MAX		64u	/* Hello.name */
#define VMSIG_MSG_MAX		512u	/* Error.message, reasons, method */
#define VMSIG_SEGS_MAX		64u	/* Locator.segs */
#define VMSIG_SUB_MAX		256u	/* Subscribe.endpoints */
#define VMSIG_WRITE_MAX		16384u	/* MemWrite.data, MemWriteCmd.data */
#define VMSIG_TTL_MAX_MS	60000u	/* LeaseAcquire/Renew.ttl_ms */
#define VMSIG_STATUS_MAX	1024u	/* entries of each StatusReply list */
/* Unpacking one frame may allocate at most this much: a 64 KiB frame of
 * tiny repeated elements cannot turn into megabytes of heap. */
#define VMSIG_DECODE_BUDGET	(256u * 1024u)

typedef Vmsig__V1__Frame wire_frame;

/*
 * Send one datagram of `len` bytes with `nfds` descriptors (0..4), without
 * blocking and without SIGPIPE.  Returns 0, -EAGAIN when the socket buffer is
 * full, -EMSGSIZE, or sendmsg's -errno.  The descriptors stay the caller's.
 */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds,
    unsigned int nfds);

/*
 * Receive one datagram into buf (cap bytes) and up to maxfds (<= 4)
 * descriptors, close-on-exec.  Returns 1 with *ret_len and *ret_nfds, 0 at
 * end of stream, -EAGAIN when nothing is waiting, -EMSGSIZE for a truncated
 * datagram (MSG_TRUNC) and -ETOOMANYREFS for truncated ancillary data
 * (MSG_CTRUNC, more descriptors than maxfds), or recvmsg's -errno.  On
 * every failure each descriptor that arrived has been closed.
 */
int fdpass_recv(int sock, void *buf, size_t cap, int *fds,
    unsigned int maxfds, size_t *ret_len, unsigned int *ret_nfds);

/*
 * The check every receiver of guest RAM makes of a descriptor, whoever
 * vouched for it: open O_RDONLY, not O_PATH (whose access mode also reads
 * as O_RDONLY), a regular file.  Returns 0 and *ret_size (may be NULL),
 * or -EBADF (fd < 0 or unusable), -EACCES (not read-only, or O_PATH),
 * -EINVAL (not a regular file); *ret_why (may be NULL) then says which.
 */
int fdpass_check_rdonly(int fd, uint64_t *ret_size, const char **ret_why);

/* Close `n` descriptors, ignoring -1 entries, and set them to -1. */
void fdpass_close(int *fds, unsigned int n);

/* The bounded allocator a decoded frame lives in.  One per receiver. */
struct wire_arena;

/* Returns a new arena or NULL (ENOMEM). */
struct wire_arena *wire_arena_new(void);
/* Accepts NULL. */
void wire_arena_free(struct wire_arena *a);

/*
 * Decode and check one frame that arrived with `nfds` descriptors.  The
 * frame lives in `a` until the next wire_decode on it.  Returns 0 and
 * *ret_frame, or -EBADMSG (does not decode, unknown fields, a string
 * holding NUL, a value out of its limits, no message), -E2BIG (over the allocation budget), -EPROTO
 * (descriptor count differs from Frame.nfds or from what the message
 * carries).  The descriptors are not touched: the caller closes them on
 * failure.  *ret_why, when non-NULL, names the first check that failed.
 */
int wire_decode(struct wire_arena *a, const void *buf, size_t len,
    unsigned int nfds, wire_frame **ret_frame, const char **ret_why);

/* Number of descriptors a frame of this message must carry (0 or 1). */
unsigned int wire_fds_for(const wire_frame *f);

/*
 * Pack f (with f->nfds set by the caller) into buf.  Returns the packed
 * length, or -EMSGSIZE when it exceeds cap or VMSIG_FRAME_MAX.
 */
int wire_pack(const wire_frame *f, void *buf, size_t cap);

/*
 * The contract's locator on the wire.  Encoding fills *l from pod's kcr3,
 * low and flags and the nseg segments, pointing l at the caller's storage
 * sv and sp (nseg entries each, alive until l is packed).  Decoding fills
 * kcr3, low, flags and nseg of *pod (epoch and _pad untouched) and copies
 * l->n_segs segments into segs, which has room for them (a decoded frame
 * holds at most VMSIG_SEGS_MAX).
 */
void wire_locator_encode(Vmsig__V1__Locator *l, Vmsig__V1__Segment *sv,
    Vmsig__V1__Segment **sp, const vmsig_memctx *pod,
    const vmsig_memseg *segs, uint32_t nseg);
void wire_locator_decode(const Vmsig__V1__Locator *l, vmsig_memctx *pod,
    vmsig_memseg *segs);

/*
 * The two frames every role packs.  Hello{proto_version, role (enum
 * vmsig.v1.Role), name, endpoint, source (enum vmsig.v1.Source)} and
 * Error{code (a positive errno), message}; strings are borrowed.  Return
 * the packed length or -EMSGSIZE.
 */
int wire_pack_hello(void *buf, size_t cap, uint64_t req_id, unsigned int role,
    const char *name, uint32_t endpoint, unsigned int source);
int wire_pack_error(void *buf, size_t cap, uint64_t req_id, int code,
    const char *message);

/* Human name of a frame's message ("hello", "memctx_ready", ...). */
const char *wire_msg_name(const wire_frame *f);

#endif
