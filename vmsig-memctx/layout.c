/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical layout of the RAM file: which guest-physical ranges
 * the file holds and at which offsets.  The command line gives it as a
 * split point (--low), as QEMU's rule for a machine type (--machine), or
 * as explicit segments (--seg); whatever does not fit the file is refused
 * with a sentence saying why and what to do instead.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memctx.h"

/* QEMU's below-4G RAM limits (hw/i386/pc_q35.c, pc_piix.c). */
#define Q35_ALL_LOW_MAX		0xB0000000ull
#define Q35_LOW			0x80000000ull
#define PC_ALL_LOW_MAX		0xE0000000ull
#define PC_LOW			0xC0000000ull

static int
refuse(int err, const char **ret_why, const char *why)
{
	if (ret_why != NULL)
		*ret_why = why;
	return err;
}

static int
parse_u64(const char *s, const char **ret_end, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned int base = 10, d;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p == '\0')
		return -EINVAL;
	for (; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (p == s || (base == 16 && p == s + 2))
		return -EINVAL;
	*ret_end = p;
	*ret = v;
	return 0;
}

/* One number with an optional binary suffix, ending at `stop` or NUL. */
static int
parse_size_until(const char *s, char stop, const char **ret_end,
    uint64_t *ret)
{
	const char *end;
	uint64_t v;
	unsigned int shift = 0;
	int r;

	if ((r = parse_u64(s, &end, &v)) < 0)
		return r;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end != '\0' && *end != stop)
		return -EINVAL;
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret_end = end;
	*ret = v << shift;
	return 0;
}

int
layout_parse_size(const char *s, uint64_t *ret)
{
	const char *end;
	uint64_t v;
	int r;

	if (s == NULL || ret == NULL)
		return -EINVAL;
	if ((r = parse_size_until(s, '\0', &end, &v)) < 0)
		return r;
	*ret = v;
	return 0;
}

int
layout_opt_low(struct layout_opts *o, const char *arg, const char **ret_why)
{
	uint64_t v;
	int r;

	if (o->have_low || o->nseg > 0 || o->machine != LAYOUT_MACHINE_NONE)
		return refuse(-EINVAL, ret_why, "--low, --seg and --machine "
		    "exclude each other: give one way of describing the layout");
	if ((r = layout_parse_size(arg, &v)) < 0)
		return refuse(r, ret_why, "--low wants a byte count such as "
		    "2G, 0x80000000 or 3072M");
	o->have_low = 1;
	o->low = v;
	return 0;
}

int
layout_opt_machine(struct layout_opts *o, const char *arg,
    const char **ret_why)
{
	if (o->have_low || o->nseg > 0 || o->machine != LAYOUT_MACHINE_NONE)
		return refuse(-EINVAL, ret_why, "--low, --seg and --machine "
		    "exclude each other: give one way of describing the layout");
	if (strcmp(arg, "q35") == 0)
		o->machine = LAYOUT_MACHINE_Q35;
	else if (strcmp(arg, "pc") == 0)
		o->machine = LAYOUT_MACHINE_PC;
	else
		return refuse(-EINVAL, ret_why, "--machine wants q35 or pc "
		    "(the QEMU machine type of the guest)");
	return 0;
}

int
layout_opt_seg(struct layout_opts *o, const char *arg, const char **ret_why)
{
	static const char syntax[] = "--seg wants GPA:LEN:OFFSET, e.g. "
	    "0x100000000:2G:0x80000000";
	vmsig_memseg s;
	const char *p = arg;
	int r;

	if (o->have_low || o->machine != LAYOUT_MACHINE_NONE)
		return refuse(-EINVAL, ret_why, "--low, --seg and --machine "
		    "exclude each other: give one way of describing the layout");
	if (o->nseg >= LAYOUT_MAX_SEGS)
		return refuse(-E2BIG, ret_why, "too many --seg (at most 64)");
	if ((r = parse_size_until(p, ':', &p, &s.gpa)) < 0 || *p++ != ':')
		return refuse(r < 0 ? r : -EINVAL, ret_why, syntax);
	if ((r = parse_size_until(p, ':', &p, &s.len)) < 0 || *p++ != ':')
		return refuse(r < 0 ? r : -EINVAL, ret_why, syntax);
	if ((r = parse_size_until(p, '\0', &p, &s.file_off)) < 0 ||
	    *p != '\0')
		return refuse(r < 0 ? r : -EINVAL, ret_why, syntax);
	o->segs[o->nseg++] = s;
	return 0;
}

