/* SPDX-License-Identifier: MIT */
/*
 * Speed and size of the Windows context on the in-memory guest of
 * tests/fuzz/winimg.h with 401 processes (System and 400 others), 100
 * loader entries per process and a DLL of 3,000 exports, each figure next
 * to a baseline measured in the same run over the same memory context:
 * - opening the context (kernel search and offset discovery);
 * - the process list, cold (translation cache flushed) and warm, next to
 *   reading the same EPROCESS spans with vmsig_mem_read_va in a tight
 *   loop (target: warm within 2x);
 * - the module list of a 100-module process next to reading its 100
 *   loader entries with read_va;
 * - an export found by name (binary search) next to a linear scan of the
 *   same name table;
 * - the anonymous memory (RssAnon) of the context and of one listing.
 *
 * Runs in: tests (bench)
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/mem.h>
#include <vmsig/win.h>

#include "../fuzz/kimg.h"
#include "../fuzz/winimg.h"

#define IMG_SIZE	(96u << 20)
#define NPROC		401
#define NMODS		100
#define NEXP		3000
#define ROUNDS		9

static volatile uint64_t sink;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dcmp);
	return v[n / 2];
}

/*
 * Heap bytes in use (mallinfo2): what the context and a listing hold.  The
 * RSS of the process would also count the guest pages the reads touched
 * through the shared mapping, which belong to the RAM file, not to us.
 */
static long
heap_used(void)
{
	return (long)mallinfo2().uordblks;
}

/* Resident anonymous memory, KiB (RssAnon of /proc/self/status). */
static long
rss_anon(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The EPROCESS span the listing reads: the offsets' bounds. */
static void
span(struct vmsig_win *w, uint32_t *lo, uint32_t *hi)
{
	struct vmsig_win_offset o;
	unsigned int i;

	*lo = UINT32_MAX;
	*hi = 0;
	for (i = 0; i < 10 && vmsig_win_offset(w, i, &o) == 0; i++) {
		if (o.offset < 0)
			continue;
		if ((uint32_t)o.offset < *lo)
			*lo = (uint32_t)o.offset;
		if ((uint32_t)o.offset + 16 > *hi)
			*hi = (uint32_t)o.offset + 16;
	}
}

/* Every byte the listing reads for process p, one read_va each. */
static void
raw_all(struct vmsig_mem *mem, const struct wimg *g, unsigned int p,
    uint32_t lo, uint32_t hi, uint8_t *buf)
{
	uint64_t prm = 0, dtb = g->p[p].dtb;
	uint8_t us[16];
	uint16_t len;

	(void)vmsig_mem_read_va(mem, g->kcr3, g->p[p].ep + lo, buf, hi - lo,
	    NULL);
	if (p == 0 || g->p[p].peb_out)
		return;
	(void)vmsig_mem_read_va(mem, dtb, g->p[p].peb + 0x20, &prm, 8, NULL);
	(void)vmsig_mem_read_va(mem, dtb, prm + 0x60, us, 16, NULL);
	memcpy(&len, us, 2);
	memcpy(&prm, us + 8, 8);
	(void)vmsig_mem_read_va(mem, dtb, prm, buf, len, NULL);
	sink += buf[0];
}

static void
bench_procs(struct vmsig_mem *mem, struct vmsig_win *w, const struct wimg *g)
{
	double t[ROUNDS], cold[ROUNDS], warm[ROUNDS], raw[ROUNDS], all[ROUNDS];
	double a, b, c, d;
	struct vmsig_win_procs *l;
	uint8_t buf[4096];
	uint32_t lo, hi;
	int r, i;
	unsigned int p;

	span(w, &lo, &hi);
	for (r = 0; r < ROUNDS; r++) {
		vmsig_mem_flush(mem);
		t[0] = now();
		if (vmsig_win_proc_list(w, &l) < 0 || l->n != NPROC)
			exit(1);
		cold[r] = now() - t[0];
		vmsig_win_procs_free(l);
		t[0] = now();
		(void)vmsig_win_proc_list(w, &l);
		warm[r] = now() - t[0];
		vmsig_win_procs_free(l);
		t[0] = now();
		for (p = 0; p < g->nproc; p++) {
			(void)vmsig_mem_read_va(mem, g->kcr3, g->p[p].ep + lo,
			    buf, hi - lo, NULL);
			sink += buf[0];
		}
		raw[r] = now() - t[0];
		t[0] = now();
		for (p = 0; p < g->nproc; p++)
			raw_all(mem, g, p, lo, hi, buf);
		all[r] = now() - t[0];
	}
	d = median(all, ROUNDS);
	a = median(cold, ROUNDS);
	b = median(warm, ROUNDS);
	c = median(raw, ROUNDS);
	printf("ps %d processes: cold %.1f us  warm %.1f us  raw EPROCESS "
	    "read_va (%u B each) %.1f us  warm/raw %.2f (target <= 2)  "
	    "cold/warm %.2f\n", NPROC, a * 1e6, b * 1e6, hi - lo, c * 1e6,
	    b / c, a / b);
	printf("ps %d processes: warm %.1f us  raw read_va of the same "
	    "EPROCESS spans + PEB.ProcessParameters + ImagePathName + its "
	    "buffer %.1f us  warm/raw %.2f\n", NPROC, b * 1e6, d * 1e6, b / d);
	for (i = 0; i < ROUNDS; i++)
		t[i] = 0;
}

static void
bench_open(struct vmsig_mem *mem, const struct wimg *g)
{
	double t[ROUNDS], x, pm[ROUNDS], y;
	struct vmsig_win *w;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		vmsig_mem_flush(mem);
		x = now();
		if (vmsig_win_open(mem, g->kcr3, &w) < 0)
			exit(1);
		t[r] = now() - x;
		vmsig_win_close(w);
		/* Baseline: one read_va of 4 KiB per process (the sample). */
		vmsig_mem_flush(mem);
		x = now();
		{
			uint8_t buf[4096];
			unsigned int p;

			for (p = 0; p < g->nproc && p < 256; p++)
				(void)vmsig_mem_read_va(mem, g->kcr3,
				    g->p[p].ep, buf, sizeof(buf), NULL);
		}
		pm[r] = now() - x;
	}
	x = median(t, ROUNDS);
	y = median(pm, ROUNDS);
	printf("open (kernel search + offset discovery): %.2f ms  baseline "
	    "4 KiB read_va of the 256 sampled EPROCESS: %.2f ms  ratio %.1f\n",
	    x * 1e3, y * 1e3, x / y);
}

