/* SPDX-License-Identifier: MIT */
/*
 * Private header of guestgen, the synthetic Windows-x64-like guest RAM
 * generator: the in-memory model of the guest (pages built so far, frames
 * reserved, ground truth collected for the manifest) and, per file, what
 * that file exports.  guestgen is a test tool: on an impossible request it
 * prints a message and exits, it never returns half-built images.
 *
 * Runs in: tests (guestgen)
 */
#ifndef GUESTGEN_H
#define GUESTGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GG_4K		0x1000ull
#define GG_2M		0x200000ull
#define GG_1G		0x40000000ull
#define GG_4G		0x100000000ull
#define GG_1M		0x100000ull

/* Page-table entry bits (Intel SDM Vol. 3A, 4.5). */
#define E_P		(1ull << 0)
#define E_RW		(1ull << 1)
#define E_US		(1ull << 2)
#define E_PS		(1ull << 7)
#define E_PAT_LARGE	(1ull << 12)	/* PAT of a 2 MiB/1 GiB page */
#define E_XD		(1ull << 63)
#define E_FRAME		0x000ffffffffff000ull

/* Effective rights, as include/vmsig/mem.h reports them. */
#define GG_W		0x1u
#define GG_U		0x2u
#define GG_NX		0x4u

/* Where the low stub and its decoys may live (PROCESSOR_START_BLOCK). */
#define GG_STUB_LO	0x1000ull
#define GG_STUB_HI	0x9f000ull

/* The canonical kernel VA of PML4 slot idx (256..511). */
#define GG_KVA(idx)	(0xffff000000000000ull | ((uint64_t)(idx) << 39))

struct gg_slot {		/* one built 4 KiB page */
	uint64_t pfn;
	uint8_t *data;
};

struct gg_range {
	uint64_t start, end;	/* guest-physical [start, end) */
};

struct gg_maprec {		/* one page mapped explicitly */
	uint64_t cr3, va, gpa, page_size;
	uint32_t flags;		/* GG_W | GG_U | GG_NX */
};

struct gg_probe_out {
	uint64_t cr3, va;
	size_t len;
	uint8_t *bytes;		/* NULL for a fault probe */
	int err;		/* expected errno of a fault probe */
};

struct gg_pat_out {
	uint64_t cr3, addr;
	uint8_t bytes[16];
};

struct guest {
	/* parameters */
	const char *image;
	uint64_t size, low, seed;
	int lowstub, noise_only;
	unsigned int fill;
	uint64_t rng;
	unsigned int npt;	/* page tables allocated (spreads them) */

	/* the pages built so far, open addressing on pfn */
	struct gg_slot *slots;
	size_t nslots, slots_cap;
	struct gg_range *res;	/* frames nothing else may take (not 4 KiB) */
	size_t nres, res_cap;
	uint64_t *rpfn;		/* reserved 4 KiB frames: pfn + 1, open
				 * addressing (0: empty) */
	size_t nrpfn, rpfn_cap;

	/* ground truth for the manifest */
	uint64_t kcr3, lowstub_pa, kernel_base, kernel_entry, sys_eproc;
	uint64_t psisp_va;	/* VA of the PsInitialSystemProcess variable */
	uint64_t onegig_va;
	uint64_t kimg[2];	/* the kernel image's two 2 MiB frames */	/* VA of the 1 GiB page of guest-physical 0 */
	uint64_t *procs;	/* every PML4 that validates, System first */
	size_t nproc, procs_cap;
	unsigned int self_idx;
	uint64_t decoy_pml4;
	uint64_t decoy_stubs[4];
	size_t ndecoy_stubs;
	struct gg_maprec *recs;
	size_t nrecs, recs_cap;
	struct gg_probe_out *probes;
	size_t nprobes, probes_cap;
	struct gg_pat_out *pats;
	size_t npats, pats_cap;

	/* The Windows scene (win*.c); NULL with --windows none. */
	struct win *win;
};

