/* SPDX-License-Identifier: MIT */
/*
 * The holder's read-only memory context: guest-physical reads, x86-64
 * address translation (4- and 5-level paging; 4 KiB, 2 MiB and 1 GiB pages),
 * reads by virtual address, a page map and a byte-pattern scan, all over a
 * PROT_READ, MAP_SHARED mapping of the RAM file vended in a MEMCTX event.
 * Nothing here can write into the guest.
 *
 * Every function returns 0 (or a count) on success and a negative errno
 * value on failure.  A context is not thread-safe: use one per thread, or
 * serialise calls.
 *
 * Runs in: holder
 */
#ifndef VMSIG_MEM_H
#define VMSIG_MEM_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/event.h>
#include <vmsig/memctx.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct vmsig_mem;

/* Translation result flags (vmsig_xlat.flags, vmsig_map_range.flags). */
#define VMSIG_PAGE_WRITABLE	0x1u	/* every level has R/W set */
#define VMSIG_PAGE_USER		0x2u	/* every level has U/S set */
#define VMSIG_PAGE_NX		0x4u	/* some level has XD set */

/* Page sizes reported by translation. */
#define VMSIG_PAGE_4K		0x1000ull
#define VMSIG_PAGE_2M		0x200000ull
#define VMSIG_PAGE_1G		0x40000000ull

/*
 * Open a context over `fd` (an O_RDONLY descriptor of the RAM file) laid
 * out by `low`: guest-physical [0, min(low, size)) at file offset 0 and,
 * when the file is longer, [4 GiB, 4 GiB + size - low) at file offset low.
 * The descriptor is duplicated (close-on-exec); the caller keeps its own.
 * The duplicate shares the caller's file offset, which the physical scan
 * moves (lseek SEEK_DATA).  The mapping is PROT_READ and MAP_SHARED, so
 * reads always see the live guest and nothing can make it writable.
 * Returns 0 and *ret_mem, or -EINVAL (NULL ret_mem, not a regular file, an
 * empty file, or low above 4 GiB overlapping the high segment), -EBADF (fd
 * negative, closed or write-only), -EPERM (fd is O_RDWR: a writable
 * descriptor would make the mapping writable by mprotect(2)), -ENOMEM, or
 * the error of fcntl(2), fstat(2) or mmap(2).
 */
int vmsig_mem_open(int fd, uint64_t low, struct vmsig_mem **ret_mem);

/*
 * Open a context from explicit segments (nseg > 0, each inside the file, not
 * overlapping in guest-physical space).  segs is copied.
 * Returns as vmsig_mem_open(), and -EINVAL for a bad segment table.
 */
int vmsig_mem_open_segs(int fd, const vmsig_memseg *segs, uint32_t nseg,
    struct vmsig_mem **ret_mem);

/*
 * Open a context from a VMSIG_EV_MEMCTX event: its fd, its locator (low or
 * segments) and its flags (VMSIG_MEMCTX_LA57 selects 5-level paging).  The
 * event keeps its fd.  Returns as above, and -EINVAL for another event type.
 */
int vmsig_mem_open_event(const vmsig_event *ev, struct vmsig_mem **ret_mem);

/* Unmap and close.  Accepts NULL. */
void vmsig_mem_close(struct vmsig_mem *mem);

/*
 * The context's own read-only descriptor of the RAM file (borrowed: it stays
 * open until vmsig_mem_close), or -EINVAL for NULL.
 */
int vmsig_mem_fd(const struct vmsig_mem *mem);

/*
 * Paging depth used by translation: 4 (default) or 5.  Changing it drops the
 * translation cache.  -EINVAL otherwise.
 */
int vmsig_mem_set_paging(struct vmsig_mem *mem, unsigned int levels);

/* Total guest-physical bytes the locator covers. */
uint64_t vmsig_mem_size(const struct vmsig_mem *mem);

/*
 * Read `len` bytes at guest-physical address `gpa` into `buf`.  Reads may
 * cross segments.  Returns 0, or -EFAULT when some byte is not RAM (the PCI
 * hole, past the end); *ret_done (when non-NULL) is always set to the number
 * of bytes copied before the first unreadable one.  -EINVAL for NULL buf.
 */
int vmsig_mem_read_pa(struct vmsig_mem *mem, uint64_t gpa, void *buf,
    size_t len, size_t *ret_done);

/* One translation. */
struct vmsig_xlat {
	uint64_t gpa;		/* guest-physical address of va */
	uint64_t page_size;	/* VMSIG_PAGE_4K, _2M or _1G */
	uint32_t flags;		/* VMSIG_PAGE_* */
	uint32_t _pad;
};