static void
bench_mods(struct vmsig_mem *mem, struct vmsig_win *w, const struct wimg *g)
{
	double t[ROUNDS], raw[ROUNDS], all[ROUNDS], x, a, b, c;
	struct vmsig_win_modules *m;
	uint8_t e[0x68];
	uint64_t ldr = WI_USER + 0x2000 + 0x100;
	int r, k;

	for (r = 0; r < ROUNDS; r++) {
		x = now();
		if (vmsig_win_mod_list(w, g->p[5].pid, &m) < 0 ||
		    m->n != NMODS)
			exit(1);
		t[r] = now() - x;
		vmsig_win_modules_free(m);
		x = now();
		for (k = 0; k < NMODS; k++) {
			(void)vmsig_mem_read_va(mem, g->p[5].dtb,
			    ldr + WI_LDRE * (uint64_t)k, e, sizeof(e), NULL);
			sink += e[0];
		}
		raw[r] = now() - x;
		x = now();
		for (k = 0; k < NMODS; k++) {
			uint64_t ea = ldr + WI_LDRE * (uint64_t)k, sb;
			uint16_t n;
			uint8_t str[512];

			(void)vmsig_mem_read_va(mem, g->p[5].dtb, ea, e,
			    sizeof(e), NULL);
			memcpy(&n, e + 0x48, 2);
			memcpy(&sb, e + 0x50, 8);
			(void)vmsig_mem_read_va(mem, g->p[5].dtb, sb, str, n,
			    NULL);
			memcpy(&n, e + 0x58, 2);
			memcpy(&sb, e + 0x60, 8);
			(void)vmsig_mem_read_va(mem, g->p[5].dtb, sb, str, n,
			    NULL);
			sink += str[0];
		}
		all[r] = now() - x;
	}
	a = median(t, ROUNDS);
	b = median(raw, ROUNDS);
	c = median(all, ROUNDS);
	printf("modules of a %d-module process: %.1f us  raw read_va of its "
	    "loader entries: %.1f us (ratio %.2f), of the entries and both "
	    "names: %.1f us (ratio %.2f)\n", NMODS, a * 1e6, b * 1e6, a / b,
	    c * 1e6, a / c);
}

