/* SPDX-License-Identifier: MIT */
/*
 * Strict decoding and packing of vmsig Frames.
 *
 * protobuf-c is permissive by design: it keeps unknown fields, and 1.4.1
 * reads an over-long tag varint as field 0 and keeps it as unknown too.  We
 * accept exactly the schema: any unknown field at any depth refuses the
 * frame.  Unpacking draws from a bump arena with a fixed budget, so the
 * memory one frame can cost is bounded whatever its shape.  After
 * protobuf_c_message_check, every value with a limit is checked here, once,
 * for both sides of every socket.
 *
 * Runs in: any
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

struct wire_arena {
	ProtobufCAllocator pa;
	size_t used;
	int over;
	alignas(max_align_t) unsigned char mem[VMSIG_DECODE_BUDGET];
};

static void *
arena_alloc(void *data, size_t size)
{
	struct wire_arena *a = data;
	size_t off = (a->used + 15) & ~(size_t)15;

	if (size > sizeof(a->mem) || off > sizeof(a->mem) - size) {
		a->over = 1;
		return NULL;
	}
	a->used = off + size;
	return a->mem + off;
}

/* Everything is released at once by the next decode. */
static void
arena_release(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

struct wire_arena *
wire_arena_new(void)
{
	struct wire_arena *a = malloc(sizeof(*a));

	if (a == NULL)
		return NULL;
	a->pa.alloc = arena_alloc;
	a->pa.free = arena_release;
	a->pa.allocator_data = a;
	a->used = 0;
	a->over = 0;
	return a;
}

void
wire_arena_free(struct wire_arena *a)
{
	free(a);
}

/* Any unknown field, in m or in any message it contains, refuses m. */
static int
has_unknown(const ProtobufCMessage *m, unsigned int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned int i;

	if (m->n_unknown_fields > 0 || depth > 8)
		return 1;
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
			    *(ProtobufCMessage *const *const *)(base + f->offset);
			size_t k;

			for (k = 0; k < n; k++)
				if (v[k] != NULL && has_unknown(v[k], depth + 1))
					return 1;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t c = *(const uint32_t *)(base + f->quantifier_offset);

			if (c != f->id)
				continue;
		}
		{
			const ProtobufCMessage *sub =
			    *(const ProtobufCMessage *const *)(base + f->offset);

			if (sub != NULL && has_unknown(sub, depth + 1))
				return 1;
		}
	}
	return 0;
}

static int
str_ok(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

static int
locator_ok(const Vmsig__V1__Locator *l)
{
	size_t i;

	if (l == NULL || l->n_segs > VMSIG_SEGS_MAX)
		return 0;
	for (i = 0; i < l->n_segs; i++) {
		const Vmsig__V1__Segment *s = l->segs[i];

		if (s == NULL || s->len == 0 || s->gpa + s->len < s->gpa ||
		    s->file_off + s->len < s->file_off)
			return 0;
	}
	return 1;
}

static int
event_ok(const Vmsig__V1__Event *e)
{
	switch (e->body_case) {
	case VMSIG__V1__EVENT__BODY_MEMCTX:
		return e->type == VMSIG__V1__EVENT_TYPE__EVENT_MEMCTX &&
		    locator_ok(e->memctx->loc);
	case VMSIG__V1__EVENT__BODY_INVALIDATED:
		return e->type == VMSIG__V1__EVENT_TYPE__EVENT_MEMCTX_INVALIDATED;
	case VMSIG__V1__EVENT__BODY_WRITTEN:
		return e->type == VMSIG__V1__EVENT_TYPE__EVENT_MEMWRITTEN;
	case VMSIG__V1__EVENT__BODY_LEASE_LOST:
		return e->type == VMSIG__V1__EVENT_TYPE__EVENT_LEASE_LOST;
	case VMSIG__V1__EVENT__BODY_GONE:
		return e->type == VMSIG__V1__EVENT_TYPE__EVENT_ENDPOINT_GONE;
	default:
		return 0;
	}
}

/* Read one varint; 0 when it runs past end or over 10 bytes. */
static int
varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < 10 && *p < end; i++) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*ret = v;
			return 1;
		}
	}
	return 0;
}

