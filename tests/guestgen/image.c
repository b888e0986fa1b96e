/* SPDX-License-Identifier: MIT */
/*
 * The image under construction: a seeded PRNG (splitmix64, so one seed
 * always gives the same guest), the file layout (one region, or [0, low)
 * then [4 GiB, ...) at offset low), the frames already taken, and a store
 * of the 4 KiB pages built so far.  Only the stored pages are written, so
 * the file stays sparse; --fill adds random 2 MiB chunks around them.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestgen.h"

uint64_t
image_rand(struct guest *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t
image_randn(struct guest *g, uint64_t n)
{
	return n ? image_rand(g) % n : 0;
}

void
image_randbytes(struct guest *g, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t v;

	while (len >= 8) {
		v = image_rand(g);
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		v = image_rand(g);
		memcpy(p, &v, len);
	}
}

void *
image_grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 64;
	arr = reallocarray(arr, ncap, elem);
	if (arr == NULL)
		err(2, "out of memory");
	*cap = ncap;
	return arr;
}

uint64_t
image_ram_end(const struct guest *g)
{
	return g->low == g->size ? g->size : GG_4G + (g->size - g->low);
}

int
image_in_ram(const struct guest *g, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return 0;
	if (gpa + len <= g->low)
		return 1;
	return gpa >= GG_4G && g->low < g->size &&
	    gpa + len <= image_ram_end(g);
}

uint64_t
image_off(const struct guest *g, uint64_t gpa)
{
	if (!image_in_ram(g, gpa, 1))
		errx(2, "internal: gpa 0x%llx is not RAM", (unsigned long long)gpa);
	return gpa < g->low ? gpa : g->low + (gpa - GG_4G);
}

static size_t
rpfn_find(const struct guest *g, uint64_t pfn)
{
	size_t mask = g->rpfn_cap - 1, i = (pfn * 0x9e3779b97f4a7c15ull) & mask;

	while (g->rpfn[i] != 0 && g->rpfn[i] != pfn + 1)
		i = (i + 1) & mask;
	return i;
}

static void
rpfn_add(struct guest *g, uint64_t pfn)
{
	uint64_t *old = g->rpfn;
	size_t i, ocap = g->rpfn_cap;

	if (g->rpfn_cap == 0 || (g->nrpfn + 1) * 2 > g->rpfn_cap) {
		g->rpfn_cap = ocap ? ocap * 2 : 4096;
		g->rpfn = calloc(g->rpfn_cap, sizeof(*g->rpfn));
		if (g->rpfn == NULL)
			err(2, "out of memory");
		for (i = 0; i < ocap; i++)
			if (old[i] != 0)
				g->rpfn[rpfn_find(g, old[i] - 1)] = old[i];
		free(old);
	}
	i = rpfn_find(g, pfn);
	if (g->rpfn[i] == 0) {
		g->rpfn[i] = pfn + 1;
		g->nrpfn++;
	}
}

/* Single 4 KiB frames go to a hash set: guests hold tens of thousands. */
void
image_reserve(struct guest *g, uint64_t gpa, uint64_t len)
{
	if (len == GG_4K && (gpa & (GG_4K - 1)) == 0) {
		rpfn_add(g, gpa >> 12);
		return;
	}
	g->res = image_grow(g->res, &g->res_cap, g->nres, sizeof(*g->res));
	g->res[g->nres].start = gpa;
	g->res[g->nres].end = gpa + len;
	g->nres++;
}

int
image_reserved(const struct guest *g, uint64_t gpa, uint64_t len)
{
	uint64_t p;
	size_t i;

	for (i = 0; i < g->nres; i++)
		if (gpa < g->res[i].end && g->res[i].start < gpa + len)
			return 1;
	for (p = gpa >> 12; g->nrpfn > 0 && p << 12 < gpa + len; p++)
		if (g->rpfn[rpfn_find(g, p)] != 0)
			return 1;
	return 0;
}

/* Slots of `size` in [max(a, lo), min(b, hi)), aligned. */
static uint64_t
slots_in(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi, uint64_t size,
    uint64_t *ret_first)
{
	uint64_t s = a > lo ? a : lo, e = b < hi ? b : hi;

	s = (s + size - 1) & ~(size - 1);
	e &= ~(size - 1);
	*ret_first = s;
	return e > s ? (e - s) / size : 0;
}

/*
 * A random free frame of `size` (4 KiB, 2 MiB) in RAM and in [lo, hi),
 * never in the first MiB (the real-mode area the low stub lives in).
 */
uint64_t
image_alloc(struct guest *g, uint64_t size, uint64_t lo, uint64_t hi)
{
	uint64_t f0 = 0, f1 = 0, n0, n1, k, gpa;
	int tries;

	n0 = slots_in(GG_1M, g->low, lo, hi, size, &f0);
	n1 = g->low < g->size ?
	    slots_in(GG_4G, image_ram_end(g), lo, hi, size, &f1) : 0;
	for (tries = 0; tries < 100000 && n0 + n1 > 0; tries++) {
		k = image_randn(g, n0 + n1);
		gpa = k < n0 ? f0 + k * size : f1 + (k - n0) * size;
		if (!image_reserved(g, gpa, size)) {
			image_reserve(g, gpa, size);
			return gpa;
		}
	}
	errx(2, "guest RAM too small for a free %#llx-byte frame; use a "
	    "larger --size", (unsigned long long)size);
}

/* Any page of RAM, taken or not: what noise entries point at. */
uint64_t
image_any_frame(struct guest *g)
{
	uint64_t off = image_randn(g, g->size / GG_4K) * GG_4K;

	return off < g->low ? off : GG_4G + (off - g->low);
}

