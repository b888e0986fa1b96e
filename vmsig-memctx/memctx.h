/* SPDX-License-Identifier: MIT */
/*
 * The helper's private header: what each file of vmsig-memctx exports.
 * layout.c turns the layout options into guest-physical segments of the RAM
 * file; ram.c maps the file and is the only reader of guest bytes; kcr3*.c
 * and pe.c find and check the guest kernel's page-table root.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * errno value on failure, never print, and write ret_* parameters only on
 * success.  Nothing here is thread-safe: the helper runs one thread.
 *
 * Runs in: vmsig-memctx
 */
#ifndef VMSIG_MEMCTX_PRIV_H
#define VMSIG_MEMCTX_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmsig/memctx.h>

/* ---- layout.c ------------------------------------------------------------ */

#define LAYOUT_MAX_SEGS		64
#define LAYOUT_4G		0x100000000ull
#define LAYOUT_PAGE		0x1000ull

enum layout_machine {
	LAYOUT_MACHINE_NONE = 0,
	LAYOUT_MACHINE_Q35,
	LAYOUT_MACHINE_PC,
};

/* What the command line said; zero-initialise, then feed layout_opt_*(). */
struct layout_opts {
	int have_low;
	uint64_t low;
	enum layout_machine machine;
	uint32_t nseg;
	vmsig_memseg segs[LAYOUT_MAX_SEGS];
};

/*
 * A checked layout.  segs[] always describes the whole guest RAM sorted by
 * gpa (one or two segments for the `low` form).  On the wire: explicit == 0
 * means nseg == 0 and `low`; explicit == 1 means segs[0..nseg) are sent.
 */
struct layout {
	int explicit;
	uint64_t low;
	uint64_t file_size;
	uint32_t nseg;
	vmsig_memseg segs[LAYOUT_MAX_SEGS];
};

/*
 * Parse a byte count: decimal or 0x hex, optional K, M, G or T suffix
 * (powers of 1024).  Returns 0 and *ret, -EINVAL (syntax) or -ERANGE
 * (overflows 64 bits).
 */
int layout_parse_size(const char *s, uint64_t *ret);

/*
 * Record one option (--low BYTES, --seg GPA:LEN:OFFSET, --machine q35|pc).
 * They check syntax and combinations only; the file decides the rest in
 * layout_build().  Return 0, or -EINVAL / -ERANGE / -E2BIG (too many --seg)
 * with *ret_why (when non-NULL) pointing to a static sentence for the user.
 */
int layout_opt_low(struct layout_opts *o, const char *arg,
    const char **ret_why);
int layout_opt_seg(struct layout_opts *o, const char *arg,
    const char **ret_why);
int layout_opt_machine(struct layout_opts *o, const char *arg,
    const char **ret_why);

/*
 * Build the layout of a RAM file of `file_size` bytes.  Returns 0 and *ret,
 * or -EINVAL with *ret_why saying what does not fit and what to do.
 */
int layout_build(const struct layout_opts *o, uint64_t file_size,
    struct layout *ret, const char **ret_why);

/*
 * Where guest-physical `gpa` lives: *ret_off (file offset) and *ret_avail
 * (bytes from gpa to the end of its segment).  -EFAULT when gpa is not RAM.
 */
int layout_gpa_to_off(const struct layout *l, uint64_t gpa,
    uint64_t *ret_off, uint64_t *ret_avail);

/*
 * The inverse: the gpa of file offset `off` and the bytes to the end of its
 * segment.  -EFAULT when no segment maps that offset.
 */
int layout_off_to_gpa(const struct layout *l, uint64_t off,
    uint64_t *ret_gpa, uint64_t *ret_avail);

/* Total guest-physical bytes described. */
uint64_t layout_ram_size(const struct layout *l);

/*
 * The wire form for MemctxReady: *ret_low (RAM below 4 GiB; for explicit
 * segments informational only), and either *ret_nseg = 0 and *ret_segs =
 * NULL (low form) or the segments (borrowed from l, sorted by gpa).
 */
void layout_wire(const struct layout *l, uint64_t *ret_low,
    const vmsig_memseg **ret_segs, uint32_t *ret_nseg);

/* ---- ram.c --------------------------------------------------------------- */

struct ram;

/* Identity of the RAM file, for change detection (main's periodic check). */
struct ram_id {
	dev_t dev;
	ino_t ino;
	uint64_t size;
	uint64_t blocks;	/* st_blocks: allocated 512-byte units */
};