/*
 * 1 if a string field of message type d, at any depth, holds a NUL (or the
 * bytes do not parse, which protobuf-c has already ruled out).  protobuf-c
 * hands strings over NUL-terminated, so "adm\0in" would arrive as "adm":
 * we look at the bytes on the wire instead.
 */
static int
string_has_nul(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    const uint8_t *end, unsigned int depth)
{
	const ProtobufCFieldDescriptor *f;
	uint64_t key, len;

	while (p < end) {
		if (!varint(&p, end, &key))
			return 1;
		switch (key & 7) {
		case 0:
			if (!varint(&p, end, &len))
				return 1;
			continue;
		case 1:
		case 5:
			len = (key & 7) == 1 ? 8 : 4;
			if ((uint64_t)(end - p) < len)
				return 1;
			p += len;
			continue;
		case 2:
			break;
		default:
			return 1;
		}
		if (!varint(&p, end, &len) || len > (uint64_t)(end - p))
			return 1;
		f = key >> 3 <= UINT32_MAX ?
		    protobuf_c_message_descriptor_get_field(d,
		    (unsigned int)(key >> 3)) : NULL;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
		    memchr(p, 0, (size_t)len) != NULL)
			return 1;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    (depth > 8 || string_has_nul(f->descriptor, p, p + len,
		    depth + 1)))
			return 1;
		p += len;
	}
	return 0;
}

/* Limits that hold whoever sends the message.  Role and state are the
 * receiver's business (its dispatch table). */
static const char *
check_values(const wire_frame *f)
{
	switch (f->msg_case) {
	case VMSIG__V1__FRAME__MSG_HELLO:
		return str_ok(f->hello->name, VMSIG_NAME_MAX) ? NULL :
		    "hello.name too long";
	case VMSIG__V1__FRAME__MSG_ERROR:
		return str_ok(f->error->message, VMSIG_MSG_MAX) ? NULL :
		    "error.message too long";
	case VMSIG__V1__FRAME__MSG_SUBSCRIBE:
		return f->subscribe->n_endpoints <= VMSIG_SUB_MAX ? NULL :
		    "subscribe: too many endpoints";
	case VMSIG__V1__FRAME__MSG_EVENT:
		return event_ok(f->event) ? NULL : "event: bad body";
	case VMSIG__V1__FRAME__MSG_MEM_WRITE:
		return f->mem_write->data.len > 0 &&
		    f->mem_write->data.len <= VMSIG_WRITE_MAX ? NULL :
		    "mem_write: data length";
	case VMSIG__V1__FRAME__MSG_MEM_WRITE_CMD:
		return f->mem_write_cmd->data.len > 0 &&
		    f->mem_write_cmd->data.len <= VMSIG_WRITE_MAX ? NULL :
		    "mem_write_cmd: data length";
	case VMSIG__V1__FRAME__MSG_MEMCTX_READY:
		return locator_ok(f->memctx_ready->loc) &&
		    str_ok(f->memctx_ready->method, VMSIG_NAME_MAX) ? NULL :
		    "memctx_ready: bad locator";
	case VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST:
		return str_ok(f->invalidate_request->reason, VMSIG_MSG_MAX) ?
		    NULL : "invalidate_request: reason too long";
	case VMSIG__V1__FRAME__MSG_STATUS_REPLY:
		return f->status_reply->n_endpoints <= VMSIG_STATUS_MAX &&
		    f->status_reply->n_peers <= VMSIG_STATUS_MAX ? NULL :
		    "status_reply: too many entries";
	case VMSIG__V1__FRAME__MSG__NOT_SET:
		return "frame carries no message";
	default:
		return NULL;
	}
}

unsigned int
wire_fds_for(const wire_frame *f)
{
	if (f->msg_case == VMSIG__V1__FRAME__MSG_MEMCTX_READY)
		return 1;
	if (f->msg_case == VMSIG__V1__FRAME__MSG_EVENT &&
	    f->event->body_case == VMSIG__V1__EVENT__BODY_MEMCTX)
		return 1;
	return 0;
}

