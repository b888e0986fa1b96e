/* SPDX-License-Identifier: MIT */
/*
 * The holder's Windows context: processes, modules and PE images of a
 * Windows x64 guest, found read-only over a memory context (vmsig/mem.h)
 * and the kernel's page-table root (kcr3), with no symbols, no profile
 * file and no help from inside the guest.  Every structure offset it uses
 * is found in the guest image itself when the context opens and validated
 * by walking the process ring; vmsig_win_offset() says what was found and
 * how.
 *
 * Everything read from the guest is untrusted: walks are bounded and detect
 * loops, lengths, counts and RVAs are checked before use, and no allocation
 * is sized by a guest value without a cap.  An item that cannot be read (a
 * paged-out PEB, loader entry or header) fails alone, with its error and
 * the address that failed, and the listing goes on; a list whose links are
 * corrupt ends with what was read so far and says so in its status.
 *
 * Every function returns 0 (or a count) on success and a negative errno
 * value on failure.  A context borrows its memory context, which must
 * outlive it.  Not thread-safe: one context per thread, or serialise calls.
 *
 * Runs in: holder
 */
#ifndef VMSIG_WIN_H
#define VMSIG_WIN_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/mem.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct vmsig_win;
struct vmsig_win_pe;

/* Bounds of every walk (a guest may claim anything). */
#define VMSIG_WIN_MAX_PROCS	65536u	/* entries of the process ring */
#define VMSIG_WIN_MAX_MODULES	8192u	/* entries of one loader list */
#define VMSIG_WIN_MAX_EXPORTS	65536u	/* functions of one export table */
#define VMSIG_WIN_MAX_IMPORTS	65536u	/* thunks of one import table */
#define VMSIG_WIN_MAX_SECTIONS	96u	/* the PE loader's own limit */
#define VMSIG_WIN_MAX_STRING	1024u	/* bytes of one UTF-8 string */

/*
 * Open a Windows context over `mem` with the System page-table root `kcr3`:
 * find ntoskrnl in the kernel half, its exports, NtBuildNumber, the System
 * process, and every structure offset (EPROCESS, PEB, loader entries) the
 * other calls use; then walk the process ring once to validate them (pid 4
 * is System and its DirectoryTableBase is kcr3).
 * `mem` is borrowed and must stay open while the context is.
 * Returns 0 and *ret_win, -EINVAL (NULL argument), -ENOENT (no ntoskrnl
 * image found in the kernel half), -ENOEXEC (an image was found but the
 * structures it leads to do not validate: not Windows x64, or a build whose
 * layout this library cannot find), -EFAULT (a page discovery needs is not
 * present), -ENOMEM.
 */
int vmsig_win_open(struct vmsig_mem *mem, uint64_t kcr3,
    struct vmsig_win **ret_win);

/* Free the context (not the memory context).  Accepts NULL. */
void vmsig_win_close(struct vmsig_win *win);

/*
 * The address at which the last call on `win` that returned -EFAULT failed
 * (vmsig_win_mod_list() when the PEB or its loader data is not present,
 * and the like), 0 when unknown.  Returns 0 for NULL.
 */
uint64_t vmsig_win_fault_va(const struct vmsig_win *win);

/* What the context found about the kernel. */
struct vmsig_win_info {
	uint32_t build;		/* NtBuildNumber & 0xffff (e.g. 19045) */
	uint32_t build_raw;	/* NtBuildNumber as read (0xF... = free build) */
	uint64_t kcr3;		/* the root the context was opened with */
	uint64_t kernel_base;	/* VA of ntoskrnl's MZ header */
	uint64_t kernel_size;	/* SizeOfImage */
	uint64_t system_eprocess;	/* *PsInitialSystemProcess */
	uint64_t ps_active_process_head;	/* VA, 0 when not found */
	uint64_t ps_loaded_module_list;	/* VA, 0 when not found */
};

/* Fill *ret.  -EINVAL for NULL arguments. */
int vmsig_win_info(const struct vmsig_win *win, struct vmsig_win_info *ret);

/* One structure offset found in the image. */
struct vmsig_win_offset {
	const char *name;	/* "EPROCESS.UniqueProcessId", static */
	int32_t offset;		/* byte offset, -1 when not found */
	uint32_t _pad;
	const char *how;	/* how it was found, static text */
};

/*
 * The idx-th offset the context uses (0, 1, ... in a fixed order), for
 * reports.  Returns 0 and *ret, -ENOENT past the last one, -EINVAL for NULL
 * arguments.
 */
int vmsig_win_offset(const struct vmsig_win *win, unsigned int idx,
    struct vmsig_win_offset *ret);

/* vmsig_win_proc.flags */
#define VMSIG_WIN_PROC_EXITED	0x1u	/* exiting or exited (a zombie) */
#define VMSIG_WIN_PROC_WOW64	0x2u	/* a 32-bit process */
#define VMSIG_WIN_PROC_NAME_TRUNC 0x4u	/* name is ImageFileName's 15 bytes */

