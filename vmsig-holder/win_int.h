/* SPDX-License-Identifier: MIT */
/*
 * Private to the Windows context (win_open.c, win_prof.c, win_proc.c,
 * win_mod.c, win_pe.c, win_exp.c, win_imp.c, win_scan.c, win_str.c): the
 * context, the offsets it found, the parsed headers of a PE image, and what
 * each file lends the others.  Every number here that comes from Windows is
 * a public fact of the x64 ABI; the EPROCESS offsets are not here at all:
 * win_prof.c finds them in the guest.
 *
 * Runs in: holder
 */
#ifndef VMSIG_HOLDER_WIN_INT_H
#define VMSIG_HOLDER_WIN_INT_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/mem.h>
#include <vmsig/win.h>

#define WIN_PAGE		0x1000ull
#define WIN_FRAME		0x000ffffffffff000ull	/* CR3/PTE frame bits */
#define WIN_KHALF		0xffff800000000000ull
#define WIN_USER_TOP		0x00007fffffff0000ull	/* MmHighestUserAddress+1 */
#define WIN_STATUS_PENDING	0x103u	/* ExitStatus of a live process */

/* 1 when va is a canonical kernel-half (4-level) address. */
static inline int
win_kva(uint64_t va)
{
	return va >= WIN_KHALF;
}

/* 1 when va is a plausible user-mode address (not 0). */
static inline int
win_uva(uint64_t va)
{
	return va >= 0x10000 && va < WIN_USER_TOP;
}

static inline uint16_t
win_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
win_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
win_le64(const uint8_t *p)
{
	return (uint64_t)win_le32(p) | (uint64_t)win_le32(p + 4) << 32;
}

/* The offsets, in the order vmsig_win_offset() lists them. */
enum win_off {
	WO_DTB,			/* EPROCESS (KPROCESS) */
	WO_PID,
	WO_LINKS,
	WO_PPID,
	WO_NAME,
	WO_PEB,
	WO_UDTB,
	WO_EXIT,
	WO_OBJTAB,
	WO_WOW64,
	WO_PEB_IMAGEBASE,	/* PEB, frozen x64 ABI: validated, not found */
	WO_PEB_LDR,
	WO_PEB_PARAMS,
	WO_PARAMS_PATH,
	WO_LDR_LOADORDER,
	WO_LDRE_BASE,
	WO_LDRE_ENTRY,
	WO_LDRE_SIZE,
	WO_LDRE_FULLNAME,
	WO_LDRE_BASENAME,
	WO_N
};

/* EPROCESS bytes discovery reads per process (every field lies below). */
#define WIN_EPROC_SCAN		0x1000u
/* Processes discovery reads whole (the rest of the ring is only walked). */
#define WIN_PROF_SAMPLE		256u
/* Remembered pid -> EPROCESS pairs (vmsig_win_proc_dtb and friends). */
#define WIN_PIDCACHE		1024u

struct win_pidc {
	uint32_t pid;
	uint32_t _pad;
	uint64_t eprocess;
};

struct vmsig_win {
	struct vmsig_mem *mem;
	uint64_t kcr3;		/* frame only */
	struct vmsig_win_info info;
	int32_t off[WO_N];
	const char *how[WO_N];
	/* The span of one EPROCESS the listing reads: [span_lo, span_hi). */
	uint32_t span_lo, span_hi;
	uint64_t exit_value;	/* what WO_EXIT holds in a live process */
	uint64_t fault_va;	/* of the last call that failed -EFAULT */
	struct win_pidc pidc[WIN_PIDCACHE];	/* by (pid / 4) % size */
};

/* LDR_DATA_TABLE_ENTRY bytes read per module (BaseDllName ends at 0x68). */
#define WIN_LDRE_LEN		0x68u

/* A PE image's headers, checked once (win_pe.c). */
#define WIN_DIR_EXPORT		0
#define WIN_DIR_IMPORT		1
#define WIN_PE_NAMEBUF		512

struct vmsig_win_pe {
	struct vmsig_win *win;
	uint64_t cr3;
	uint64_t base;
	uint32_t size;		/* SizeOfImage */
	uint32_t entry_rva;
	uint32_t bits;		/* 32 or 64 */
	uint32_t nsec;
	uint32_t dir_rva[2], dir_size[2];	/* export, import */
	uint8_t sec[VMSIG_WIN_MAX_SECTIONS][40];
	char buf[2][WIN_PE_NAMEBUF];	/* export_find's strings */
};

/* 1 when [rva, rva + len) lies inside the image. */
static inline int
win_pe_in(const struct vmsig_win_pe *pe, uint64_t rva, uint64_t len)
{
	return rva <= pe->size && len <= pe->size - rva;
}

/* win_str.c: strings from the guest, bounded. */
size_t win_str_utf16(const uint8_t *src, size_t nunits, char *dst,
    size_t cap);
int win_str_unicode_buf(struct vmsig_mem *mem, uint64_t cr3,
    const uint8_t *us, int user, char *out, size_t cap, uint64_t *ret_fault);
int win_str_unicode(struct vmsig_mem *mem, uint64_t cr3, const uint8_t *us,
    int user, char **ret, uint64_t *ret_fault);
int win_str_cstr(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    uint64_t max, char *buf, size_t cap, uint64_t *ret_fault);
int win_str_read(struct vmsig_mem *mem, uint64_t cr3, uint64_t va, void *buf,
    size_t len, uint64_t *ret_fault);

/* win_prof.c: find every EPROCESS offset from System's EPROCESS. */
int win_prof_discover(struct vmsig_win *w);
void win_prof_span(struct vmsig_win *w);

/* win_proc.c: one process by pid, through the cache or the ring. */
struct win_procrec {
	uint64_t eprocess, dtb, peb;
	uint32_t pid;
	uint32_t flags;
};
int win_proc_lookup(struct vmsig_win *w, uint32_t pid,
    struct win_procrec *ret);
int win_proc_is_head(const struct vmsig_win *w, uint64_t links);

/*
 * win_mod.c: a LIST_ENTRY walk with back-checks and loop detection.
 * init with the first node and its Blink; then, per node: next() with its
 * Flink gives the following node (1), the end (0: back at the first), or
 * an error; the caller reads that node and enter()s it with its Blink,
 * which must name the node before it.  Errors land in status/fault_va.
 */
struct win_walk {
	uint64_t head, head_blink, cur;
	uint64_t saved;		/* Brent: the node we compare with */
	uint64_t power, lam;
	size_t n, max;
	int user;		/* nodes are user (1) or kernel (0) addresses */
	int status;
	uint64_t fault_va;
};
void win_mod_walk_init(struct win_walk *wk, uint64_t head,
    uint64_t head_blink, size_t max, int user);
int win_mod_walk_next(struct win_walk *wk, uint64_t flink,
    uint64_t *ret_next);
int win_mod_walk_enter(struct win_walk *wk, uint64_t node, uint64_t blink);
int win_mod_walk_fail(struct win_walk *wk, int err, uint64_t va);

/* win_pe.c: headers, bounded reads inside the image. */
int win_pe_read(struct vmsig_win_pe *pe, uint32_t rva, void *buf,
    size_t len);
int win_pe_cstr(struct vmsig_win_pe *pe, uint32_t rva, char *buf,
    size_t cap);
int win_pe_name_eq(const char *modname, const char *want);

/* win_exp.c: used by win_open.c to read ntoskrnl's exports. */
int win_exp_va(struct vmsig_win_pe *pe, const char *name, uint64_t *ret_va);

#endif
