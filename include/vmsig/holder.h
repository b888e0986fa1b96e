/* SPDX-License-Identifier: MIT */
/*
 * libvmsig-holder: a holder's connection to vmsigd.
 *
 * Open a connection, subscribe, then pull events with vmsig_holder_next()
 * whenever vmsig_holder_fd() polls readable (or block in next() with a
 * timeout).  The library keeps, per endpoint, the live read-only memory
 * context of the current epoch (the context tracker): it opens the context
 * when MEMCTX arrives and closes it when MEMCTX_INVALIDATED arrives, so
 * vmsig_holder_mem() never hands out a context whose epoch has ended.
 *
 * Every function returns 0 (or a positive value where stated) on success
 * and a negative errno value on failure.  A connection is not thread-safe.
 *
 * Runs in: holder
 */
#ifndef VMSIG_HOLDER_H
#define VMSIG_HOLDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmsig/event.h>
#include <vmsig/memctx.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct vmsig_holder;
struct vmsig_mem;

/* Default holder socket of vmsigd. */
#define VMSIG_HOLDER_SOCKET	"/run/vmsig/holder.sock"

/*
 * Connect to the holder socket at `path` (NULL: VMSIG_HOLDER_SOCKET) and
 * complete the handshake, naming this holder `name` (NULL: the program's
 * name; at most 64 bytes) for the daemon's Status.  Waits at most
 * timeout_ms (< 0: 5000) for the Welcome.
 * Returns 0 and *ret_h, or -ENOENT/-ECONNREFUSED (no daemon), -EACCES,
 * -ETIMEDOUT, -EPROTO (unexpected reply), or -errno of the refusal the
 * daemon sent (its message: vmsig_holder_error()).
 */
int vmsig_holder_open(const char *path, const char *name, int timeout_ms,
    struct vmsig_holder **ret_h);

/* Close the connection, every tracked context and every queued event.
 * Accepts NULL. */
void vmsig_holder_close(struct vmsig_holder *h);

/* The descriptor to poll for POLLIN; owned by h. */
int vmsig_holder_fd(const struct vmsig_holder *h);

/*
 * Events already received and queued for vmsig_holder_next() (they arrived
 * while subscribe/status waited for a reply).  The fd does not poll
 * readable for them: drain with vmsig_holder_next(h, 0, ...) while this is
 * non-zero before polling.
 */
size_t vmsig_holder_pending(const struct vmsig_holder *h);

/* This connection's peer id (from Welcome). */
uint32_t vmsig_holder_peer_id(const struct vmsig_holder *h);

/*
 * The message of the last Error the daemon sent, or "" (owned by h).
 * With h == NULL: the message of the Error that refused the calling
 * thread's last failed vmsig_holder_open(), or "" (thread-local storage,
 * valid until the thread's next vmsig_holder_open()).
 */
const char *vmsig_holder_error(const struct vmsig_holder *h);

/*
 * Subscribe to `nendpoints` endpoints (0: all, now and later) and the
 * event types in event_mask (VMSIG_EV_BIT(type) bits; 0: all).  Waits for
 * the daemon's Ack (at most timeout_ms, < 0: 5000); events that arrive
 * meanwhile are queued for next().  The replay of retained contexts follows
 * as ordinary events.  Returns 0, -EINVAL, -ETIMEDOUT, -EPIPE (connection
 * lost), or -errno of the daemon's refusal (e.g. -EPERM).
 */
int vmsig_holder_subscribe(struct vmsig_holder *h, const uint32_t *endpoints,
    size_t nendpoints, uint32_t event_mask, int timeout_ms);

/* Stop receiving events.  Returns as vmsig_holder_subscribe(). */
int vmsig_holder_unsubscribe(struct vmsig_holder *h, int timeout_ms);

/*
 * The next event, waiting at most timeout_ms (0: do not wait, < 0: forever).
 * Returns 1 and *ret_ev (the caller frees it with vmsig_event_free), 0 on
 * timeout, -EPIPE when the daemon closed the connection, -EPROTO when it
 * broke the protocol (the connection is then unusable), or -errno.
 * Before returning a MEMCTX or MEMCTX_INVALIDATED event the tracker has
 * already updated vmsig_holder_mem() for its endpoint.
 */
int vmsig_holder_next(struct vmsig_holder *h, int timeout_ms,
    vmsig_event **ret_ev);

/*
 * Free an event: its payload and, unless taken, its descriptor.
 * Accepts NULL.
 */
void vmsig_event_free(vmsig_event *ev);

/*
 * Take the event's descriptor: the caller owns it from now on (and must
 * close it); the event no longer does.  Returns the descriptor, or -EBADF
 * when the event carries none (or it was taken already).
 */