/* One process. */
struct vmsig_win_proc {
	uint32_t pid;
	uint32_t ppid;		/* InheritedFromUniqueProcessId */
	char name[16];		/* ImageFileName, NUL-terminated */
	const char *path;	/* full image path (UTF-8), NULL when the
				 * guest has none or it cannot be read */
	uint64_t eprocess;	/* VA of the EPROCESS */
	uint64_t dtb;		/* DirectoryTableBase (kernel), frame bits */
	uint64_t user_dtb;	/* UserDirectoryTableBase, frame bits; 0
				 * when none (0/1 stored, KVA shadow off, or
				 * the offset was not found) */
	uint64_t peb;		/* VA of the PEB, 0 for System and the like */
	uint32_t flags;		/* VMSIG_WIN_PROC_* */
	int err;		/* 0, or -errno of what failed (path) */
	uint64_t fault_va;	/* with err == -EFAULT: the address */
};

/* A snapshot of processes. */
struct vmsig_win_procs {
	size_t n;
	struct vmsig_win_proc *v;	/* n entries, in ring order */
	int status;		/* 0: the whole ring was read; -ELOOP (a
				 * loop), -EBADMSG (a link that does not
				 * point back), -EFAULT (a link unreadable),
				 * -E2BIG (over VMSIG_WIN_MAX_PROCS): the walk
				 * ended early and v holds what was read */
	uint64_t fault_va;	/* the address where the walk ended */
};

/*
 * Snapshot the process list (ActiveProcessLinks, from System on).  The
 * list owns every string it points to.  Returns 0 and *ret (status tells
 * whether it is complete), -EINVAL, -ENOMEM, or -EFAULT when not even the
 * System process could be read.
 */
int vmsig_win_proc_list(struct vmsig_win *win, struct vmsig_win_procs **ret);

/*
 * The processes whose pid is `pid` (when name is NULL) or whose name
 * matches `name` (case-insensitive, against the image path's last component
 * and against ImageFileName, so a truncated name also matches) and, when
 * pid is not 0, whose pid is `pid` too.  Returns 0 and *ret (n >= 1),
 * -ENOENT (no such process), -EINVAL, -ENOMEM, -EFAULT.
 */
int vmsig_win_proc_find(struct vmsig_win *win, uint32_t pid,
    const char *name, struct vmsig_win_procs **ret);

/* Free a process snapshot.  Accepts NULL. */
void vmsig_win_procs_free(struct vmsig_win_procs *procs);

/*
 * The page-table root of process `pid` (its kernel DirectoryTableBase,
 * frame bits; kcr3 for pid 4), to
 * pass to the vmsig_mem_* calls.  Returns 0 and *ret_cr3, -ENOENT, -EINVAL.
 */
int vmsig_win_proc_dtb(struct vmsig_win *win, uint32_t pid,
    uint64_t *ret_cr3);

/*
 * Read and translate in the address space of process `pid`: the
 * vmsig_mem_read_va() and vmsig_mem_translate() calls under its DTB.
 * Return as those, and -ENOENT for no such process.
 */
int vmsig_win_proc_read(struct vmsig_win *win, uint32_t pid, uint64_t va,
    void *buf, size_t len, size_t *ret_done);
int vmsig_win_proc_translate(struct vmsig_win *win, uint32_t pid,
    uint64_t va, struct vmsig_xlat *ret);

/* One loaded module. */
struct vmsig_win_module {
	const char *name;	/* BaseDllName (UTF-8), NULL if unreadable */
	const char *path;	/* FullDllName (UTF-8), NULL if unreadable */
	uint64_t base;		/* DllBase */
	uint64_t size;		/* SizeOfImage */
	uint64_t entry;		/* EntryPoint, 0 when none */
	int err;		/* 0, or -errno of what failed (a name) */
	uint32_t _pad;
	uint64_t fault_va;	/* with err == -EFAULT: the address */
};

/* A snapshot of modules. */
struct vmsig_win_modules {
	size_t n;
	struct vmsig_win_module *v;	/* load order */
	int status;		/* as vmsig_win_procs.status */
	uint64_t fault_va;
};

/*
 * The modules of process `pid`: its PEB loader list in load order (the
 * executable first); for pid 4, the kernel's PsLoadedModuleList (ntoskrnl
 * first, the drivers after it).  The list owns its strings.
 * Returns 0 and *ret (status tells whether it is complete), -ENOENT (no
 * such process), -ENODATA (the process has no PEB: System-like processes
 * other than pid 4; or no PsLoadedModuleList export), -EFAULT (the PEB or
 * its loader data is not present; *ret is not written;
 * vmsig_win_fault_va() says where), -EBADMSG (PEB.Ldr is not a user
 * address), -EINVAL, -ENOMEM.
 */
int vmsig_win_mod_list(struct vmsig_win *win, uint32_t pid,
    struct vmsig_win_modules **ret);

/* Free a module snapshot.  Accepts NULL. */
void vmsig_win_modules_free(struct vmsig_win_modules *mods);

