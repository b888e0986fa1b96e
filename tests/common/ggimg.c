/* SPDX-License-Identifier: MIT */
/*
 * The tests' own reader of guestgen images (see ggimg.h): guest-physical
 * reads by segment, VA reads through proto/paging.c, and the checks a
 * kcr3 scanner and a page-map walker make, written plainly so they can be
 * trusted as references.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggimg.h"
#include "paging.h"

#define MAX_EXTENTS	1000000

int
ggimg_open(struct ggimg *im, const struct gg_manifest *m)
{
	struct stat st;
	int r;

	im->fd = -1;
	im->m = m;
	if (m == NULL || m->image == NULL)
		return -EINVAL;
	im->fd = open(m->image, O_RDONLY | O_CLOEXEC);
	if (im->fd == -1)
		return -errno;
	if (fstat(im->fd, &st) == -1) {
		r = -errno;
		ggimg_close(im);
		return r;
	}
	if ((uint64_t)st.st_size != m->file_size) {
		ggimg_close(im);
		return -EINVAL;
	}
	return 0;
}

void
ggimg_close(struct ggimg *im)
{
	if (im->fd >= 0)
		(void)close(im->fd);
	im->fd = -1;
}

int
ggimg_read_pa(const struct ggimg *im, uint64_t gpa, void *buf, size_t len)
{
	uint32_t i;

	for (i = 0; i < im->m->nseg; i++) {
		const vmsig_memseg *s = &im->m->segs[i];

		if (gpa >= s->gpa && gpa - s->gpa + len <= s->len)
			return pread(im->fd, buf, len,
			    (off_t)(s->file_off + gpa - s->gpa)) == (ssize_t)len ?
			    0 : -EIO;
	}
	return -EFAULT;
}

static int
rd_entry(void *arg, uint64_t gpa, uint64_t *ret)
{
	return ggimg_read_pa(arg, gpa, ret, 8);
}

int
ggimg_read_va(const struct ggimg *im, uint64_t cr3, uint64_t va, void *out,
    size_t len)
{
	struct paging_xlat x;
	uint8_t *buf = out;
	size_t n;
	int r;

	while (len > 0) {
		r = paging_walk(cr3, va, 4, rd_entry, (void *)im, &x);
		if (r < 0)
			return r;
		n = 4096 - (va & 4095);
		if (n > len)
			n = len;
		if ((r = ggimg_read_pa(im, x.gpa, buf, n)) < 0)
			return r;
		va += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int
ggimg_pml4_valid(const struct ggimg *im, uint64_t pa)
{
	uint64_t e[512], tmp;
	int self = 0, i;

	if (ggimg_read_pa(im, pa, e, sizeof(e)) < 0)
		return 0;
	for (i = 256; i < 512; i++) {
		if (!(e[i] & PTE_P))
			continue;
		if ((e[i] & PTE_FRAME_4K) == pa)
			self = 1;
		else if (ggimg_read_pa(im, e[i] & PTE_FRAME_4K, &tmp, 8) < 0)
			return 0;
	}
	return self;
}

static uint64_t
gpa_of(const struct ggimg *im, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < im->m->nseg; i++)
		if (off >= im->m->segs[i].file_off &&
		    off - im->m->segs[i].file_off < im->m->segs[i].len)
			return im->m->segs[i].gpa + off - im->m->segs[i].file_off;
	return UINT64_MAX;
}

size_t
ggimg_count_pml4s(const struct ggimg *im)
{
	off_t data = 0, hole;
	uint64_t off;
	size_t n = 0, extents = 0;

	while (extents++ < MAX_EXTENTS) {
		data = lseek(im->fd, data, SEEK_DATA);
		if (data < 0)
			break;
		hole = lseek(im->fd, data, SEEK_HOLE);
		if (hole <= data)
			break;
		for (off = (uint64_t)data & ~4095ull; off < (uint64_t)hole;
		    off += 4096)
			n += ggimg_pml4_valid(im, gpa_of(im, off));
		data = hole;
	}
	return n;
}

struct pmap {
	const struct ggimg *im;
	uint64_t cr3;
	unsigned int skip;
	struct gg_map *runs;
	size_t n, max;
	int overflow;
};

static void
leaf(struct pmap *w, uint64_t va, uint64_t gpa, uint64_t size, uint32_t f)
{
	struct gg_map *l = w->n ? &w->runs[w->n - 1] : NULL;

	if (l != NULL && l->va + l->size == va && l->gpa + l->size == gpa &&
	    l->page_size == size && l->flags == f) {
		l->size += size;
		return;
	}
	if (w->n == w->max) {
		w->overflow = 1;
		return;
	}
	l = &w->runs[w->n++];
	l->cr3 = w->cr3;
	l->va = va;
	l->gpa = gpa;
	l->size = l->page_size = size;
	l->flags = f;
}

static uint32_t
rights(uint64_t e, uint32_t f)
{
	if (!(e & PTE_RW))
		f &= ~PAGING_W;
	if (!(e & PTE_US))
		f &= ~PAGING_U;
	if (e & PTE_XD)
		f |= PAGING_NX;
	return f;
}

static void
enum_table(struct pmap *w, uint64_t table, unsigned int lvl, uint64_t va,
    uint32_t flags)
{
	static const uint64_t frame[] = { 0, PTE_FRAME_4K, PTE_FRAME_2M,
		PTE_FRAME_1G };
	uint64_t e[512], sva;
	unsigned int i, shift = 12 + 9 * (lvl - 1);

	if (ggimg_read_pa(w->im, table, e, sizeof(e)) < 0)
		return;
	for (i = 0; i < 512; i++) {
		if (!(e[i] & PTE_P) || (lvl == 4 && i == w->skip))
			continue;
		sva = va | (uint64_t)i << shift;
		if (lvl == 4 && i >= 256)
			sva |= 0xffff000000000000ull;
		if (lvl == 1 || (lvl < 4 && (e[i] & PTE_PS)))
			leaf(w, sva, e[i] & frame[lvl], 1ull << shift,
			    rights(e[i], flags));
		else if (lvl > 1)
			enum_table(w, e[i] & PTE_FRAME_4K, lvl - 1, sva,
			    rights(e[i], flags));
	}
}

int
ggimg_pmap(const struct ggimg *im, uint64_t cr3, unsigned int skip_slot,
    struct gg_map *runs, size_t max)
{
	struct pmap w;

	memset(&w, 0, sizeof(w));
	w.im = im;
	w.cr3 = cr3 & PTE_FRAME_4K;
	w.skip = skip_slot;
	w.runs = runs;
	w.max = max;
	enum_table(&w, w.cr3, 4, 0, PAGING_W | PAGING_U);
	return w.overflow ? -E2BIG : (int)w.n;
}
