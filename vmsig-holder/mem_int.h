/* SPDX-License-Identifier: MIT */
/*
 * Private to the memory context (mem.c, mem_xlat.c, mem_pmap.c, mem_scan.c):
 * the context itself, its segment table and translation cache, and the few
 * functions the files lend each other.  The segment lookup is inline because
 * every read and every page-walk step goes through it.
 *
 * Runs in: holder
 */
#ifndef VMSIG_HOLDER_MEM_INT_H
#define VMSIG_HOLDER_MEM_INT_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/mem.h>

/* One guest-physical window, sorted by gpa; host = the mapping + file_off. */
struct mem_seg {
	uint64_t gpa;
	uint64_t len;
	uint64_t off;
	const uint8_t *host;
};

/*
 * A cached translation of one whole page.  host is the page inside the
 * mapping when the page lies wholly in one segment, NULL otherwise (reads
 * then go through vmsig_mem_read_pa, which finds the hole).  An entry is
 * live only while gen equals the context's: bumping it drops everything.
 */
struct mem_tlb {
	uint64_t cr3;		/* root frame; MEM_TLB_NONE: empty */
	uint64_t vbase;		/* canonical va of the page */
	uint64_t gen;
	uint64_t gpa;		/* gpa of the page */
	const uint8_t *host;
	uint32_t flags;		/* VMSIG_PAGE_* */
	uint32_t shift;		/* 12, 21 or 30 */
};

/* No cr3 frame has bit 0 set, so this never matches a lookup. */
#define MEM_TLB_NONE		1ull

#define MEM_TLB_4K		4096	/* entries, powers of two */
#define MEM_TLB_2M		512
#define MEM_TLB_1G		64
/*
 * Paging-structure cache: per (cr3, 2 MiB region) the page table that maps
 * it and the rights of the levels above (host: the table in the mapping,
 * gpa: its address, shift 21).  A 4 KiB miss under it reads one entry
 * instead of walking; the entry itself is read live, never cached here.
 */
#define MEM_PTC			1024
/* Bloom filter of page-table frames read by walks since the last flush. */
#define MEM_PTBLOOM_BITS	(1u << 13)

struct vmsig_mem {
	int fd;
	unsigned int levels;
	const uint8_t *map;
	size_t map_len;
	uint64_t total;
	uint32_t nseg;
	struct mem_seg *segs;
	uint64_t gen;
	struct mem_tlb last;	/* the last translation used: sequential reads */
	struct mem_tlb tlb4k[MEM_TLB_4K];
	struct mem_tlb tlb2m[MEM_TLB_2M];
	struct mem_tlb tlb1g[MEM_TLB_1G];
	struct mem_tlb ptc[MEM_PTC];
	uint64_t ptbloom[MEM_PTBLOOM_BITS / 64];
	/* mem_scan.c: the data extent of the file found last (SEEK_DATA). */
	uint64_t ext_start, ext_end;
};

static inline const struct mem_seg *
mem_seg_lookup(const struct vmsig_mem *m, uint64_t gpa)
{
	uint32_t lo = 0, hi = m->nseg;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct mem_seg *s = &m->segs[mid];

		if (gpa < s->gpa)
			hi = mid;
		else if (gpa - s->gpa >= s->len)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

/* [gpa, gpa+len) in the mapping when it lies inside one segment, or NULL. */
static inline const uint8_t *
mem_host(const struct vmsig_mem *m, uint64_t gpa, uint64_t len)
{
	const struct mem_seg *s = mem_seg_lookup(m, gpa);

	if (s == NULL || len > s->len - (gpa - s->gpa))
		return NULL;
	return s->host + (gpa - s->gpa);
}

/* mem.c: the mapping itself, for tests that prove it cannot be written. */
const void *mem_mapping(const struct vmsig_mem *m, size_t *ret_len);

/* mem_xlat.c: empty the translation cache (a new generation). */
void mem_xlat_reset(struct vmsig_mem *m);

/* mem_pmap.c: page-table pages a walk may visit before it gives up. */
#define MEM_PMAP_MAX_TABLES	(1u << 20)

#endif
