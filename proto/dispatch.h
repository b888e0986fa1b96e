/* SPDX-License-Identifier: MIT */
/*
 * One receive path for every role: a receiver describes, in a static const
 * table indexed by its own message type, which messages it accepts and in
 * which state (OpenSSH's monitor table: allowed roles, "once", "after
 * hello"), and dispatch_run enforces those rules before it calls the
 * handler.  A message with no entry, or one its state does not allow, is a
 * protocol error, never silently ignored.
 *
 * Runs in: any
 */
#ifndef VMSIG_DISPATCH_H
#define VMSIG_DISPATCH_H

#include <stdint.h>

/* Bit of dispatch_entry.roles for a connection in role r; role 0 is the
 * state before the handshake completes. */
#define DISPATCH_ROLE(r)	(1u << (r))

/* State rules of one message (dispatch_entry.flags). */
#define DISPATCH_NEEDS_HELLO	0x01u	/* refused before the handshake */
#define DISPATCH_ONCE		0x02u	/* at most once per connection */
#define DISPATCH_REQ_ID		0x04u	/* req_id must be non-zero */
#define DISPATCH_REPLY		0x08u	/* a non-zero req_id must name a
					   request the receiver still awaits */
#define DISPATCH_NO_REQ_ID	0x10u	/* unsolicited: req_id must be 0 */

/* Most message types a table may have: ONCE is a bit per type. */
#define DISPATCH_TYPES_MAX	64u

struct dispatch_entry {
	const char *name;	/* NULL: the type is not accepted at all */
	unsigned int roles;	/* DISPATCH_ROLE() of every role allowed */
	unsigned int flags;	/* DISPATCH_* */
	unsigned int maxfds;	/* descriptors it may carry (the decoder
				   already checked the exact count) */
	/* conn and msg are the receiver's; -errno only for a protocol
	 * violation by the sender. */
	int (*handler)(void *conn, void *msg);
};

struct dispatch_table {
	const struct dispatch_entry *entries;	/* indexed by message type */
	unsigned int n;				/* <= DISPATCH_TYPES_MAX */
	/* For DISPATCH_REPLY: 1 if req_id names a request conn sent and
	 * still waits for, else 0.  NULL: the handler matches replies. */
	int (*outstanding)(void *conn, uint64_t req_id);
};

/* Per connection; zero it at connect.  The receiver sets role when the
 * handshake completes. */
struct dispatch_state {
	unsigned int role;
	uint64_t seen;		/* DISPATCH_ONCE types already received */
};

/*
 * Check message `type` with `req_id` and `nfds` descriptors against the
 * table and the connection's state, then run its handler with conn and
 * msg.  Returns the handler's value, or -EPROTO without calling it when a
 * rule refuses the message; *ret_why (when non-NULL) then says which, in
 * words that follow the message's name ("is not allowed before hello").
 * Does not close descriptors.  Not thread-safe per state.
 */
int dispatch_run(const struct dispatch_table *t, struct dispatch_state *st,
    unsigned int type, uint64_t req_id, unsigned int nfds, void *conn,
    void *msg, const char **ret_why);

/* Name of a message type in t ("message" when t has no entry for it). */
const char *dispatch_name(const struct dispatch_table *t, unsigned int type);

#endif