int vmsig_event_take_fd(vmsig_event *ev);

/* Human name of an event type ("MEMCTX", ...), or "UNKNOWN". */
const char *vmsig_event_type_name(uint32_t type);

/*
 * The tracked memory context of `endpoint`'s current epoch, or NULL when
 * there is none (no MEMCTX yet, or invalidated and not yet renewed).  Owned
 * by h: valid until the next vmsig_holder_next() or vmsig_holder_close().
 * *ret_epoch and *ret_kcr3 (when non-NULL) receive its epoch and kcr3.
 */
struct vmsig_mem *vmsig_holder_mem(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t *ret_epoch, uint64_t *ret_kcr3);

/*
 * The tracked Windows context (vmsig/win.h) of `endpoint`'s current epoch:
 * opened on the first call of the epoch over vmsig_holder_mem()'s context
 * and kcr3, closed with that context when the epoch ends, opened again for
 * the next one.  Owned by h, valid as long as vmsig_holder_mem()'s.
 * Returns it, or NULL with *ret_err (when non-NULL) set to -ENOENT (no
 * context this epoch) or vmsig_win_open()'s error.  That error is kept and
 * returned again until a retry is due (0.5 s after the first failure,
 * doubling to 30 s): a guest still booting validates later in the same
 * epoch, and one that is not Windows is not scanned on every call.
 * *ret_epoch (when non-NULL) receives the epoch on success.
 */
struct vmsig_win;
struct vmsig_win *vmsig_holder_win(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t *ret_epoch, int *ret_err);

/*
 * The MEMWRITE lease: the exclusive right to write one endpoint's guest RAM
 * (through vmsig_holder_write_pa/_va), granted by the daemon to holders its
 * "writers" policy admits, bound to the epoch it was granted in, for ttl_ms
 * (1..60000) at a time.  It ends on release, when its time runs out without
 * a renewal, when the endpoint's epoch changes or its helper leaves, and
 * when this connection closes.  Except on release and close, the daemon
 * says so with a LEASE_LOST event (vmsig_lease_lost: lease_id, reason
 * EXPIRED, EPOCH or ENDPOINT_GONE) delivered by vmsig_holder_next().
 * Each call waits at most timeout_ms (< 0: 5000) for the answer; events
 * arriving meanwhile are queued for next().  A refusal returns -code with
 * the daemon's message in vmsig_holder_error(h).
 */
#define VMSIG_LEASE_TTL_MAX_MS	60000u

/*
 * Acquire the lease of `endpoint` for ttl_ms.  Returns 0, *ret_lease_id
 * (never 0) and, when ret_expires_ms is non-NULL, the expiry in vmsigd's
 * CLOCK_MONOTONIC milliseconds (the same clock as this host's).  Returns
 * -EINVAL (NULL h or ret_lease_id, endpoint 0, ttl_ms out of range),
 * -EBUSY (another holder has it; the message names it and the time left),
 * -EPERM (the writers rule does not admit this uid; the message names the
 * rule), -ENOENT (the endpoint has no context now), -ETIMEDOUT, -EPIPE,
 * -EPROTO.
 */
int vmsig_holder_lease_acquire(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t ttl_ms, int timeout_ms, uint64_t *ret_lease_id,
    uint64_t *ret_expires_ms);

/*
 * Extend a lease this connection holds to ttl_ms from now.  Returns 0 and
 * *ret_expires_ms (when non-NULL), -EINVAL (NULL h, lease_id 0, ttl_ms out
 * of range), -ENOENT (no such lease: it ended), -ETIMEDOUT, -EPIPE,
 * -EPROTO.
 */
int vmsig_holder_lease_renew(struct vmsig_holder *h, uint64_t lease_id,
    uint32_t ttl_ms, int timeout_ms, uint64_t *ret_expires_ms);

/*
 * Give a lease back (no LEASE_LOST follows).  Returns 0, -EINVAL, -ENOENT
 * (no such lease: it ended already), -ETIMEDOUT, -EPIPE, -EPROTO.
 */
int vmsig_holder_lease_release(struct vmsig_holder *h, uint64_t lease_id,
    int timeout_ms);

