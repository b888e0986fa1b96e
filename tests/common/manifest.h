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
	int fault;		/* 1: reading va must fail with -EFAULT */
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
};

/* Load a manifest.  Returns 0 and *ret, or -errno (-EINVAL: bad JSON). */
int gg_manifest_load(const char *path, struct gg_manifest **ret);
/* Accepts NULL. */
void gg_manifest_free(struct gg_manifest *m);

/*
 * Run the real build/guestgen with `argv` (NULL-terminated, without the
 * program name), wait for it; returns its exit status or -errno.
 */
int gg_run(char *const argv[]);

#endif