/*
 * Map the RAM file `fd` (opened by main: O_RDONLY|O_NOFOLLOW|O_CLOEXEC)
 * PROT_READ, MAP_SHARED, under layout `l` (copied).  The fd stays the
 * caller's and must outlive the ram.  Builds the map of allocated pages.
 * Returns 0 and *ret, -EINVAL (not a regular file, file size differs from
 * l->file_size, empty), -ENOMEM, or the error of fstat/mmap/lseek.
 */
int ram_open(int fd, const struct layout *l, struct ram **ret);
/* Unmap and free; the fd is left open.  Accepts NULL. */
void ram_close(struct ram *ram);

const struct layout *ram_layout(const struct ram *ram);

/*
 * Copy `len` guest-physical bytes at `gpa` into buf, across segments.
 * Pages that are holes of the file read as zeros without being touched (a
 * read fault would allocate them on tmpfs).  -EFAULT when a byte is not RAM.
 */
int ram_read(struct ram *ram, uint64_t gpa, void *buf, size_t len);

/* An 8-byte entry reader with the shape of paging_read_fn; arg is a ram. */
int ram_read_u64(void *arg, uint64_t gpa, uint64_t *ret_val);

/* 1 when the whole [gpa, gpa + len) is RAM, else 0. */
int ram_contains(const struct ram *ram, uint64_t gpa, uint64_t len);

/*
 * Read `len` bytes at virtual `va` under `cr3` (4-level paging, through
 * paging_walk()).  -EFAULT at a page that does not translate or is not RAM,
 * -EINVAL for a non-canonical va.
 */
int ram_read_va(struct ram *ram, uint64_t cr3, uint64_t va, void *buf,
    size_t len);

/*
 * Call fn for each allocated extent of the file (SEEK_DATA/SEEK_HOLE, read
 * afresh) that some segment maps, in ascending file order, split at segment
 * borders: gpa, len and p, a pointer into the mapping valid for len bytes
 * until ram_close().  Extents are widened to whole pages.  Holes are never
 * touched.  fn returns 0 to go on; anything else stops the walk and is
 * returned.  Returns 0, fn's value, or -errno from lseek.  Note: lseek
 * moves the file position shared with every dup of the fd; nothing in vmsig
 * uses that position (all reads are mmap or pread).
 */
typedef int (*ram_extent_fn)(void *arg, uint64_t gpa, const uint8_t *p,
    uint64_t len);
int ram_extents(struct ram *ram, ram_extent_fn fn, void *arg);

/* Identity of the file now (fstat).  0 or -errno. */
int ram_stat(const struct ram *ram, struct ram_id *ret);

/* ---- pe.c ---------------------------------------------------------------- */

/* Reads `len` bytes of virtual memory at va; 0 or -errno. */
typedef int (*pe_read_fn)(void *arg, uint64_t va, void *buf, size_t len);

/*
 * 1 when va holds an x86-64 PE image (MZ, PE\0\0, PE32+) whose export
 * directory's name is `name` (ASCII, case-insensitive); *ret_size gets
 * SizeOfImage.  0 when it is not, -errno when reading failed.
 */
int pe_is_image(pe_read_fn rd, void *arg, uint64_t va, const char *name,
    uint32_t *ret_size);

/*
 * The VA of export `sym` of the image at `base` (exported by name, not
 * forwarded).  Every RVA and size is checked against SizeOfImage.
 * Returns 0 and *ret_va, -ENOENT (no such export), -EBADMSG (malformed),
 * or the reader's error.
 */
int pe_find_export(pe_read_fn rd, void *arg, uint64_t base, const char *sym,
    uint64_t *ret_va);

/* ---- kcr3.c, kcr3_lowstub.c, kcr3_selfref.c ------------------------------ */

enum kcr3_method {
	KCR3_AUTO = 0,		/* lowstub, then selfref */
	KCR3_LOWSTUB,
	KCR3_SELFREF,
	KCR3_GIVEN,
	KCR3_QMP,		/* CR3 of vCPU 0 as QEMU reports it */
};

struct kcr3_result {
	uint64_t kcr3;
	enum kcr3_method method;	/* the one that succeeded */
	int has_lowstub;		/* a low stub names kcr3 */
	uint64_t lowstub_pa;
	uint64_t entry_va;		/* the stub's kernel entry VA */
	uint64_t kernel_base;		/* selfref: VA of ntoskrnl's MZ */
	uint64_t system_eprocess;	/* selfref: VA */
	uint64_t bytes_scanned;		/* selfref: allocated bytes looked at */
	uint32_t candidates;		/* candidates seen by the method */
	unsigned int levels;		/* paging levels, 4 or 5 (0 reads 4) */
};

