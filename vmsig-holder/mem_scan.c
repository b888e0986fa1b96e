/* SPDX-License-Identifier: MIT */
/*
 * Byte-pattern scans, by virtual address (over the page map) and by
 * guest-physical address (over the segments).  Both feed the same matcher
 * contiguous chunks of the mapping; it keeps the last len-1 bytes of a chunk
 * so a hit spanning two chunks that are adjacent in the scanned space (two
 * pages far apart in RAM, two segments) is still found.  Both skip holes of
 * the file (SEEK_DATA/SEEK_HOLE): on tmpfs, reading a hole through a shared
 * mapping allocates the page, and a scan of a sparse guest would then fill
 * the host's memory.  Holes read as zeros but are never scanned.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <vmsig/mem.h>

#include "mem_int.h"

#define PAT_MAX		4096

struct scan {
	const uint8_t *pat, *mask;
	size_t len;
	size_t anchor;		/* a byte fully compared, or len: none */
	vmsig_scan_fn fn;
	void *arg;
	int64_t hits;
	int stop;		/* fn's non-zero value */
	uint64_t tail_end;	/* address just past the tail */
	size_t tail_len;
	uint8_t buf[2 * PAT_MAX];
};

static int
scan_init(struct scan *s, const uint8_t *pat, const uint8_t *mask,
    size_t len, vmsig_scan_fn fn, void *arg)
{
	size_t i;

	if (pat == NULL || fn == NULL || len == 0 || len > PAT_MAX)
		return -EINVAL;
	memset(s, 0, offsetof(struct scan, buf));
	s->pat = pat;
	s->mask = mask;
	s->len = len;
	s->fn = fn;
	s->arg = arg;
	s->anchor = len;
	for (i = 0; i < len && s->anchor == len; i++)
		if (mask == NULL || mask[i] == 0xff)
			s->anchor = i;
	return 0;
}

static inline int
scan_match(const struct scan *s, const uint8_t *p)
{
	size_t i;

	if (s->mask == NULL)
		return memcmp(p, s->pat, s->len) == 0;
	for (i = 0; i < s->len; i++)
		if ((p[i] ^ s->pat[i]) & s->mask[i])
			return 0;
	return 1;
}

static int
scan_hit(struct scan *s, uint64_t addr)
{
	int r;

	s->hits++;
	if ((r = s->fn(s->arg, addr)) != 0)
		s->stop = r;
	return r;
}

/* Hits starting at p[0 .. n - len], p being address addr. */
static int
scan_block(struct scan *s, uint64_t addr, const uint8_t *p, size_t n)
{
	const uint8_t *q, *end;
	size_t k = s->anchor;

	if (n < s->len)
		return 0;
	end = p + (n - s->len);		/* last possible start */
	if (k == s->len) {
		for (q = p; q <= end; q++)
			if (scan_match(s, q) && scan_hit(s, addr + (q - p)))
				return 1;
		return 0;
	}
	for (q = p; q <= end; q++) {
		q = memchr(q + k, s->pat[k], (size_t)(end - q) + 1);
		if (q == NULL)
			break;
		q -= k;
		if (scan_match(s, q) && scan_hit(s, addr + (q - p)))
			return 1;
	}
	return 0;
}

/* Hits that start in the tail and end in the chunk at addr. */
static int
scan_seam(struct scan *s, const uint8_t *p, size_t n)
{
	size_t head = n < s->len - 1 ? n : s->len - 1, i;
	uint64_t at = s->tail_end - s->tail_len;

	memcpy(s->buf + s->tail_len, p, head);
	for (i = 0; i < s->tail_len && i + s->len <= s->tail_len + head; i++)
		if (scan_match(s, s->buf + i) && scan_hit(s, at + i))
			return 1;
	return 0;
}

/* Keep the last len-1 bytes seen, for the next chunk. */
static void
scan_keep(struct scan *s, uint64_t addr, const uint8_t *p, size_t n)
{
	size_t want = s->len - 1, keep;

	if (n >= want) {
		memcpy(s->buf, p + (n - want), want);
		s->tail_len = want;
	} else {
		keep = s->tail_len + n > want ? want - n : s->tail_len;
		memmove(s->buf, s->buf + (s->tail_len - keep), keep);
		memcpy(s->buf + keep, p, n);
		s->tail_len = keep + n;
	}
	s->tail_end = addr + n;
}

/* One chunk: n bytes at p, address addr.  1 when fn stopped the scan. */
static int
scan_feed(struct scan *s, uint64_t addr, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (s->tail_len > 0 && s->tail_end != addr)
		s->tail_len = 0;	/* not adjacent: nothing spans */
	if (s->tail_len > 0 && scan_seam(s, p, n))
		return 1;
	if (scan_block(s, addr, p, n))
		return 1;
	if (s->len > 1)
		scan_keep(s, addr, p, n);
	return 0;
}