/*
 * Write `len` bytes from `buf` into guest RAM at guest-physical `gpa`
 * under lease_id, for the epoch of the context the tracker holds for
 * `endpoint` now (call vmsig_holder_next() to keep it current).  The write
 * is cut at every 4 KiB page boundary and every segment boundary of that
 * context; each piece is one MemWrite the daemon checks (lease, epoch) and
 * the helper performs (bounds, --writable).  Pieces land in order; the
 * write as a whole is not atomic, to the guest or to other holders, and
 * each piece is announced to subscribers by a MEMWRITTEN event.  This
 * holder's own translation cache drops what each piece may have changed
 * at once.  timeout_ms (< 0: 5000) bounds each piece's round trip.
 * *ret_written (when non-NULL) is always set, on failure too: the bytes
 * that landed before the failing piece.
 * Returns 0, -EINVAL (NULL h, NULL buf with len > 0, gpa + len wraps),
 * -ESTALE (no live context for the endpoint, or its epoch ended before the
 * write arrived), -EPERM (lease_id is not this connection's lease of the
 * endpoint), -EFAULT (a byte outside guest RAM: past the end or in a
 * hole), -EROFS (the helper was not started with --writable), -EIO (the
 * helper is unreachable or wrote short), -ETIMEDOUT, -EPIPE, -EPROTO.
 * Errors from the daemon or the helper keep their message in
 * vmsig_holder_error(h).  Pass len 0 to check nothing and write nothing.
 */
int vmsig_holder_write_pa(struct vmsig_holder *h, uint32_t endpoint,
    uint64_t lease_id, uint64_t gpa, const void *buf, size_t len,
    int timeout_ms, size_t *ret_written);

/*
 * As vmsig_holder_write_pa(), at virtual address `va` under the page-table
 * root `cr3`: each 4 KiB virtual page is translated through the holder's
 * own read-only context (vmsig_holder_mem()) just before its bytes are
 * written.  The translation and the write are not atomic with respect to
 * the guest: a guest running meanwhile may remap the page between the two,
 * and the bytes then land in the frame the page had at translation time.
 * Also returns -EINVAL for a non-canonical va and -EFAULT when a page does
 * not translate (not present, tables outside RAM) or the range runs off
 * the canonical half it began in; *ret_written counts as above.
 */
int vmsig_holder_write_va(struct vmsig_holder *h, uint32_t endpoint,
    uint64_t lease_id, uint64_t cr3, uint64_t va, const void *buf,
    size_t len, int timeout_ms, size_t *ret_written);

/* Daemon status, flattened for callers (vmsigctl status). */
struct vmsig_status_endpoint {
	uint32_t endpoint, epoch;
	int has_context;
	uint32_t adapter_peer;
	pid_t adapter_pid;
	vmsig_memctx ctx;		/* kcr3, low, nseg, flags (epoch too) */
	vmsig_memseg *segs;		/* ctx.nseg entries */
	char method[65];
	uint64_t lease_id;
	uint32_t lease_peer;
	uint64_t lease_expires_ms;
	uint64_t events, invalidations;
	/* Added after 0.x: the name its helper gave (vmsig-memctx --name),
	 * "" if unnamed or from an older vmsigd.  Last, so the struct only
	 * grows. */
	char name[65];
};
struct vmsig_status_peer {
	uint32_t peer_id;
	uint32_t role;			/* 1 holder, 2 adapter */
	char name[65];
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint32_t endpoint;
	int subscribed;
	uint32_t queued;
	uint64_t sent;
	char rule[97];			/* the policy entry that admitted it */
};
struct vmsig_status {
	pid_t pid;
	uid_t uid;
	uint64_t uptime_ms;
	uint64_t protocol_errors, slow_holders, refused_fds;
	size_t nendpoints;
	struct vmsig_status_endpoint *endpoints;
	size_t npeers;
	struct vmsig_status_peer *peers;
};

/*
 * Ask the daemon for its status (waits at most timeout_ms, < 0: 5000).
 * Returns 0 and *ret_st (free with vmsig_status_free), -ETIMEDOUT, -EPIPE,
 * -ENOMEM, or -errno of a refusal.
 */
int vmsig_holder_status(struct vmsig_holder *h, int timeout_ms,
    struct vmsig_status **ret_st);

/* Accepts NULL. */
void vmsig_status_free(struct vmsig_status *st);

/*
 * The number of the endpoint named `name` (vmsig-memctx --name, e.g. a
 * libvirt domain name), asked of the daemon with one Status request (waits
 * at most timeout_ms, < 0: 5000).  Names are unique among the endpoints
 * vmsigd knows and compared byte for byte.  Returns 0 and *ret_endpoint,
 * -ENOENT when no endpoint has that name now, -EINVAL (h, name or
 * ret_endpoint NULL, name "" or longer than 64 bytes), or an error of
 * vmsig_holder_status().  *ret_endpoint is written only on success.
 */
int vmsig_holder_endpoint_find(struct vmsig_holder *h, const char *name,
    int timeout_ms, uint32_t *ret_endpoint);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* VMSIG_HOLDER_H */
