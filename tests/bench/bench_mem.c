/* SPDX-License-Identifier: MIT */
/*
 * Speed of the memory context against memcpy and read_pa measured in the
 * same run over the same mapping: a 1.25 GiB sparse RAM file in a temporary
 * directory with 256 MiB of virtual addresses mapped by 4 KiB pages and
 * 512 MiB by 2 MiB pages, every byte written so nothing reads a hole.
 * Prints sequential 4 KiB reads (read_pa, read_va) next to memcpy, random
 * 8-byte read_va next to read_pa of the same addresses, and translations
 * per second with a warm and a cold cache.  Targets: sequential read_va at
 * least 0.9x memcpy; random 8-byte read_va at least 0.5x read_pa.
 *
 * Runs in: tests (bench)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsig/mem.h>

#include "../../vmsig-holder/mem_int.h"
#include "../common/memfile.h"
#include "paging.h"

#define MB		(1ull << 20)
#define FILE_SIZE	(1280 * MB)
#define PA_4K		(64 * MB)	/* the 4 KiB pages' frames */
#define LEN_4K		(256 * MB)
#define PA_2M		(512 * MB)
#define LEN_2M		(512 * MB)
#define VA_4K		0x00007f0000000000ull
#define VA_2M		0xffff900000000000ull
#define NRAND		(1u << 20)
#define LEAF		(PTE_P | PTE_RW | PTE_US)
#define ROUNDS		7

static volatile uint64_t sink;
/*
 * The baseline calls libc's memcpy, as the library does: left to itself
 * the compiler inlines a 4 KiB copy as `rep movsq`, another copy routine
 * with other speeds, and the ratio would compare copy loops, not overhead.
 */
static void *(*volatile copy)(void *, const void *, size_t) = memcpy;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
build(struct memfile *f, uint64_t *ret_cr3)
{
	uint64_t cr3 = memfile_table(f), i, off;
	uint8_t *buf = malloc(MB);

	if (buf == NULL)
		return -ENOMEM;
	for (i = 0; i < LEN_4K; i += 4096)
		memfile_map(f, cr3, 4, VA_4K + i, (PA_4K + i) | LEAF, 1);
	for (i = 0; i < LEN_2M; i += 2 * MB)
		memfile_map(f, cr3, 4, VA_2M + i, (PA_2M + i) | LEAF | PTE_PS,
		    2);
	for (off = PA_4K; off < FILE_SIZE; off += MB) {
		for (i = 0; i < MB; i += 8)
			memcpy(buf + i, &(uint64_t){ off + i }, 8);
		memfile_write(f, off, buf, MB);
	}
	free(buf);
	*ret_cr3 = cr3;
	return 0;
}

enum how { MEMCPY, READ_PA, READ_VA };

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v)
{
	qsort(v, ROUNDS, sizeof(*v), dcmp);
	return v[ROUNDS / 2];
}

/* Sequential 4 KiB reads of [0, len) of a region, `passes` times: MB/s. */
static double
seq(struct vmsig_mem *m, enum how how, uint64_t cr3, uint64_t va,
    uint64_t pa, uint64_t len, int passes)
{
	const uint8_t *map;
	uint8_t buf[4096];
	uint64_t i, sum = 0;
	size_t maplen;
	double t;
	int p;

	map = mem_mapping(m, &maplen);
	t = now();
	for (p = 0; p < passes; p++)
		for (i = 0; i < len; i += sizeof(buf)) {
			if (how == MEMCPY)
				copy(buf, map + pa + i, sizeof(buf));
			else if (how == READ_PA)
				(void)vmsig_mem_read_pa(m, pa + i, buf,
				    sizeof(buf), NULL);
			else
				(void)vmsig_mem_read_va(m, cr3, va + i, buf,
				    sizeof(buf), NULL);
			sum += buf[i & 4095];
		}
	t = now() - t;
	sink += sum;
	return (double)len * passes / t / 1e6;
}

/* Random 8-byte reads at offs[] of a region: reads per second. */
static double
rnd(struct vmsig_mem *m, enum how how, uint64_t cr3, uint64_t va,
    uint64_t pa, const uint64_t *offs)
{
	uint64_t v, sum = 0;
	double t;
	uint32_t i;

	t = now();
	for (i = 0; i < NRAND; i++) {
		if (how == READ_PA)
			(void)vmsig_mem_read_pa(m, pa + offs[i], &v, 8, NULL);
		else
			(void)vmsig_mem_read_va(m, cr3, va + offs[i], &v, 8,
			    NULL);
		sum += v;
	}
	t = now() - t;
	sink += sum;
	return NRAND / t;
}