/*
 * The data extent of the file at or after `off`: [*ret_start, *ret_end).
 * The last one found is kept, since consecutive pages mostly share it.
 * 0, or -ENXIO when only a hole remains.
 */
static int
scan_extent(struct vmsig_mem *m, uint64_t off, uint64_t *ret_start,
    uint64_t *ret_end)
{
	off_t d, h;

	if (off >= m->ext_start && off < m->ext_end) {
		*ret_start = off;
		*ret_end = m->ext_end;
		return 0;
	}
	d = lseek(m->fd, (off_t)off, SEEK_DATA);
	if (d == -1)
		return -errno;
	h = lseek(m->fd, d, SEEK_HOLE);
	if (h == -1)
		return -errno;
	m->ext_start = (uint64_t)d;
	m->ext_end = (uint64_t)h;
	*ret_start = (uint64_t)d;
	*ret_end = (uint64_t)h;
	return 0;
}

/*
 * Feed the data of guest-physical [gpa, gpa + n), all inside segment sg, as
 * seen at address addr.  1 when stopped, or -errno.
 */
static int
scan_range(struct scan *s, struct vmsig_mem *m, const struct mem_seg *sg,
    uint64_t gpa, uint64_t n, uint64_t addr)
{
	uint64_t off = sg->off + (gpa - sg->gpa), end = off + n, ds = 0, de = 0;
	int r;

	while (off < end) {
		r = scan_extent(m, off, &ds, &de);
		if (r == -ENXIO || (r == 0 && ds >= end))
			break;
		if (r < 0)
			return r;
		if (de > end)
			de = end;
		if (scan_feed(s, addr + (ds - (sg->off + (gpa - sg->gpa))),
		    m->map + ds, de - ds))
			return 1;
		off = de;
	}
	return 0;
}

/* Guest-physical [gpa, gpa + n) seen at addr, across segments. */
static int
scan_phys(struct scan *s, struct vmsig_mem *m, uint64_t gpa, uint64_t n,
    uint64_t addr)
{
	const struct mem_seg *sg;
	uint64_t done = 0, k;
	int r;

	while (done < n) {
		sg = mem_seg_lookup(m, gpa + done);
		if (sg == NULL) {	/* not RAM: skip to the next segment */
			k = 4096 - ((gpa + done) & 4095);
			done += k < n - done ? k : n - done;
			continue;
		}
		k = sg->len - (gpa + done - sg->gpa);
		if (k > n - done)
			k = n - done;
		if ((r = scan_range(s, m, sg, gpa + done, k, addr + done)) != 0)
			return r;
		done += k;
	}
	return 0;
}

struct scan_va_ctx {
	struct scan *s;
	struct vmsig_mem *m;
	int err;
};

static int
scan_va_run(void *arg, const struct vmsig_map_range *run)
{
	struct scan_va_ctx *c = arg;
	int r;

	r = scan_phys(c->s, c->m, run->gpa, run->size, run->va);
	if (r < 0)
		c->err = r;
	return r != 0;
}

static int64_t
scan_result(const struct scan *s)
{
	if (s->stop < 0)
		return s->stop;
	return s->hits;
}

int64_t
vmsig_mem_scan_va(struct vmsig_mem *mem, uint64_t cr3, uint64_t va_start,
    uint64_t va_end, const uint8_t *pattern, const uint8_t *mask, size_t len,
    vmsig_scan_fn fn, void *arg)
{
	struct scan_va_ctx c;
	struct scan s;
	int r;

	if (mem == NULL)
		return -EINVAL;
	if ((r = scan_init(&s, pattern, mask, len, fn, arg)) < 0)
		return r;
	c = (struct scan_va_ctx){ .s = &s, .m = mem };
	r = vmsig_mem_pmap(mem, cr3, va_start, va_end, scan_va_run, &c);
	if (c.err < 0)
		return c.err;
	if (r < 0 && s.stop == 0)
		return r;
	return scan_result(&s);
}

int64_t
vmsig_mem_scan_pa(struct vmsig_mem *mem, uint64_t pa_start, uint64_t pa_end,
    const uint8_t *pattern, const uint8_t *mask, size_t len,
    vmsig_scan_fn fn, void *arg)
{
	struct scan s;
	uint32_t i;
	int r;

	if (mem == NULL || (pa_end != 0 && pa_end <= pa_start))
		return -EINVAL;
	if ((r = scan_init(&s, pattern, mask, len, fn, arg)) < 0)
		return r;
	for (i = 0; i < mem->nseg; i++) {
		const struct mem_seg *sg = &mem->segs[i];
		uint64_t lo = sg->gpa, hi = sg->gpa + sg->len;

		if (lo < pa_start)
			lo = pa_start;
		if (pa_end != 0 && hi > pa_end)
			hi = pa_end;
		if (lo >= hi)
			continue;
		r = scan_range(&s, mem, sg, lo, hi - lo, lo);
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	return scan_result(&s);
}
