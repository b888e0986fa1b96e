/* SPDX-License-Identifier: MIT */
/*
 * Leased writes from the holder's side.  The helper writes only ranges that
 * lie inside one segment of the RAM file and the wire carries at most
 * VMSIG_WRITE_MAX bytes, so a write is cut here into pieces that end at
 * every 4 KiB page boundary and every segment boundary of the tracked
 * context, each sent as one MemWrite for the tracker's current epoch.  A
 * write by virtual address is translated page by page through the same
 * read-only context.  After each piece lands, this holder's own
 * translation cache forgets what the bytes may have changed, without
 * waiting for the MEMWRITTEN event.
 *
 * Runs in: holder
 */
#include <errno.h>

#include <vmsig/mem.h>

#include "holder_int.h"
/* The segment table of the tracked context: mem.h has no accessor for it,
 * and the split must follow the very table the helper checks against. */
#include "mem_int.h"

/* One write, as the caller stated it. */
struct write_op {
	uint32_t endpoint;
	uint32_t epoch;
	uint64_t lease_id;
	int timeout_ms;
	struct vmsig_mem *mem;
};

_Static_assert(VMSIG_PAGE_4K <= VMSIG_WRITE_MAX, "a page fits one MemWrite");

/* Bytes from gpa to the next page or segment boundary, at most left. */
static size_t
piece_len(const struct vmsig_mem *mem, uint64_t gpa, size_t left)
{
	const struct mem_seg *s;
	uint64_t n;

	n = VMSIG_PAGE_4K - (gpa & (VMSIG_PAGE_4K - 1));
	if (n > left)
		n = left;
	/* Outside every segment the piece still goes: the helper's EFAULT
	 * is the answer the caller should see. */
	s = mem_seg_lookup(mem, gpa);
	if (s != NULL && n > s->len - (gpa - s->gpa))
		n = s->len - (gpa - s->gpa);
	return (size_t)n;
}

/* One MemWrite of at most a page.  Returns the bytes written or -errno. */
static int
write_piece(struct vmsig_holder *h, const struct write_op *op, uint64_t gpa,
    const void *data, size_t len)
{
	struct holder_req req = { .kind = HOLDER_REQ_MEM_WRITE };
	struct holder_msg m;
	int r;

	req.endpoint = op->endpoint;
	req.epoch = op->epoch;
	req.lease_id = op->lease_id;
	req.gpa = gpa;
	req.data = data;
	req.len = len;
	if ((r = holder_io_request(h, &req, op->timeout_ms, &m)) < 0)
		return r;
	if (m.kind != HOLDER_MSG_WRITE_DONE || m.written > len) {
		holder_msg_clear(&m);
		holder_io_fail(h, -EPROTO);
		return -EPROTO;
	}
	vmsig_mem_flush_gpa(op->mem, gpa, m.written);
	/* A short pwrite on the helper's side: nothing to retry blindly. */
	return m.written < len ? -EIO : (int)m.written;
}

/* Write [gpa, gpa+len) piece by piece, counting what landed in *done. */
static int
write_range(struct vmsig_holder *h, const struct write_op *op, uint64_t gpa,
    const unsigned char *p, size_t len, size_t *done)
{
	size_t n;
	int r;

	while (len > 0) {
		n = piece_len(op->mem, gpa, len);
		if ((r = write_piece(h, op, gpa, p, n)) < 0)
			return r;
		*done += n;
		gpa += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int
write_begin(struct vmsig_holder *h, uint32_t endpoint, uint64_t lease_id,
    int timeout_ms, struct write_op *op)
{
	h->error[0] = '\0';
	if (h->dead != 0)
		return h->dead;
	op->endpoint = endpoint;
	op->lease_id = lease_id;
	op->timeout_ms = timeout_ms;
	op->mem = vmsig_holder_mem(h, endpoint, &op->epoch, NULL);
	/* No live context: whatever epoch we named would be refused. */
	return op->mem != NULL ? 0 : -ESTALE;
}

/*
 * *ret_written is set on failure too, unlike most ret_ parameters: pieces
 * before the failing one are in guest RAM, and a caller must know how many
 * bytes that is (vmsig_mem_read_pa's ret_done does the same).
 */
int
vmsig_holder_write_pa(struct vmsig_holder *h, uint32_t endpoint,
    uint64_t lease_id, uint64_t gpa, const void *buf, size_t len,
    int timeout_ms, size_t *ret_written)
{
	struct write_op op;
	size_t done = 0;
	int r;

	if (ret_written != NULL)
		*ret_written = 0;
	if (h == NULL || (buf == NULL && len > 0) || gpa + len < gpa)
		return -EINVAL;
	if ((r = write_begin(h, endpoint, lease_id, timeout_ms, &op)) < 0)
		return r;
	r = write_range(h, &op, gpa, buf, len, &done);
	if (ret_written != NULL)
		*ret_written = done;
	return r;
}

int
vmsig_holder_write_va(struct vmsig_holder *h, uint32_t endpoint,
    uint64_t lease_id, uint64_t cr3, uint64_t va, const void *buf,
    size_t len, int timeout_ms, size_t *ret_written)
{
	const unsigned char *p = buf;
	struct vmsig_xlat x;
	struct write_op op;
	size_t done = 0, n;
	int r = 0;

	if (ret_written != NULL)
		*ret_written = 0;
	if (h == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if ((r = write_begin(h, endpoint, lease_id, timeout_ms, &op)) < 0)
		return r;
	while (len > 0) {
		/* Each page is translated just before it is written, so a
		 * page-table entry rewritten by an earlier piece is seen. */
		if ((r = vmsig_mem_translate(op.mem, cr3, va, &x)) < 0) {
			/* Only the start may be non-canonical; running off
			 * the half is a fault, as for vmsig_mem_read_va. */
			if (r == -EINVAL && done > 0)
				r = -EFAULT;
			break;
		}
		n = VMSIG_PAGE_4K - (va & (VMSIG_PAGE_4K - 1));
		if (n > len)
			n = len;
		if ((r = write_range(h, &op, x.gpa, p, n, &done)) < 0)
			break;
		va += n;
		p += n;
		len -= n;
		if (va == 0 && len > 0) {
			r = -EFAULT;	/* wrapped past the top */
			break;
		}
	}
	if (ret_written != NULL)
		*ret_written = done;
	return r;
}
