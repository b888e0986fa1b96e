/* SPDX-License-Identifier: MIT */
/*
 * Ground truth of a synthetic guest image written by tests/guestgen, read
 * back by the tests (json-c).  See tests/guestgen/README.md for the format.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TEST_MANIFEST_H
#define VMSIG_TEST_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/memctx.h>

struct gg_probe {
	uint64_t cr3;
	uint64_t va;
	size_t len;
	uint8_t *bytes;		/* len expected bytes; NULL for a fault probe */
	int fault;		/* 1: reading va must fail with -err */
	int err;		/* fault probes: EFAULT, or EINVAL for a
				 * non-canonical va; 0 otherwise */
};

struct gg_map {
	uint64_t cr3, va, size, gpa, page_size;
	uint32_t flags;		/* VMSIG_PAGE_* */
};

struct gg_pattern {
	uint64_t cr3;		/* 0: physical */
	uint64_t addr;		/* va (or gpa when cr3 == 0) of the hit */
	size_t len;
	uint8_t *bytes;
};

/* The Windows scene ("win" in the manifest; README.md has the format). */
struct gg_win_proc {
	uint32_t pid, ppid;
	char *name;		/* ImageFileName as stored (at most 15 bytes) */
	char *path;		/* UTF-8 image path; NULL when the guest has none
				 * or it cannot be read (see path_fault) */
	uint64_t eprocess;	/* VA of the EPROCESS */
	uint64_t dtb;		/* DirectoryTableBase as stored (System: kcr3|2) */
	uint64_t user_dtb;	/* UserDirectoryTableBase (0: none) */
	uint64_t peb;		/* VA (0: none) */
	int exited, wow64;
	uint64_t path_fault;	/* 0, or the PEB VA: reading the path fails
				 * with -EFAULT inside that page */
};

struct gg_win_module {
	char *name, *path;	/* BaseDllName, FullDllName (UTF-8); NULL
				 * when their buffers are paged out */
	uint64_t base, size, entry;
	uint64_t fault_va;	/* 0, or the page of the paged-out names */
	uint64_t header_fault;	/* 0, or base: the PE header page is not
				 * mapped in this process (pe_open -EFAULT) */
};

struct gg_win_modlist {
	uint32_t pid;		/* 4: the kernel's PsLoadedModuleList */
	int status;		/* 0, or EFAULT (14) */
	uint64_t fault_va;	/* with EFAULT: the PEB VA (n == 0: the PEB
				 * cannot be read), or the page of the first
				 * loader entry that is paged out (the list
				 * ends there: v holds the entries before) */
	size_t n;
	struct gg_win_module *v;	/* load order */
};

struct gg_win_section {
	char *name;
	uint64_t va, size;
	uint32_t characteristics;
};

struct gg_win_export {
	char *name;		/* NULL: by ordinal only */
	uint32_t ordinal;	/* biased */
	uint64_t va;		/* 0 for a forwarder */
	char *forward;		/* "NTDLL.RtlAllocateHeap", or NULL */
};

struct gg_win_import {
	char *module;
	char *name;		/* NULL: by ordinal */
	uint32_t ordinal;	/* the ordinal, or the hint of a named import */
	uint64_t iat;		/* VA of the IAT slot */
};

struct gg_win_pe {
	uint32_t pid;		/* open it in this process (4: kernel) */
	char *module;		/* its BaseDllName in that module list */
	uint64_t base;
	unsigned int bits;	/* 64 or 32 */
	size_t nsections, nexports, nimports;
	struct gg_win_section *sections;
	struct gg_win_export *exports;	/* ordinal order */
	struct gg_win_import *imports;	/* descriptor order */
};

struct gg_win_offset {
	char *name;		/* "EPROCESS.UniqueProcessId" */
	uint32_t offset;
};

struct gg_win {
	int present;		/* 0: an image without a Windows scene */
	uint32_t build;		/* NtBuildNumber & 0xffff */
	uint64_t build_raw;	/* NtBuildNumber as stored */
	char *layout;		/* "19045", "shifted", ... */
	uint64_t kernel_base, kernel_size, system_eprocess;
	uint64_t ps_active_process_head;	/* not exported: in .data */
	uint64_t ps_loaded_module_list;
	uint64_t mm_process_list;	/* the MmProcessLinks head (a trap) */
	unsigned int opt_procs, opt_modules, opt_exports;
	int corrupt_ring;
	size_t noffsets;
	struct gg_win_offset *offsets;
	size_t nprocs;
	struct gg_win_proc *procs;	/* ring order, System first; only
					 * what a walk reaches before a break */
	int ring_status;	/* 0, or EBADMSG (74): the walk ends after
				 * procs[nprocs - 1] */
	uint64_t ring_break;	/* with EBADMSG: the Flink of procs[nprocs-1]
				 * (an address whose Blink does not point
				 * back) */
	size_t ndecoys;
	uint64_t *decoys;	/* EPROCESS-like objects no list reaches */
	size_t nmodlists;
	struct gg_win_modlist *modlists;
	size_t npe;
	struct gg_win_pe *pe;
};

