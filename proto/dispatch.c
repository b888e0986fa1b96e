/* SPDX-License-Identifier: MIT */
/*
 * The rules of every receiver's dispatch table, enforced in one place: the
 * entry must exist, the role must allow it, ONCE messages come once,
 * requests carry a req_id, replies answer a request, events carry none.
 * Only when all hold does the receiver's handler see the message.
 *
 * Runs in: any
 */
#include <errno.h>
#include <stddef.h>

#include "dispatch.h"

static const struct dispatch_entry *
entry_of(const struct dispatch_table *t, unsigned int type)
{
	if (type >= t->n || type >= DISPATCH_TYPES_MAX ||
	    t->entries[type].name == NULL || t->entries[type].handler == NULL)
		return NULL;
	return &t->entries[type];
}

const char *
dispatch_name(const struct dispatch_table *t, unsigned int type)
{
	const struct dispatch_entry *e = entry_of(t, type);

	return e != NULL ? e->name : "message";
}

/* NULL when the state allows e, else why not. */
static const char *
refusal(const struct dispatch_table *t, const struct dispatch_entry *e,
    const struct dispatch_state *st, unsigned int type, uint64_t req_id,
    unsigned int nfds, void *conn)
{
	if (st->role == 0 && (e->flags & DISPATCH_NEEDS_HELLO))
		return "is not allowed before hello";
	if (st->role >= 32 || !(e->roles & DISPATCH_ROLE(st->role)))
		return st->role == 0 ? "is not allowed before hello" :
		    "is not allowed in this role";
	if ((e->flags & DISPATCH_ONCE) && (st->seen & (1ull << type)))
		return "is allowed only once";
	if ((e->flags & DISPATCH_REQ_ID) && req_id == 0)
		return "carries no req_id";
	if ((e->flags & DISPATCH_NO_REQ_ID) && req_id != 0)
		return "carries a req_id but answers nothing";
	if ((e->flags & DISPATCH_REPLY) && req_id != 0 &&
	    t->outstanding != NULL && !t->outstanding(conn, req_id))
		return "answers no request that was sent";
	if (nfds > e->maxfds)
		return "carries too many descriptors";
	return NULL;
}

int
dispatch_run(const struct dispatch_table *t, struct dispatch_state *st,
    unsigned int type, uint64_t req_id, unsigned int nfds, void *conn,
    void *msg, const char **ret_why)
{
	const struct dispatch_entry *e = entry_of(t, type);
	const char *why;

	if (e == NULL) {
		if (ret_why != NULL)
			*ret_why = "is not a message this receiver accepts";
		return -EPROTO;
	}
	if ((why = refusal(t, e, st, type, req_id, nfds, conn)) != NULL) {
		if (ret_why != NULL)
			*ret_why = why;
		return -EPROTO;
	}
	if (e->flags & DISPATCH_ONCE)
		st->seen |= 1ull << type;
	return e->handler(conn, msg);
}