/* Translations per second; cold: the cache is flushed every `span` pages. */
static double
xlat(struct vmsig_mem *m, uint64_t cr3, const uint64_t *offs, int cold)
{
	struct vmsig_xlat x;
	uint64_t sum = 0;
	double t;
	uint32_t i;

	t = now();
	for (i = 0; i < NRAND; i++) {
		if (cold)
			vmsig_mem_flush(m);
		(void)vmsig_mem_translate(m, cr3, VA_4K + offs[i], &x);
		sum += x.gpa;
	}
	t = now() - t;
	sink += sum;
	return NRAND / t;
}

static void
report_seq(const char *what, struct vmsig_mem *m, enum how how,
    uint64_t cr3, uint64_t va, uint64_t pa, uint64_t len)
{
	double a, b, ra[ROUNDS], rb[ROUNDS];
	int k;

	/* The host is shared: alternate, and take the medians. */
	(void)seq(m, how, cr3, va, pa, len, 1);		/* warm up */
	for (k = 0; k < ROUNDS; k++) {
		rb[k] = seq(m, MEMCPY, cr3, va, pa, len, 2);
		ra[k] = seq(m, how, cr3, va, pa, len, 2);
	}
	a = median(ra);
	b = median(rb);
	printf("seq %s: %.0f MB/s  memcpy: %.0f MB/s  ratio %.2f\n", what, a,
	    b, a / b);
}

static void
report_rnd(const char *what, struct vmsig_mem *m, uint64_t cr3,
    uint64_t va, uint64_t pa, const uint64_t *offs)
{
	double a, b, ra[ROUNDS], rb[ROUNDS];
	int k;

	(void)rnd(m, READ_VA, cr3, va, pa, offs);
	for (k = 0; k < ROUNDS; k++) {
		rb[k] = rnd(m, READ_PA, cr3, va, pa, offs);
		ra[k] = rnd(m, READ_VA, cr3, va, pa, offs);
	}
	a = median(ra);
	b = median(rb);
	printf("random 8B read_va %s: %.2f M/s  read_pa: %.2f M/s  "
	    "ratio %.2f\n", what, a / 1e6, b / 1e6, a / b);
}

int
main(void)
{
	struct memfile *f = NULL;
	struct vmsig_mem *m = NULL;
	uint64_t cr3, s = 0x9e3779b97f4a7c15ull, *o4, *o2, *ow;
	uint32_t i;
	double w, c, rw[ROUNDS], rc[ROUNDS];

	o4 = malloc(NRAND * sizeof(*o4));
	o2 = malloc(NRAND * sizeof(*o2));
	ow = malloc(NRAND * sizeof(*ow));
	if (o4 == NULL || o2 == NULL || ow == NULL ||
	    memfile_new(FILE_SIZE, 0, &f) < 0 || build(f, &cr3) < 0 ||
	    vmsig_mem_open(f->ro, f->size, &m) < 0) {
		fprintf(stderr, "bench_mem: cannot build the image\n");
		memfile_free(f);
		return 1;
	}
	for (i = 0; i < NRAND; i++) {
		o4[i] = (rng(&s) % LEN_4K) & ~7ull;
		o2[i] = (rng(&s) % LEN_2M) & ~7ull;
		/* a working set of 2048 pages: it fits the cache */
		ow[i] = (rng(&s) % 2048) * 4096;
	}
	printf("image %llu MiB; 4 KiB pages: %llu MiB, 2 MiB pages: %llu MiB\n",
	    (unsigned long long)(FILE_SIZE / MB),
	    (unsigned long long)(LEN_4K / MB),
	    (unsigned long long)(LEN_2M / MB));
	report_seq("read_pa 4KiB", m, READ_PA, cr3, VA_4K, PA_4K, LEN_4K);
	report_seq("read_va 4KiB (4K pages)", m, READ_VA, cr3, VA_4K, PA_4K,
	    LEN_4K);
	report_seq("read_va 4KiB (2M pages)", m, READ_VA, cr3, VA_2M, PA_2M,
	    LEN_2M);
	report_rnd("(4K pages)", m, cr3, VA_4K, PA_4K, o4);
	report_rnd("(2M pages)", m, cr3, VA_2M, PA_2M, o2);
	(void)xlat(m, cr3, ow, 0);
	for (i = 0; i < ROUNDS; i++) {
		rw[i] = xlat(m, cr3, ow, 0);
		rc[i] = xlat(m, cr3, o4, 1);
	}
	w = median(rw);
	c = median(rc);
	printf("translate: warm %.2f M/s  cold %.2f M/s  ratio %.2f\n",
	    w / 1e6, c / 1e6, w / c);
	vmsig_mem_close(m);
	memfile_free(f);
	free(o4);
	free(o2);
	free(ow);
	return 0;
}