/*
 * Open the PE image mapped at `base` in the address space `cr3`; or the
 * module of process `pid` whose name matches `module` (case-insensitive;
 * with or without its extension, "ntdll" finds "ntdll.dll").
 * The headers are read and checked once (MZ, PE32+ or PE32, counts and
 * directory RVAs inside SizeOfImage).  The image borrows win.
 * Returns 0 and *ret_pe, -ENOEXEC (not a PE image), -EFAULT (headers not
 * present), -ENOENT (no such process or module), -EINVAL, -ENOMEM.
 */
int vmsig_win_pe_open(struct vmsig_win *win, uint64_t cr3, uint64_t base,
    struct vmsig_win_pe **ret_pe);
int vmsig_win_pe_open_module(struct vmsig_win *win, uint32_t pid,
    const char *module, struct vmsig_win_pe **ret_pe);

/* Free an image.  Accepts NULL. */
void vmsig_win_pe_close(struct vmsig_win_pe *pe);

/* Base, SizeOfImage, entry point VA (0 when none) and bitness (32/64). */
struct vmsig_win_pe_info {
	uint64_t base;
	uint64_t size;
	uint64_t entry;
	uint32_t bits;
	uint32_t nsections;
};
int vmsig_win_pe_info(const struct vmsig_win_pe *pe,
    struct vmsig_win_pe_info *ret);

/* One section header. */
struct vmsig_win_section {
	char name[9];		/* up to 8 bytes, NUL-terminated */
	uint8_t _pad[3];
	uint32_t characteristics;
	uint64_t va;		/* base + VirtualAddress */
	uint64_t size;		/* VirtualSize */
};

/*
 * The section headers (at most VMSIG_WIN_MAX_SECTIONS), into a fresh array
 * the caller frees with free(3).  Returns the count and *ret (NULL when
 * 0), -ENOMEM.
 */
int vmsig_win_pe_sections(struct vmsig_win_pe *pe,
    struct vmsig_win_section **ret);

/* One export. */
struct vmsig_win_export {
	const char *name;	/* NULL when exported by ordinal only */
	const char *forward;	/* "DLL.Name" of a forwarder, else NULL */
	uint64_t va;		/* 0 for a forwarder */
	uint32_t ordinal;	/* biased (Base + index) */
	uint32_t _pad;
};

struct vmsig_win_exports {
	size_t n;
	struct vmsig_win_export *v;	/* in ordinal order */
	char dll_name[64];		/* the directory's Name, may be "" */
};

/*
 * Every export.  Returns 0 and *ret (n may be 0: no export directory),
 * -EFAULT (the directory is not present), -EBADMSG (a count or RVA outside
 * the image), -ENOMEM.  The list owns its strings.
 */
int vmsig_win_pe_exports(struct vmsig_win_pe *pe,
    struct vmsig_win_exports **ret);

/* Free an export list.  Accepts NULL. */
void vmsig_win_exports_free(struct vmsig_win_exports *exps);

/*
 * One export by name, by binary search of the sorted name table
 * (O(log n) reads).  Writes *ret (its strings point into a buffer of pe,
 * valid until the next call on pe).  Returns 0, -ENOENT, -EFAULT, -EBADMSG,
 * -EINVAL.
 */
int vmsig_win_pe_export_find(struct vmsig_win_pe *pe, const char *name,
    struct vmsig_win_export *ret);

/* One imported function. */
struct vmsig_win_import {
	const char *module;	/* the DLL it comes from */
	const char *name;	/* NULL when imported by ordinal */
	uint32_t ordinal;	/* with name NULL: the ordinal; else the hint */
	uint32_t _pad;
	uint64_t iat;		/* VA of its IAT slot */
};

struct vmsig_win_imports {
	size_t n;
	struct vmsig_win_import *v;
	int status;		/* 0, or -errno of a descriptor that ended
				 * the table early */
};

/*
 * Every import (the import directory; delay-load imports are not listed).
 * Returns 0 and *ret, -EFAULT, -EBADMSG, -ENOMEM.  The list owns its
 * strings.
 */
int vmsig_win_pe_imports(struct vmsig_win_pe *pe,
    struct vmsig_win_imports **ret);

/* Free an import list.  Accepts NULL. */
void vmsig_win_imports_free(struct vmsig_win_imports *imps);

/*
 * Pattern scans in one address space, as vmsig_mem_scan_va(): over all of
 * process pid's user half (vmsig_win_scan_proc), over one image
 * (vmsig_win_pe_scan: [base, base + SizeOfImage)), or over one section of
 * it by name (vmsig_win_pe_scan_section; -ENOENT when it has none).
 * fn receives virtual addresses.  Return as vmsig_mem_scan_va().
 */
int64_t vmsig_win_scan_proc(struct vmsig_win *win, uint32_t pid,
    const uint8_t *pattern, const uint8_t *mask, size_t len,
    vmsig_scan_fn fn, void *arg);
int64_t vmsig_win_pe_scan(struct vmsig_win_pe *pe, const uint8_t *pattern,
    const uint8_t *mask, size_t len, vmsig_scan_fn fn, void *arg);
int64_t vmsig_win_pe_scan_section(struct vmsig_win_pe *pe,
    const char *section, const uint8_t *pattern, const uint8_t *mask,
    size_t len, vmsig_scan_fn fn, void *arg);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* VMSIG_WIN_H */