/* Linear scan of the same name table, as a caller without the API would. */
static int
linear(struct vmsig_mem *mem, uint64_t cr3, const char *name)
{
	uint8_t d[40], n4[4];
	char s[64];
	uint32_t nn, names, i, rva;

	if (vmsig_mem_read_va(mem, cr3, WI_DLL + 0x2000, d, 40, NULL) < 0)
		return -1;
	memcpy(&nn, d + 24, 4);
	memcpy(&names, d + 32, 4);
	for (i = 0; i < nn; i++) {
		(void)vmsig_mem_read_va(mem, cr3, WI_DLL + names + 4 * i, n4, 4,
		    NULL);
		memcpy(&rva, n4, 4);
		(void)vmsig_mem_read_va(mem, cr3, WI_DLL + rva, s, 8, NULL);
		s[8] = '\0';
		if (strcmp(s, name) == 0)
			return (int)i;
	}
	return -1;
}

static void
bench_exports(struct vmsig_mem *mem, struct vmsig_win *w,
    const struct wimg *g)
{
	struct vmsig_win_pe *pe;
	struct vmsig_win_export f;
	double x, a, b;
	char name[16];
	int i, n = 300;

	if (vmsig_win_pe_open(w, g->p[5].dtb, WI_DLL, &pe) < 0)
		exit(1);
	x = now();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "Fn%05d", (i * 997) % NEXP);
		if (vmsig_win_pe_export_find(pe, name, &f) < 0)
			exit(1);
		sink += f.ordinal;
	}
	a = (now() - x) / n;
	x = now();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "Fn%05d", (i * 997) % NEXP);
		if (linear(mem, g->p[5].dtb, name) < 0)
			exit(1);
	}
	b = (now() - x) / n;
	printf("export by name in a %d-export DLL: binary search %.2f us  "
	    "linear scan %.2f us  speedup %.0fx\n", NEXP, a * 1e6, b * 1e6,
	    b / a);
	vmsig_win_pe_close(pe);
}

int
main(void)
{
	struct vmsig_win_procs *l;
	struct vmsig_mem *mem;
	struct vmsig_win *w;
	static struct wimg g;
	uint8_t *img;
	char path[64];
	long r0, r1, r2;
	int rw, fd;

	if ((img = malloc(IMG_SIZE)) == NULL)
		return 1;
	wi_build(&g, img, IMG_SIZE, 1, NPROC, NMODS, NEXP, 1, 0);
	rw = kimg_memfd(img, IMG_SIZE);
	free(img);
	if (rw < 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	(void)close(rw);
	if (fd < 0 || vmsig_mem_open(fd, IMG_SIZE, &mem) < 0)
		return 1;
	printf("guest: %u processes, %d modules each, %d exports, %u MiB\n",
	    g.nproc, NMODS, NEXP, IMG_SIZE >> 20);
	bench_open(mem, &g);
	r0 = heap_used();
	if (vmsig_win_open(mem, g.kcr3, &w) < 0)
		return 1;
	r1 = heap_used();
	if (vmsig_win_proc_list(w, &l) < 0)
		return 1;
	r2 = heap_used();
	printf("memory: context %.1f KiB of heap, one listing of %zu "
	    "processes %.1f KiB (%.0f B a process); process RssAnon %ld KiB "
	    "(the mapping of guest RAM is not counted)\n", (r1 - r0) / 1024.0,
	    l->n, (r2 - r1) / 1024.0, (double)(r2 - r1) / (double)l->n,
	    rss_anon());
	vmsig_win_procs_free(l);
	bench_procs(mem, w, &g);
	bench_mods(mem, w, &g);
	bench_exports(mem, w, &g);
	vmsig_win_close(w);
	vmsig_mem_close(mem);
	(void)close(fd);
	return 0;
}
