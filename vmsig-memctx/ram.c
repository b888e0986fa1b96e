/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: the one reader of untrusted guest bytes in the helper.  The
 * RAM file is mapped PROT_READ, MAP_SHARED; every read is checked against
 * the layout, and holes of the file are never touched: on tmpfs a read
 * fault through a shared mapping allocates the page, so a scan that walked
 * a 4 GiB guest's holes would grow its file from a few hundred MiB to
 * 4 GiB.  A bitmap remembers which pages were seen allocated; a page not
 * in it is asked about (SEEK_DATA) before it is read, and reads as zeros
 * if it is still a hole, which is what the guest would see.
 *
 * Runs in: vmsig-memctx
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memctx.h"
#include "paging.h"

struct ram {
	int fd;			/* borrowed from main */
	const uint8_t *base;	/* the whole file */
	uint64_t size;
	uint64_t *known;	/* bit per page: seen allocated */
	struct layout l;
};

#define PAGE		LAYOUT_PAGE
#define PAGE_SHIFT	12

static void
mark_pages(struct ram *ram, uint64_t off, uint64_t end)
{
	uint64_t pg;

	for (pg = off >> PAGE_SHIFT; pg < (end + PAGE - 1) >> PAGE_SHIFT; pg++)
		ram->known[pg >> 6] |= 1ull << (pg & 63);
}

/*
 * Is the page at file offset `off` allocated?  The bitmap answers yes
 * cheaply; a no is confirmed with SEEK_DATA since the guest may have
 * touched the page since.  (A page the guest discarded after we saw it is
 * read anyway; the fault refills one zero page, not a scan's worth.)
 */
static int
page_allocated(struct ram *ram, uint64_t off)
{
	uint64_t pg = off >> PAGE_SHIFT;
	off_t d;

	if (ram->known[pg >> 6] & (1ull << (pg & 63)))
		return 1;
	d = lseek(ram->fd, (off_t)(pg << PAGE_SHIFT), SEEK_DATA);
	if (d == -1)
		return errno == ENXIO ? 0 : -errno;
	if ((uint64_t)d >> PAGE_SHIFT != pg)
		return 0;
	ram->known[pg >> 6] |= 1ull << (pg & 63);
	return 1;
}

typedef int (*file_extent_fn)(struct ram *ram, uint64_t off, uint64_t end,
    void *arg);

/* Each allocated extent of the file, widened to pages, in order. */
static int
file_extents(struct ram *ram, file_extent_fn fn, void *arg)
{
	uint64_t off = 0, end;
	off_t d, h;
	int r;

	while (off < ram->size) {
		d = lseek(ram->fd, (off_t)off, SEEK_DATA);
		if (d == -1)
			return errno == ENXIO ? 0 : -errno;
		h = lseek(ram->fd, d, SEEK_HOLE);
		if (h == -1)
			return -errno;
		off = (uint64_t)d & ~(PAGE - 1);
		end = ((uint64_t)h + PAGE - 1) & ~(PAGE - 1);
		if (end > ram->size)
			end = ram->size;
		if (end <= off)		/* no progress: file shrank under us */
			return 0;
		mark_pages(ram, off, end);
		if (fn != NULL && (r = fn(ram, off, end, arg)) != 0)
			return r;
		off = end;
	}
	return 0;
}

int
ram_open(int fd, const struct layout *l, struct ram **ret)
{
	struct ram *ram;
	struct stat st;
	void *p;
	int r;

	if (fd < 0 || l == NULL || ret == NULL || l->nseg == 0)
		return -EINVAL;
	if (fstat(fd, &st) == -1)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size != l->file_size)
		return -EINVAL;
	if ((ram = calloc(1, sizeof(*ram))) == NULL)
		return -ENOMEM;
	ram->fd = fd;
	ram->size = (uint64_t)st.st_size;
	ram->l = *l;
	ram->known = calloc((ram->size / PAGE + 64) / 64, sizeof(uint64_t));
	if (ram->known == NULL) {
		free(ram);
		return -ENOMEM;
	}
	p = mmap(NULL, ram->size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		free(ram->known);
		free(ram);
		return r;
	}
	ram->base = p;
	if ((r = file_extents(ram, NULL, NULL)) < 0) {
		ram_close(ram);
		return r;
	}
	*ret = ram;
	return 0;
}