struct gg_manifest {
	char *image;		/* path of the RAM file */
	uint64_t file_size;	/* bytes of the file */
	uint64_t low;		/* split point (== file_size for one region) */
	uint32_t nseg;		/* the same layout as explicit segments */
	vmsig_memseg *segs;
	uint64_t kcr3;		/* 0 for a pure-noise image */
	int has_lowstub;
	uint64_t lowstub_pa;
	uint64_t kernel_base;	/* VA of the kernel image's MZ header */
	uint64_t system_eprocess;	/* VA */
	size_t nproc;
	uint64_t *proc_cr3;	/* DirectoryTableBase of each process, System first */
	size_t nprobes;
	struct gg_probe *probes;
	size_t nmaps;
	struct gg_map *maps;	/* the kcr3 address space's mapped runs */
	size_t npatterns;
	struct gg_pattern *patterns;

	/* Extras (README.md): more ground truth for discovery tests. */
	uint64_t seed;
	uint64_t kernel_entry;	/* the low stub's entry VA, in the image */
	uint64_t ps_initial_system_process;	/* VA of that variable */
	uint64_t onegig_va;	/* VA of the 1 GiB page of guest-physical 0 */
	uint64_t decoy_pml4;	/* a self-referencing page that must not
				 * validate */
	unsigned int self_index;	/* kcr3's self-reference PML4 slot */
	size_t ndecoy_stubs;
	uint64_t *decoy_stubs;	/* PAs of low-stub decoys, each failing one
				 * test */

	struct gg_win win;	/* win.present == 0 without a Windows scene */
};

/*
 * manifest_win.c: load the "win" object of the JSON root (a json_object *)
 * into m->win (absent: m->win.present stays 0); 0 or -EINVAL, -ENOMEM.
 * gg_win_free() releases what it loaded (gg_manifest_free calls it).
 */
int gg_win_load(void *json_root, struct gg_manifest *m);
void gg_win_free(struct gg_win *w);

/* The Windows process with `pid`, or NULL. */
const struct gg_win_proc *gg_win_proc_by_pid(const struct gg_manifest *m,
    uint32_t pid);
/* The module list of `pid`, or NULL. */
const struct gg_win_modlist *gg_win_mods_by_pid(const struct gg_manifest *m,
    uint32_t pid);
/* The value of offset `name` ("EPROCESS.Peb"), or -1. */
int64_t gg_win_offset(const struct gg_manifest *m, const char *name);

/*
 * Load a manifest.  Returns 0 and *ret (the caller frees it with
 * gg_manifest_free), or -errno: -ENOENT and the like from opening it,
 * -EINVAL for bad JSON or a missing or malformed required field, -ENOMEM.
 */
int gg_manifest_load(const char *path, struct gg_manifest **ret);
/* Accepts NULL. */
void gg_manifest_free(struct gg_manifest *m);

/*
 * Run the real build/guestgen (VMSIG_BUILD_DIR "/guestgen") with `argv`
 * (NULL-terminated, without the program name, at most 64 entries), wait
 * for it; returns its exit status (0 ok, 1 bad usage, 2 other failure,
 * 127 exec failed, 128 + signal when killed) or -errno (-EINVAL for NULL,
 * -E2BIG for too many arguments, fork/waitpid errors).
 */
int gg_run(char *const argv[]);

/*
 * Generate an image in directory `dir` (which must exist): runs guestgen
 * --out DIR/NAME.img --manifest DIR/NAME.json followed by `extra` (a
 * NULL-terminated list such as {"--size", "256M", NULL}; NULL for none),
 * then loads the manifest.  On success returns 0 and *ret (free with
 * gg_manifest_free; ret->image is DIR/NAME.img, the manifest is
 * DIR/NAME.json).  Returns -EINVAL for bad arguments or a manifest that
 * does not load, -ECHILD when guestgen exits non-zero, -ENOMEM, or the
 * error of fork/exec.
 */
int gg_make(const char *dir, const char *name, const char *const extra[],
    struct gg_manifest **ret);

/*
 * Run guestgen --reboot on m->image with the manifest at `manifest_path`
 * (rewritten in place) and seed `seed` (0: the old seed + 1), then load the
 * new manifest into *ret.  Returns as gg_make().
 */
int gg_reboot(const char *manifest_path, const char *image, uint64_t seed,
    struct gg_manifest **ret);

/* Decode a hex string ("0a1b..") of even length into len bytes; -EINVAL. */
int gg_unhex(const char *s, uint8_t **ret_bytes, size_t *ret_len);

/* manifest.c: the JSON field readers manifest_win.c shares (json-c). */
struct json_object;
/* A "0x..." string or a JSON integer into *ret.  0 or -EINVAL (NULL too). */
int gg_json_u64(struct json_object *v, uint64_t *ret);
/*
 * The array member `key` of o: *ret_n elements of elem bytes calloc'ed
 * (plus one, zeroed) into *ret, the array itself into *ret_arr (borrowed).
 * 0, -EINVAL when there is no such array, -ENOMEM; nothing written then.
 */
int gg_json_array(struct json_object *o, const char *key, size_t elem,
    struct json_object **ret_arr, void **ret, size_t *ret_n);

#endif