/* Windows scene options (guestgen.c fills them, win.c reads them). */
struct win_opts {
	const char *build;	/* "19045", "shifted", ...; NULL: none */
	unsigned int procs, modules, exports;
	int corrupt_ring;
};

/* image.c: PRNG, layout, frame reservations, the page store, output. */
uint64_t image_rand(struct guest *);
uint64_t image_randn(struct guest *, uint64_t n);
void	image_randbytes(struct guest *, void *buf, size_t len);
void	*image_grow(void *arr, size_t *cap, size_t n, size_t elem);
uint64_t image_ram_end(const struct guest *);
int	image_in_ram(const struct guest *, uint64_t gpa, uint64_t len);
uint64_t image_off(const struct guest *, uint64_t gpa);
void	image_reserve(struct guest *, uint64_t gpa, uint64_t len);
int	image_reserved(const struct guest *, uint64_t gpa, uint64_t len);
uint64_t image_alloc(struct guest *, uint64_t size, uint64_t lo, uint64_t hi);
uint64_t image_any_frame(struct guest *);
uint8_t	*image_page(struct guest *, uint64_t gpa);
void	image_write(struct guest *, uint64_t gpa, const void *buf, size_t len);
void	image_read(struct guest *, uint64_t gpa, void *buf, size_t len);
void	image_put64(struct guest *, uint64_t gpa, uint64_t v);
uint64_t image_get64(struct guest *, uint64_t gpa);
void	image_flush(struct guest *, int fd);
void	image_fill(struct guest *, int fd);
void	image_zero(struct guest *, int fd, uint64_t gpa, uint64_t len);
void	image_free(struct guest *);

/* build.c: page tables. */
uint64_t build_table(struct guest *);
void	build_map(struct guest *, uint64_t cr3, uint64_t va, uint64_t gpa,
	    uint64_t page_size, uint64_t leaf, uint64_t mid, int record);
void	build_selfref(struct guest *, uint64_t pml4, unsigned int idx, int xd);
void	build_clone_kernel(struct guest *, uint64_t src, uint64_t dst);
int	build_lookup(const struct guest *, uint64_t cr3, uint64_t va,
	    uint64_t *ret_gpa);

/* pe.c: the kernel image. */
#define PE_KIMG_SIZE	(2 * GG_2M)
void	pe_frames(struct guest *);
void	pe_build(struct guest *);
void	pe_kwrite(struct guest *, uint32_t rva, const void *buf, size_t len);

/* win.c: the Windows scene (EPROCESS ring, PEBs, modules, PE images). */
void	win_new(struct guest *, const struct win_opts *);
void	win_kernel(struct guest *, unsigned int pool_slot);
void	win_build(struct guest *);
void	win_free(struct guest *);
void	scene_add_proc(struct guest *, uint64_t cr3);

/* scene.c: everything in the guest, and the ground truth. */
void	scene_probe(struct guest *, uint64_t cr3, uint64_t va, size_t len);
void	scene_fault(struct guest *, uint64_t cr3, uint64_t va, int err);
void	scene_build(struct guest *);

/* decoy.c: the low stub and its decoys, a decoy PML4, noise pages. */
void	decoy_lowstub(struct guest *);
void	decoy_pml4(struct guest *);
void	decoy_noise(struct guest *, unsigned int nrandom, unsigned int ntables);

/* manifest_out.c: the manifest, written and (for --reboot) read back. */
struct gg_old {
	uint64_t file_size, low, kcr3, lowstub_pa, seed;
	int lowstub;
	uint64_t *procs;	/* every PML4 of the old boot (malloc'd) */
	size_t nproc;
	struct win_opts win;	/* the Windows scene options it was made with */
	char build[16];
};
void	manifest_out_write(const struct guest *, const char *path);
int	manifest_out_read(const char *path, struct gg_old *ret);
/* JSON pieces win_out.c writes too: a string (NULL: null), a "0x..." member
 * followed by sep. */
void	manifest_out_str(FILE *f, const char *s);
void	manifest_out_hex(FILE *f, const char *key, uint64_t v, const char *sep);

#endif
