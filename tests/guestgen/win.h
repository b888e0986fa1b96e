/* SPDX-License-Identifier: MIT */
/*
 * Private header of guestgen's Windows scene: the structure layouts of the
 * modelled builds (win_layout.c), PE images built once and mapped into any
 * number of address spaces (win_pe.c), the processes with their EPROCESS,
 * PEB, process parameters and loader lists (win_proc.c), the kernel pool,
 * user memory and kernel modules (win.c), and the manifest's "win" object
 * (win_out.c).  Everything here is ground truth: the manifest is written
 * from these records, never read back from the image.
 *
 * Runs in: tests (guestgen)
 */
#ifndef GUESTGEN_WIN_H
#define GUESTGEN_WIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "guestgen.h"

#define STATUS_PENDING		0x103u

/* One EPROCESS layout (offsets from the start of the EPROCESS). */
struct win_layout {
	const char *name;	/* "19045", "shifted" */
	const char *what;	/* which Windows it models */
	uint32_t build;		/* NtBuildNumber & 0xffff */
	uint32_t size;		/* sizeof(EPROCESS) */
	uint32_t kprocess_size;
	int kvas;		/* UserDirectoryTableBase used */
	uint16_t udtb, pid, links, flags2, flags, ctime, token, session_links,
	    ppid, section_base, peb, objtable, wow64, fname, thl, athreads,
	    exitstatus, mm_links;
};

/* The offsets the manifest lists, by name; end with name NULL. */
struct win_field {
	const char *name;	/* "EPROCESS.UniqueProcessId" */
	size_t off;		/* offsetof(struct win_layout, ...), or ~0 */
	uint32_t fixed;		/* the offset when off is ~0 */
};

const struct win_layout *win_layout_find(const char *name);
const char *win_layout_names(void);
extern const struct win_field win_fields[];
uint32_t win_field_off(const struct win_layout *, const struct win_field *);

struct win_sec {
	char name[9];
	uint32_t rva, size, chars;
};

struct win_exp {
	char *name;		/* NULL: by ordinal only */
	char *forward;		/* "NTDLL.RtlAllocateHeap", or NULL */
	uint32_t ordinal;	/* biased */
	uint32_t rva;		/* 0 for a forwarder */
};

struct win_imp {
	const char *module;	/* static */
	const char *name;	/* static; NULL: by ordinal */
	uint32_t ordinal;	/* ordinal, or the hint */
	uint32_t iat_rva;
};

/* A PE image, built once in `pages`, mapped read-only wherever loaded. */
struct win_img {
	char name[64];		/* BaseDllName */
	char path[200];		/* FullDllName (UTF-8) */
	uint64_t base;
	uint32_t size, entry_rva;
	int bits;		/* 64, or 32 (PE32) */
	int kernel;		/* mapped under kcr3 (a driver) */
	struct win_sec sec[10];
	unsigned int nsec;
	struct win_exp *exp;
	size_t nexp;
	uint32_t exp_base;
	struct win_imp *imp;
	size_t nimp;
	uint32_t cur, cur_end;	/* free space in .rdata */
	uint32_t dir[16][2];	/* data directories: RVA, size */
	uint8_t **pages;	/* size / 4K page buffers, NULL: not present */
	uint64_t *frames;	/* their frames once placed */
	uint32_t emit;		/* pid to list it under in "pe"; 0: not */
};

struct win_proc {
	uint32_t pid, ppid;
	char name[16];		/* ImageFileName (15 bytes) */
	const char *path;	/* UTF-8 or NULL (static) */
	uint64_t eproc, dtb, udtb, peb, wow64;
	int exited, peb_absent, reachable, no_peb;
	/* Paged-out loader data (0: none): the module whose name buffers
	 * are out, the first entry that is out, the module whose header
	 * page is not mapped in this process. */
	size_t out_names, out_entry, out_header;
	uint64_t names_va, entry_va;	/* their page's VA */
	unsigned int session;
	struct win_img **mods;	/* load order, exe first */
	size_t nmods;
	uint64_t heap, heap_end;	/* user bump allocator */
	uint64_t kdtb;		/* PML4 physical address */
};

struct win {
	struct win_opts opt;
	const struct win_layout *L;
	uint64_t pool, pool_end;	/* kernel pool bump allocator */
	uint64_t active_head, module_head, mm_head;	/* VAs in .data */
	uint64_t build_raw;
	struct win_proc *procs;
	size_t nprocs;
	struct win_img **imgs;	/* every image built */
	size_t nimgs, imgs_cap;
	struct win_img **kmods;	/* PsLoadedModuleList order */
	size_t nkmods;
	struct win_img *kimg;	/* ntoskrnl's ground truth */
	uint64_t next_dll, next_exe, next_drv;
	uint64_t kusd;		/* KUSER_SHARED_DATA's frame */
	uint64_t pool_base;
	uint64_t decoys[8];
	size_t ndecoys;
	int ring_status;
	uint64_t ring_break;	/* the Flink that does not point back */
};

/* win.c */
uint64_t win_pool_alloc(struct guest *, size_t len, size_t align);
void	win_vwrite(struct guest *, uint64_t cr3, uint64_t va, const void *buf,
	    size_t len);
void	win_vput64(struct guest *, uint64_t cr3, uint64_t va, uint64_t v);
void	win_vput32(struct guest *, uint64_t cr3, uint64_t va, uint32_t v);
uint64_t win_user_alloc(struct guest *, struct win_proc *, size_t len);
void	win_ustring(struct guest *, uint64_t cr3, uint64_t at,
	    const char *utf8, struct win_proc *heap_or_null);
size_t	win_utf16(const char *utf8, uint16_t *out, size_t max);
void	win_pte_set(struct guest *, uint64_t cr3, uint64_t va, uint64_t pte);
void	win_map_user(struct guest *, uint64_t cr3, uint64_t va, uint64_t f,
	    uint64_t leaf);

/* win_pe.c */
struct win_img *win_pe_new(struct guest *, const char *name,
	    const char *path, uint64_t base, uint32_t size, int bits);
void	win_pe_exports(struct guest *, struct win_img *, const char *dllname,
	    const char *const *names, size_t nreal, size_t ntotal,
	    size_t nord_only, uint32_t base, const char *const *fwd);
void	win_pe_imports(struct guest *, struct win_img *,
	    const struct win_imp *imps, size_t n);
void	win_pe_finish(struct guest *, struct win_img *);
void	win_pe_map(struct guest *, struct win_img *, uint64_t cr3,
	    int no_header);
void	win_pe_free(struct win_img *);

/* win_mods.c */
extern const char *const win_dll_catalog[];
struct win_img *win_dll(struct guest *, const char *name, int app);
struct win_img *win_exe(struct guest *, const char *path, int wow64);
struct win_img *win_app_dll(struct guest *, unsigned int i);
void	win_mods_init(struct guest *);

/* win_proc.c */
void	win_procs_build(struct guest *);

/* win_ring.c */
void	win_ring_build(struct guest *);

/* win_kmod.c */
void	win_kimage(struct guest *, uint32_t entry_rva, size_t nexports);
void	win_ksection(struct guest *, const char *name, uint32_t rva,
	    uint32_t size, uint32_t chars);
void	win_kexport(struct guest *, const char *name, uint32_t ordinal,
	    uint32_t rva);
void	win_kimport(struct guest *, const char *module, const char *name,
	    uint32_t hint, uint32_t iat_rva);
void	win_kmods_build(struct guest *);

/* win_out.c */
void	win_out(const struct guest *, FILE *);

#endif