int
wire_decode(struct wire_arena *a, const void *buf, size_t len,
    unsigned int nfds, wire_frame **ret_frame, const char **ret_why)
{
	wire_frame *f;
	const char *why;

	a->used = 0;
	a->over = 0;
	if (len > VMSIG_FRAME_MAX) {
		why = "frame too long";
		goto bad;
	}
	f = vmsig__v1__frame__unpack(&a->pa, len, buf);
	if (f == NULL) {
		if (ret_why != NULL)
			*ret_why = a->over ? "frame over the decode budget" :
			    "frame does not decode";
		return a->over ? -E2BIG : -EBADMSG;
	}
	if (has_unknown(&f->base, 0)) {
		why = "unknown field";
		goto bad;
	}
	if (!protobuf_c_message_check(&f->base)) {
		why = "frame fails protobuf_c_message_check";
		goto bad;
	}
	if ((why = check_values(f)) != NULL)
		goto bad;
	if (string_has_nul(&vmsig__v1__frame__descriptor, buf,
	    (const uint8_t *)buf + len, 0)) {
		why = "a string contains NUL";
		goto bad;
	}
	if (f->nfds != nfds || wire_fds_for(f) != nfds) {
		if (ret_why != NULL)
			*ret_why = "descriptor count does not match the frame";
		return -EPROTO;
	}
	*ret_frame = f;
	return 0;
bad:
	if (ret_why != NULL)
		*ret_why = why;
	return -EBADMSG;
}

int
wire_pack(const wire_frame *f, void *buf, size_t cap)
{
	size_t n = vmsig__v1__frame__get_packed_size(f);

	if (n > cap || n > VMSIG_FRAME_MAX)
		return -EMSGSIZE;
	return (int)vmsig__v1__frame__pack(f, buf);
}

int
wire_pack_hello(void *buf, size_t cap, uint64_t req_id, unsigned int role,
    const char *name, uint32_t endpoint, unsigned int source)
{
	wire_frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = (Vmsig__V1__Role)role;
	h.name = (char *)(uintptr_t)name;
	h.endpoint = endpoint;
	h.source = (Vmsig__V1__Source)source;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	return wire_pack(&f, buf, cap);
}

int
wire_pack_error(void *buf, size_t cap, uint64_t req_id, int code,
    const char *message)
{
	wire_frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Error e = VMSIG__V1__ERROR__INIT;

	e.code = (uint32_t)code;
	e.message = (char *)(uintptr_t)message;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_ERROR;
	f.error = &e;
	return wire_pack(&f, buf, cap);
}

const char *
wire_msg_name(const wire_frame *f)
{
	const ProtobufCFieldDescriptor *d;

	d = protobuf_c_message_descriptor_get_field(&vmsig__v1__frame__descriptor,
	    (unsigned int)f->msg_case);
	return d != NULL ? d->name : "none";
}

void
wire_locator_encode(Vmsig__V1__Locator *l, Vmsig__V1__Segment *sv,
    Vmsig__V1__Segment **sp, const vmsig_memctx *pod,
    const vmsig_memseg *segs, uint32_t nseg)
{
	uint32_t i;

	l->kcr3 = pod->kcr3;
	l->low = pod->low;
	l->flags = pod->flags;
	for (i = 0; i < nseg; i++) {
		vmsig__v1__segment__init(&sv[i]);
		sv[i].gpa = segs[i].gpa;
		sv[i].len = segs[i].len;
		sv[i].file_off = segs[i].file_off;
		sp[i] = &sv[i];
	}
	l->n_segs = nseg;
	l->segs = nseg > 0 ? sp : NULL;
}

void
wire_locator_decode(const Vmsig__V1__Locator *l, vmsig_memctx *pod,
    vmsig_memseg *segs)
{
	size_t i;

	pod->kcr3 = l->kcr3;
	pod->low = l->low;
	pod->flags = l->flags;
	pod->nseg = (uint32_t)l->n_segs;
	for (i = 0; i < l->n_segs; i++) {
		segs[i].gpa = l->segs[i]->gpa;
		segs[i].len = l->segs[i]->len;
		segs[i].file_off = l->segs[i]->file_off;
	}
}