static size_t
slot_find(const struct guest *g, uint64_t pfn)
{
	size_t mask = g->slots_cap - 1, i = (pfn * 0x9e3779b97f4a7c15ull) & mask;

	while (g->slots[i].data != NULL && g->slots[i].pfn != pfn)
		i = (i + 1) & mask;
	return i;
}

static void
slots_rehash(struct guest *g)
{
	struct gg_slot *old = g->slots;
	size_t i, ocap = g->slots_cap;

	g->slots_cap = ocap ? ocap * 2 : 1024;
	g->slots = calloc(g->slots_cap, sizeof(*g->slots));
	if (g->slots == NULL)
		err(2, "out of memory");
	for (i = 0; i < ocap; i++)
		if (old[i].data != NULL)
			g->slots[slot_find(g, old[i].pfn)] = old[i];
	free(old);
}

/* The stored page holding gpa, created zeroed (a hole reads as zeros). */
uint8_t *
image_page(struct guest *g, uint64_t gpa)
{
	size_t i;

	(void)image_off(g, gpa);	/* RAM only */
	if (g->slots_cap == 0 || (g->nslots + 1) * 2 > g->slots_cap)
		slots_rehash(g);
	i = slot_find(g, gpa >> 12);
	if (g->slots[i].data == NULL) {
		g->slots[i].data = calloc(1, GG_4K);
		if (g->slots[i].data == NULL)
			err(2, "out of memory");
		g->slots[i].pfn = gpa >> 12;
		g->nslots++;
	}
	return g->slots[i].data;
}

void
image_write(struct guest *g, uint64_t gpa, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n;

	while (len > 0) {
		n = GG_4K - (gpa & (GG_4K - 1));
		if (n > len)
			n = len;
		memcpy(image_page(g, gpa) + (gpa & (GG_4K - 1)), p, n);
		p += n;
		gpa += n;
		len -= n;
	}
}

void
image_read(struct guest *g, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t n;

	while (len > 0) {
		n = GG_4K - (gpa & (GG_4K - 1));
		if (n > len)
			n = len;
		memcpy(p, image_page(g, gpa) + (gpa & (GG_4K - 1)), n);
		p += n;
		gpa += n;
		len -= n;
	}
}

void
image_put64(struct guest *g, uint64_t gpa, uint64_t v)
{
	image_write(g, gpa, &v, 8);
}

uint64_t
image_get64(struct guest *g, uint64_t gpa)
{
	uint64_t v;

	image_read(g, gpa, &v, 8);
	return v;
}

void
image_flush(struct guest *g, int fd)
{
	size_t i;

	for (i = 0; i < g->slots_cap; i++) {
		struct gg_slot *s = &g->slots[i];

		if (s->data == NULL)
			continue;
		if (pwrite(fd, s->data, GG_4K, (off_t)image_off(g, s->pfn << 12))
		    != (ssize_t)GG_4K)
			err(2, "%s: write", g->image);
	}
}

/* Write the unreserved pages of one 2 MiB chunk at file offset off. */
static void
fill_chunk(struct guest *g, int fd, uint64_t off, uint8_t *buf)
{
	uint64_t gpa = off < g->low ? off : GG_4G + (off - g->low);
	size_t p, run = 0, npages = GG_2M / GG_4K;

	image_randbytes(g, buf, GG_2M);
	for (p = 0; p <= npages; p++) {
		int skip = p == npages ||
		    !image_in_ram(g, gpa + p * GG_4K, GG_4K) ||
		    image_reserved(g, gpa + p * GG_4K, GG_4K);

		if (!skip) {
			run++;
			continue;
		}
		if (run > 0 && pwrite(fd, buf + (p - run) * GG_4K, run * GG_4K,
		    (off_t)(off + (p - run) * GG_4K)) != (ssize_t)(run * GG_4K))
			err(2, "%s: write", g->image);
		run = 0;
	}
}

/*
 * --fill: pick fill% of the 2 MiB chunks of the file (a seeded shuffle-free
 * selection: each chunk is taken with the probability that keeps the count
 * exact) and write random bytes there, around every reserved frame.
 */
void
image_fill(struct guest *g, int fd)
{
	uint64_t nchunks = (g->size + GG_2M - 1) / GG_2M, want, c;
	uint8_t *buf;

	want = nchunks * g->fill / 100;
	if (want == 0)
		return;
	buf = malloc(GG_2M);
	if (buf == NULL)
		err(2, "out of memory");
	for (c = 0; c < nchunks && want > 0; c++) {
		if (image_randn(g, nchunks - c) >= want)
			continue;
		want--;
		fill_chunk(g, fd, c * GG_2M, buf);
	}
	free(buf);
}

/* Return [gpa, gpa+len) to zeros: a hole where the file system can. */
void
image_zero(struct guest *g, int fd, uint64_t gpa, uint64_t len)
{
	static const uint8_t zeros[4096];
	uint64_t off = image_off(g, gpa), done;

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len) == 0)
		return;
	for (done = 0; done < len; done += sizeof(zeros)) {
		size_t n = len - done < sizeof(zeros) ? len - done : sizeof(zeros);

		if (pwrite(fd, zeros, n, (off_t)(off + done)) != (ssize_t)n)
			err(2, "%s: write", g->image);
	}
}

void
image_free(struct guest *g)
{
	size_t i;

	for (i = 0; i < g->slots_cap; i++)
		free(g->slots[i].data);
	free(g->slots);
	for (i = 0; i < g->nprobes; i++)
		free(g->probes[i].bytes);
	free(g->probes);
	free(g->res);
	free(g->rpfn);
	free(g->recs);
	free(g->pats);
	free(g->procs);
}