/*
 * Translate virtual address `va` under the page-table root `cr3` (bits 0-11,
 * the PCID, are ignored).  Returns 0 and *ret, -EFAULT if an entry on the
 * way is not present (even one that still holds a frame number), has the
 * reserved PS bit (PML4E, PML5E), or a table is not in RAM, -EINVAL for a
 * non-canonical address or NULL arguments.  The frame of a translation is
 * reported even when it is not RAM; reading it fails.  Successful
 * translations are cached (see vmsig_mem_flush).
 */
int vmsig_mem_translate(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    struct vmsig_xlat *ret);

/*
 * Read `len` bytes at `va` under `cr3`, across page and segment boundaries.
 * Returns 0, or -EFAULT at the first page that does not translate or whose
 * frame is not RAM (also when the read runs off the canonical half it began
 * in), -EINVAL for a non-canonical start or NULL buf with len > 0;
 * *ret_done (when non-NULL) is always the number of bytes copied before the
 * failure.
 */
int vmsig_mem_read_va(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    void *buf, size_t len, size_t *ret_done);

/*
 * Translation cache.  Translations are cached per (cr3, page); the cache
 * never answers with a translation older than the last flush covering it.
 * vmsig_mem_flush: everything.  vmsig_mem_flush_cr3: one address space.
 * vmsig_mem_flush_va: the pages of [va, va+len) under cr3.
 * vmsig_mem_flush_gpa: every translation that may depend on guest-physical
 * bytes [gpa, gpa+len) (a page-table entry written there), conservatively:
 * when the range may hold a page table read since the last full flush, the
 * whole cache goes.  Changing the guest's page tables without a flush may
 * leave stale translations in use; nothing else does.  All accept NULL.
 */
void vmsig_mem_flush(struct vmsig_mem *mem);
void vmsig_mem_flush_cr3(struct vmsig_mem *mem, uint64_t cr3);
void vmsig_mem_flush_va(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    uint64_t len);
void vmsig_mem_flush_gpa(struct vmsig_mem *mem, uint64_t gpa, uint64_t len);

/* One run of mapped virtual addresses with the same page size and rights. */
struct vmsig_map_range {
	uint64_t va;		/* first byte */
	uint64_t size;		/* bytes */
	uint64_t gpa;		/* guest-physical address of va */
	uint64_t page_size;	/* VMSIG_PAGE_* size of every page in the run */
	uint32_t flags;		/* VMSIG_PAGE_* */
	uint32_t _pad;
};

/* Return 0 to go on, anything else to stop the walk with that value. */
typedef int (*vmsig_map_fn)(void *arg, const struct vmsig_map_range *r);

/*
 * Walk the address space under `cr3` in ascending virtual order over
 * [va_start, va_end) (va_end 0 = to the top), calling fn once per run.
 * Adjacent pages merge into one run when virtually and physically
 * contiguous with the same page size and flags; a page straddling a bound
 * is clipped to it.  Not-present entries and tables outside RAM are
 * skipped.  Returns 0 when the walk finished, fn's non-zero value when it
 * stopped it, -EINVAL (NULL mem or fn, va_end <= va_start), or -ELOOP when
 * the walk visits more than 2^20 table pages (tables that reference each
 * other everywhere).
 */
int vmsig_mem_pmap(struct vmsig_mem *mem, uint64_t cr3, uint64_t va_start,
    uint64_t va_end, vmsig_map_fn fn, void *arg);

/* Return 0 to go on, anything else to stop the scan with that value. */
typedef int (*vmsig_scan_fn)(void *arg, uint64_t addr);

/*
 * Find `pattern` (len bytes, 1..4096) where (byte & mask[i]) == (pattern[i]
 * & mask[i]); mask NULL means every byte must match, a 0x00 mask byte is a
 * wildcard.  vmsig_mem_scan_va looks in the mapped pages of [va_start,
 * va_end) under cr3, matches spanning page boundaries included; fn gets the
 * virtual address of each hit.  vmsig_mem_scan_pa looks in guest-physical
 * [pa_start, pa_end), skipping holes of the file (SEEK_DATA/SEEK_HOLE) so it
 * never allocates tmpfs pages; fn gets the guest-physical address.
 * Holes of the file read as zeros but are never scanned.  Both move the
 * descriptor's file offset.  Returns the number of hits reported to fn
 * (when fn stops the scan with a positive value, the hits so far including
 * that one; a negative value is returned as is), -EINVAL (NULL mem, pattern
 * or fn, len out of range, an empty range), or the error of lseek(2) or of
 * the page walk (-ELOOP).
 */
int64_t vmsig_mem_scan_va(struct vmsig_mem *mem, uint64_t cr3,
    uint64_t va_start, uint64_t va_end, const uint8_t *pattern,
    const uint8_t *mask, size_t len, vmsig_scan_fn fn, void *arg);
int64_t vmsig_mem_scan_pa(struct vmsig_mem *mem, uint64_t pa_start,
    uint64_t pa_end, const uint8_t *pattern, const uint8_t *mask, size_t len,
    vmsig_scan_fn fn, void *arg);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* VMSIG_MEM_H */