/* "auto", "lowstub", "selfref", "given", "qmp"; "?" for anything else. */
const char *kcr3_method_name(enum kcr3_method m);

/*
 * Parse --kcr3: "auto", "lowstub", "selfref", "qmp" or a hex page-table
 * root ("0x1ad000"; method KCR3_GIVEN).  -EINVAL with *ret_why otherwise.
 */
int kcr3_parse(const char *arg, enum kcr3_method *ret_m, uint64_t *ret_given,
    const char **ret_why);

/*
 * Find kcr3 with method `m` (`given` is used by KCR3_GIVEN only) and
 * validate it.  Returns 0 and *ret, or
 *   -ENOENT  no candidate at all (not a Windows x64 guest, or not booted),
 *   -ESRCH   candidates, but none validated / led to the kernel,
 *   -EINVAL  the given value does not validate,
 * with *ret_why (when non-NULL) set to a sentence for the log.  Never reads
 * holes of the file.
 */
int kcr3_discover(struct ram *ram, enum kcr3_method m, uint64_t given,
    struct kcr3_result *ret, const char **ret_why);

/*
 * Check a page-table root: the PML4 page is RAM, it has present kernel-half
 * entries, none of them has PS set, each leads to a table in RAM; when
 * entry_va != 0 it must translate to RAM.  0, or -EINVAL (not a valid root).
 */
int kcr3_validate(struct ram *ram, uint64_t kcr3, uint64_t entry_va);
/* The same for a root of `levels` (4: PML4, 5: PML5) levels: the top
 * table's kernel half (entries 256..511) is checked alike, entry_va is
 * walked with `levels`.  -EINVAL also for levels other than 4 and 5. */
int kcr3_validate_levels(struct ram *ram, uint64_t kcr3, uint64_t entry_va,
    unsigned int levels);

/*
 * KCR3_QMP: a CR3 value QEMU reported for vCPU 0.  The PCID bits (11:0)
 * are masked; when bit 12 is set, the page below is taken if the root does
 * not validate and that page does, or if the root validates and the page
 * below is provably its PTI kernel table (a Linux guest in user mode runs
 * on the user copy, kernel table | 0x1000; see kcr3.c for the rule).
 * Returns 0 and *ret (method KCR3_QMP, levels; candidates 2 when the page
 * below was taken), -ENOENT (cr3 is 0: paging off; early boot tables) or
 * -EINVAL (no validating root), with *ret_why.
 */
int kcr3_from_cr3(struct ram *ram, uint64_t cr3, unsigned int levels,
    struct kcr3_result *ret, const char **ret_why);

/*
 * The periodic check: if cur came with a low stub, it still names cur->kcr3;
 * the PML4 still validates.  A few page reads.  0, or -ESTALE.
 */
int kcr3_revalidate(struct ram *ram, const struct kcr3_result *cur);

/* kcr3_lowstub.c: scan 0x1000..0x9F000 for the x64 PROCESSOR_START_BLOCK. */
struct kcr3_lowstub {
	uint64_t pa;
	uint64_t entry_va;
	uint64_t cr3;
};

/*
 * Parse the page at `pa` as a low stub: 1 and *ret if it is one, 0 if not,
 * -errno when reading failed.
 */
int kcr3_lowstub_at(struct ram *ram, uint64_t pa, struct kcr3_lowstub *ret);

/*
 * The first stub at or after `from` (page-aligned, < 0xA0000) whose CR3
 * validates.  *ret_seen counts stubs seen.  0 and *ret, -ENOENT (no stub
 * at all), -ESRCH (stubs, none valid).
 */
int kcr3_lowstub_find(struct ram *ram, struct kcr3_lowstub *ret,
    uint32_t *ret_seen);

/*
 * 1 when the 4 KiB page `q` (512 entries, at guest-physical pa) looks like
 * a PML4: exactly one self-referencing kernel-half entry, >= 2 other present
 * kernel-half entries into RAM, no kernel-half PS bit.  Else 0.
 */
int kcr3_selfref_candidate(const struct ram *ram, uint64_t pa,
    const uint64_t *q);

/*
 * Scan all allocated RAM for PML4 candidates; through each, find ntoskrnl
 * and PsInitialSystemProcess; the System DirectoryTableBase must itself be
 * a candidate and validate.  Fills kcr3, kernel_base, system_eprocess,
 * bytes_scanned, candidates of *ret (the last two also on failure).
 * 0, -ENOENT (no candidate), -ESRCH, or an lseek error.
 */
int kcr3_selfref_find(struct ram *ram, struct kcr3_result *ret);

#endif
