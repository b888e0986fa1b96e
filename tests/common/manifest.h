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
};

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

#endif
