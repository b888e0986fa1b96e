/* SPDX-License-Identifier: MIT */
/*
 * A pure parser of QEMU's flattened memory tree (`info mtree -f`, HMP
 * text): which guest-physical ranges of the address space "memory" map to
 * the RAM backend, and at which offsets into it.  The text is a series of
 * FlatView blocks; each lists the address spaces it renders (` AS "memory",
 * root: system`) and then one line per range:
 *
 *   0000000000100000-00000000bfffffff (prio 0, ram): ram0 @0000000000100000
 *
 * (end inclusive, offset 0 when absent).  The block is chosen by the name
 * of the address space, never by its FlatView number, which changes with
 * the machine and the QEMU version.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "daemon.h"

struct cursor {
	const char *p, *end;
};

/* The next line without its \r\n; 0 at the end of the text. */
static int
next_line(struct cursor *c, const char **ret, size_t *ret_len)
{
	const char *nl;
	size_t n;

	if (c->p >= c->end)
		return 0;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	n = nl != NULL ? (size_t)(nl - c->p) : (size_t)(c->end - c->p);
	*ret = c->p;
	c->p += n + (nl != NULL);
	if (n > 0 && (*ret)[n - 1] == '\r')
		n--;
	*ret_len = n;
	return 1;
}

static int
starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(s, prefix, k) == 0;
}

/* Exactly `digits` hex digits at *s (16 in QEMU's output). */
static int
hex(const char **s, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned int n = 0, d;
	const char *p = *s;

	for (; p < end && n < 17; p++, n++) {
		if (*p >= '0' && *p <= '9')
			d = (unsigned int)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned int)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned int)(*p - 'A' + 10);
		else
			break;
		v = v << 4 | d;
	}
	if (n == 0 || n > 16)
		return -EBADMSG;
	*s = p;
	*ret = v;
	return 0;
}

/*
 * One range line: "  START-END (prio N, TYPE): NAME[ @OFFSET][ ...]".
 * 1 and *ret when NAME is ram_id, 0 when it is another region, -EBADMSG
 * when the line is not a range line.
 */
static int
range_line(const char *s, size_t n, const char *ram_id, vmsig_memseg *ret)
{
	const char *p = s, *end = s + n, *q;
	uint64_t start, last, off = 0;
	size_t idlen = strlen(ram_id);

	while (p < end && *p == ' ')
		p++;
	if (hex(&p, end, &start) < 0 || p >= end || *p++ != '-' ||
	    hex(&p, end, &last) < 0 || last < start)
		return -EBADMSG;
	if ((q = memchr(p, ')', (size_t)(end - p))) == NULL ||
	    end - q < 3 || q[1] != ':' || q[2] != ' ')
		return -EBADMSG;
	p = q + 3;
	if ((size_t)(end - p) < idlen || memcmp(p, ram_id, idlen) != 0 ||
	    (p + idlen < end && p[idlen] != ' '))
		return 0;
	p += idlen;
	if (end - p >= 2 && p[0] == ' ' && p[1] == '@') {
		p += 2;
		if (hex(&p, end, &off) < 0)
			return -EBADMSG;
	}
	if (last - start == UINT64_MAX || off + (last - start) < off)
		return -EBADMSG;
	*ret = (vmsig_memseg){ .gpa = start, .len = last - start + 1,
	    .file_off = off };
	return 1;
}

/* Append s, merged with the last segment when contiguous in both. */
static int
add(vmsig_memseg *segs, uint32_t max, uint32_t *n, const vmsig_memseg *s)
{
	vmsig_memseg *l = *n > 0 ? &segs[*n - 1] : NULL;

	if (l != NULL && s->gpa < l->gpa + l->len)
		return -EBADMSG;	/* a flat view is sorted, never overlaps */
	if (l != NULL && l->gpa + l->len == s->gpa &&
	    l->file_off + l->len == s->file_off) {
		l->len += s->len;
		return 0;
	}
	if (*n >= max)
		return -E2BIG;
	segs[(*n)++] = *s;
	return 0;
}

/* The header line of the block of AS "memory"? */
static int
is_memory_as(const char *s, size_t n)
{
	return starts(s, n, " AS \"memory\", root:") ||
	    (n == 12 && memcmp(s, " AS \"memory\"", 12) == 0);
}

int
mtree_parse(const char *text, size_t len, const char *ram_id,
    vmsig_memseg *segs, uint32_t max, uint32_t *ret_n)
{
	struct cursor c = { text, text + len };
	const char *l;
	size_t n;
	vmsig_memseg s;
	uint32_t nseg = 0;
	int in_mem = 0, done = 0, r;

	if (text == NULL || ram_id == NULL || *ram_id == '\0' ||
	    segs == NULL || ret_n == NULL)
		return -EINVAL;
	while (next_line(&c, &l, &n)) {
		if (starts(l, n, "FlatView ")) {
			done |= in_mem;
			in_mem = 0;
		} else if (is_memory_as(l, n)) {
			if (done)
				return -EBADMSG;	/* "memory" twice */
			in_mem = 1;
		} else if (in_mem && starts(l, n, "  ")) {
			if ((r = range_line(l, n, ram_id, &s)) < 0)
				return r;
			if (r == 1 && (r = add(segs, max, &nseg, &s)) < 0)
				return r;
		}
	}
	if (nseg == 0)
		return -ENOENT;
	*ret_n = nseg;
	return 0;
}