static int
seg_cmp_gpa(const void *a, const void *b)
{
	const vmsig_memseg *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static int
seg_cmp_off(const void *a, const void *b)
{
	const vmsig_memseg *x = a, *y = b;

	return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

static int
check_segs(const struct layout_opts *o, uint64_t size, struct layout *l,
    const char **ret_why)
{
	vmsig_memseg byoff[LAYOUT_MAX_SEGS];
	uint32_t i;

	for (i = 0; i < o->nseg; i++) {
		const vmsig_memseg *s = &o->segs[i];

		if (s->len == 0)
			return refuse(-EINVAL, ret_why, "a --seg has length 0");
		if ((s->gpa | s->len | s->file_off) & (LAYOUT_PAGE - 1))
			return refuse(-EINVAL, ret_why, "--seg GPA, LEN and "
			    "OFFSET must be multiples of 4 KiB");
		if (s->gpa + s->len < s->gpa)
			return refuse(-EINVAL, ret_why, "a --seg runs past the "
			    "end of the guest-physical address space");
		if (s->file_off > size || s->len > size - s->file_off)
			return refuse(-EINVAL, ret_why, "a --seg lies past the "
			    "end of the RAM file: check its OFFSET and LEN "
			    "against the file size");
	}
	memcpy(l->segs, o->segs, o->nseg * sizeof(o->segs[0]));
	memcpy(byoff, o->segs, o->nseg * sizeof(o->segs[0]));
	qsort(l->segs, o->nseg, sizeof(l->segs[0]), seg_cmp_gpa);
	qsort(byoff, o->nseg, sizeof(byoff[0]), seg_cmp_off);
	for (i = 1; i < o->nseg; i++) {
		if (l->segs[i - 1].gpa + l->segs[i - 1].len > l->segs[i].gpa)
			return refuse(-EINVAL, ret_why, "two --seg overlap in "
			    "guest-physical space");
		if (byoff[i - 1].file_off + byoff[i - 1].len >
		    byoff[i].file_off)
			return refuse(-EINVAL, ret_why, "two --seg overlap in "
			    "the RAM file");
	}
	l->explicit = 1;
	l->nseg = o->nseg;
	/* Informational on the wire (nseg > 0 wins): RAM below 4 GiB. */
	for (i = 0; i < l->nseg && l->segs[i].gpa < LAYOUT_4G; i++)
		l->low += (l->segs[i].gpa + l->segs[i].len > LAYOUT_4G ?
		    LAYOUT_4G - l->segs[i].gpa : l->segs[i].len);
	return 0;
}

static int
split_low(uint64_t low, uint64_t size, struct layout *l, const char **ret_why)
{
	if (low == 0)
		return refuse(-EINVAL, ret_why, "--low must not be 0");
	if (low & (LAYOUT_PAGE - 1))
		return refuse(-EINVAL, ret_why, "--low must be a multiple of "
		    "4 KiB");
	if (low > LAYOUT_4G)
		return refuse(-EINVAL, ret_why, "--low must be at most 4G: "
		    "it is the RAM below the 4 GiB line");
	if (low > size)
		return refuse(-EINVAL, ret_why, "--low is larger than the RAM "
		    "file: give the guest's RAM below 4 GiB, at most the file "
		    "size");
	l->explicit = 0;
	l->low = low;
	l->segs[0] = (vmsig_memseg){ .gpa = 0, .len = low, .file_off = 0 };
	l->nseg = 1;
	if (size > low) {
		l->segs[1] = (vmsig_memseg){ .gpa = LAYOUT_4G,
		    .len = size - low, .file_off = low };
		l->nseg = 2;
	}
	return 0;
}

int
layout_build(const struct layout_opts *o, uint64_t size, struct layout *ret,
    const char **ret_why)
{
	struct layout l;
	uint64_t low;
	int r;

	if (o == NULL || ret == NULL)
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	l.file_size = size;
	if (size == 0)
		return refuse(-EINVAL, ret_why, "the RAM file is empty: is "
		    "this the guest's memory-backend-file?");
	if (size & (LAYOUT_PAGE - 1))
		return refuse(-EINVAL, ret_why, "the RAM file's size is not a "
		    "multiple of 4 KiB: is this the guest's memory-backend-file?");
	if (o->nseg > 0)
		r = check_segs(o, size, &l, ret_why);
	else if (o->have_low)
		r = split_low(o->low, size, &l, ret_why);
	else {
		if (o->machine == LAYOUT_MACHINE_Q35)
			low = size < Q35_ALL_LOW_MAX ? size : Q35_LOW;
		else if (o->machine == LAYOUT_MACHINE_PC)
			low = size < PC_ALL_LOW_MAX ? size : PC_LOW;
		else if (size < Q35_ALL_LOW_MAX)
			low = size;
		else
			return refuse(-EINVAL, ret_why, "the RAM file is "
			    "2.75 GiB or more, so QEMU split it around the PCI "
			    "hole: give --machine q35|pc, --low BYTES or --seg");
		r = split_low(low, size, &l, ret_why);
	}
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

int
layout_gpa_to_off(const struct layout *l, uint64_t gpa, uint64_t *ret_off,
    uint64_t *ret_avail)
{
	uint32_t i;

	for (i = 0; i < l->nseg; i++) {
		const vmsig_memseg *s = &l->segs[i];

		if (gpa >= s->gpa && gpa - s->gpa < s->len) {
			*ret_off = s->file_off + (gpa - s->gpa);
			*ret_avail = s->len - (gpa - s->gpa);
			return 0;
		}
	}
	return -EFAULT;
}

int
layout_off_to_gpa(const struct layout *l, uint64_t off, uint64_t *ret_gpa,
    uint64_t *ret_avail)
{
	uint32_t i;

	for (i = 0; i < l->nseg; i++) {
		const vmsig_memseg *s = &l->segs[i];

		if (off >= s->file_off && off - s->file_off < s->len) {
			*ret_gpa = s->gpa + (off - s->file_off);
			*ret_avail = s->len - (off - s->file_off);
			return 0;
		}
	}
	return -EFAULT;
}

uint64_t
layout_ram_size(const struct layout *l)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < l->nseg; i++)
		n += l->segs[i].len;
	return n;
}

void
layout_wire(const struct layout *l, uint64_t *ret_low,
    const vmsig_memseg **ret_segs, uint32_t *ret_nseg)
{
	*ret_low = l->low;
	*ret_segs = l->explicit ? l->segs : NULL;
	*ret_nseg = l->explicit ? l->nseg : 0;
}
