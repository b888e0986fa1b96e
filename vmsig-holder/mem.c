/* SPDX-License-Identifier: MIT */
/*
 * The memory context's life and its guest-physical reads: map the RAM file
 * once (PROT_READ, MAP_SHARED, so every read sees the live guest and none
 * can write it), build the segment table from `low`, from explicit segments
 * or from a MEMCTX event, and copy guest-physical ranges out across
 * segments, stopping at the first byte that is not RAM.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmsig/mem.h>

#include "mem_int.h"

#define GIB4	(4ull << 30)

static int
seg_cmp(const void *a, const void *b)
{
	const struct mem_seg *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sort, then refuse empty, wrapping, out-of-file or overlapping segments. */
static int
segs_check(struct mem_seg *s, uint32_t n, uint64_t file_size)
{
	uint32_t i;

	qsort(s, n, sizeof(*s), seg_cmp);
	for (i = 0; i < n; i++) {
		if (s[i].len == 0 || s[i].gpa + s[i].len < s[i].gpa)
			return -EINVAL;
		if (s[i].off > file_size || s[i].len > file_size - s[i].off)
			return -EINVAL;
		if (i > 0 && s[i - 1].gpa + s[i - 1].len > s[i].gpa)
			return -EINVAL;
	}
	return 0;
}

/*
 * The descriptor must be a read-only regular file: a writable one would let
 * anyone mprotect(PROT_WRITE) our shared mapping and write the guest.
 */
static int
fd_check(int fd, uint64_t *ret_size)
{
	struct stat st;
	int fl;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl == -1)
		return -errno;
	if ((fl & O_ACCMODE) != O_RDONLY)
		return (fl & O_ACCMODE) == O_RDWR ? -EPERM : -EBADF;
	if (fstat(fd, &st) == -1)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

/* Takes segs (sorted and checked) whatever happens. */
static int
mem_new(int fd, uint64_t size, struct mem_seg *segs, uint32_t nseg,
    struct vmsig_mem **ret_mem)
{
	struct vmsig_mem *m;
	uint32_t i;
	void *p;
	int r;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		free(segs);
		return -ENOMEM;
	}
	m->fd = -1;
	m->segs = segs;
	m->nseg = nseg;
	m->levels = 4;
	m->map = MAP_FAILED;
	m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (m->fd == -1) {
		r = -errno;
		vmsig_mem_close(m);
		return r;
	}
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, m->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		vmsig_mem_close(m);
		return r;
	}
	m->map = p;
	m->map_len = size;
	for (i = 0; i < nseg; i++) {
		segs[i].host = m->map + segs[i].off;
		m->total += segs[i].len;
	}
	mem_xlat_reset(m);
	*ret_mem = m;
	return 0;
}

int
vmsig_mem_open(int fd, uint64_t low, struct vmsig_mem **ret_mem)
{
	struct mem_seg *s;
	uint64_t size, lo;
	uint32_t n = 0;
	int r;

	if (ret_mem == NULL)
		return -EINVAL;
	if ((r = fd_check(fd, &size)) < 0)
		return r;
	s = calloc(2, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	/* low past the end of the file: the whole file is low RAM. */
	lo = low < size ? low : size;
	if (lo > 0)
		s[n++] = (struct mem_seg){ .gpa = 0, .len = lo, .off = 0 };
	if (size > lo)
		s[n++] = (struct mem_seg){ .gpa = GIB4, .len = size - lo,
		    .off = lo };
	if ((r = segs_check(s, n, size)) < 0) {
		free(s);
		return r;
	}
	return mem_new(fd, size, s, n, ret_mem);
}

int
vmsig_mem_open_segs(int fd, const vmsig_memseg *segs, uint32_t nseg,
    struct vmsig_mem **ret_mem)
{
	struct mem_seg *s;
	uint64_t size;
	uint32_t i;
	int r;

	if (ret_mem == NULL || segs == NULL || nseg == 0 ||
	    nseg > (1u << 20))
		return -EINVAL;
	if ((r = fd_check(fd, &size)) < 0)
		return r;
	s = calloc(nseg, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i < nseg; i++)
		s[i] = (struct mem_seg){ .gpa = segs[i].gpa,
		    .len = segs[i].len, .off = segs[i].file_off };
	if ((r = segs_check(s, nseg, size)) < 0) {
		free(s);
		return r;
	}
	return mem_new(fd, size, s, nseg, ret_mem);
}

int
vmsig_mem_open_event(const vmsig_event *ev, struct vmsig_mem **ret_mem)
{
	const vmsig_memctx *mc;
	const vmsig_memseg *segs;
	struct vmsig_mem *m;
	uint32_t nseg;
	int r;

	if (ev == NULL || ret_mem == NULL || ev->type != VMSIG_EV_MEMCTX)
		return -EINVAL;
	mc = (const vmsig_memctx *)(const void *)ev->inln;
	segs = vmsig_memctx_segs(ev, &nseg);
	/* nseg without the segments: guessing a layout would read garbage. */
	if (mc->nseg != 0 && segs == NULL)
		return -EINVAL;
	if (segs != NULL)
		r = vmsig_mem_open_segs(ev->fd, segs, nseg, &m);
	else
		r = vmsig_mem_open(ev->fd, mc->low, &m);
	if (r < 0)
		return r;
	if (mc->flags & VMSIG_MEMCTX_LA57)
		m->levels = 5;
	*ret_mem = m;
	return 0;
}

void
vmsig_mem_close(struct vmsig_mem *mem)
{
	int saved = errno;

	if (mem == NULL)
		return;
	if (mem->map != MAP_FAILED && mem->map != NULL)
		(void)munmap((void *)(uintptr_t)mem->map, mem->map_len);
	if (mem->fd >= 0)
		(void)close(mem->fd);
	free(mem->segs);
	free(mem);
	errno = saved;
}

int
vmsig_mem_set_paging(struct vmsig_mem *mem, unsigned int levels)
{
	if (mem == NULL || (levels != 4 && levels != 5))
		return -EINVAL;
	if (levels != mem->levels) {
		mem->levels = levels;
		mem_xlat_reset(mem);
	}
	return 0;
}

uint64_t
vmsig_mem_size(const struct vmsig_mem *mem)
{
	return mem == NULL ? 0 : mem->total;
}

int
vmsig_mem_fd(const struct vmsig_mem *mem)
{
	return mem == NULL ? -EINVAL : mem->fd;
}

const void *
mem_mapping(const struct vmsig_mem *m, size_t *ret_len)
{
	*ret_len = m->map_len;
	return m->map;
}

int
vmsig_mem_read_pa(struct vmsig_mem *mem, uint64_t gpa, void *buf,
    size_t len, size_t *ret_done)
{
	uint8_t *out = buf;
	size_t done = 0;

	if (ret_done != NULL)
		*ret_done = 0;
	if (mem == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	while (done < len) {
		const struct mem_seg *s;
		uint64_t at = gpa + done, n;

		/* Wrapping past 2^64 is past the end of RAM. */
		if (at < gpa)
			break;
		s = mem_seg_lookup(mem, at);
		if (s == NULL)
			break;
		n = s->len - (at - s->gpa);
		if (n > len - done)
			n = len - done;
		memcpy(out + done, s->host + (at - s->gpa), n);
		done += n;
	}
	if (ret_done != NULL)
		*ret_done = done;
	return done == len ? 0 : -EFAULT;
}