void
ram_close(struct ram *ram)
{
	if (ram == NULL)
		return;
	(void)munmap((void *)(uintptr_t)ram->base, ram->size);
	free(ram->known);
	free(ram);
}

const struct layout *
ram_layout(const struct ram *ram)
{
	return &ram->l;
}

int
ram_contains(const struct ram *ram, uint64_t gpa, uint64_t len)
{
	uint64_t off, avail;

	while (len > 0) {
		if (layout_gpa_to_off(&ram->l, gpa, &off, &avail) < 0)
			return 0;
		if (avail >= len)
			return 1;
		gpa += avail;
		len -= avail;
	}
	return 1;
}

int
ram_read(struct ram *ram, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *out = buf;
	uint64_t off, avail, n;
	int r;

	if (ram == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	while (len > 0) {
		if (layout_gpa_to_off(&ram->l, gpa, &off, &avail) < 0)
			return -EFAULT;
		n = PAGE - (off & (PAGE - 1));
		if (n > avail)
			n = avail;
		if (n > len)
			n = len;
		/* The layout was checked against this size at open; a file
		 * cut short since must not become a SIGBUS. */
		if (off + n > ram->size)
			return -EFAULT;
		if ((r = page_allocated(ram, off)) < 0)
			return r;
		if (r)
			memcpy(out, ram->base + off, n);
		else
			memset(out, 0, n);
		out += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int
ram_read_u64(void *arg, uint64_t gpa, uint64_t *ret_val)
{
	uint64_t v;
	int r;

	if ((r = ram_read(arg, gpa, &v, sizeof(v))) < 0)
		return r;
	*ret_val = v;
	return 0;
}

int
ram_read_va(struct ram *ram, uint64_t cr3, uint64_t va, void *buf,
    size_t len)
{
	struct paging_xlat x;
	uint8_t *out = buf;
	uint64_t n;
	int r;

	while (len > 0) {
		r = paging_walk(cr3, va, 4, ram_read_u64, ram, &x);
		if (r < 0)
			return r;
		n = PAGE - (va & (PAGE - 1));
		if (n > len)
			n = len;
		if ((r = ram_read(ram, x.gpa, out, n)) < 0)
			return r;
		out += n;
		va += n;
		len -= n;
	}
	return 0;
}

struct extent_walk {
	ram_extent_fn fn;
	void *arg;
};

/* Split one file extent at segment borders and hand out the mapped parts. */
static int
extent_to_gpa(struct ram *ram, uint64_t off, uint64_t end, void *arg)
{
	struct extent_walk *w = arg;
	uint64_t gpa, avail, next;
	uint32_t i;
	int r;

	while (off < end) {
		if (layout_off_to_gpa(&ram->l, off, &gpa, &avail) == 0) {
			if (avail > end - off)
				avail = end - off;
			if ((r = w->fn(w->arg, gpa, ram->base + off, avail)))
				return r;
			off += avail;
			continue;
		}
		/* Not mapped by any segment: skip to the next that starts. */
		next = end;
		for (i = 0; i < ram->l.nseg; i++)
			if (ram->l.segs[i].file_off > off &&
			    ram->l.segs[i].file_off < next)
				next = ram->l.segs[i].file_off;
		off = next;
	}
	return 0;
}

int
ram_extents(struct ram *ram, ram_extent_fn fn, void *arg)
{
	struct extent_walk w = { fn, arg };

	if (ram == NULL || fn == NULL)
		return -EINVAL;
	return file_extents(ram, extent_to_gpa, &w);
}

int
ram_stat(const struct ram *ram, struct ram_id *ret)
{
	struct stat st;

	if (fstat(ram->fd, &st) == -1)
		return -errno;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	ret->size = (uint64_t)st.st_size;
	ret->blocks = (uint64_t)st.st_blocks;
	return 0;
}
