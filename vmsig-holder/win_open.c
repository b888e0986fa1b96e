/* SPDX-License-Identifier: MIT */
/*
 * Opening a Windows context: find ntoskrnl in the kernel half of kcr3's
 * address space, read what its exports lead to (PsInitialSystemProcess,
 * PsLoadedModuleList, NtBuildNumber), then have win_prof.c find the
 * structure offsets.  The kernel image is found by walking the page map
 * (only mapped pages are looked at, two bytes each by guest-physical
 * address, kernel image region first) and parsing every "MZ" page as a PE
 * image until one names itself ntoskrnl.exe in its export directory and
 * exports PsInitialSystemProcess.  When it also exports PsLoadedModuleList,
 * the list's first entry must name this very base: an alias of the image
 * through another mapping (a large page over low RAM) is not the kernel.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "win_int.h"

#define KIMG_REGION	0xfffff80000000000ull
/* MZ pages parsed before giving up: drivers, plus what a hostile guest adds. */
#define MAX_CANDIDATES	8192u

static const char *const off_name[WO_N] = {
	[WO_DTB] = "EPROCESS.DirectoryTableBase",
	[WO_PID] = "EPROCESS.UniqueProcessId",
	[WO_LINKS] = "EPROCESS.ActiveProcessLinks",
	[WO_PPID] = "EPROCESS.InheritedFromUniqueProcessId",
	[WO_NAME] = "EPROCESS.ImageFileName",
	[WO_PEB] = "EPROCESS.Peb",
	[WO_UDTB] = "EPROCESS.UserDirectoryTableBase",
	[WO_EXIT] = "EPROCESS.ExitStatus",
	[WO_OBJTAB] = "EPROCESS.ObjectTable",
	[WO_WOW64] = "EPROCESS.WoW64Process",
	[WO_PEB_IMAGEBASE] = "PEB.ImageBaseAddress",
	[WO_PEB_LDR] = "PEB.Ldr",
	[WO_PEB_PARAMS] = "PEB.ProcessParameters",
	[WO_PARAMS_PATH] = "RTL_USER_PROCESS_PARAMETERS.ImagePathName",
	[WO_LDR_LOADORDER] = "PEB_LDR_DATA.InLoadOrderModuleList",
	[WO_LDRE_BASE] = "LDR_DATA_TABLE_ENTRY.DllBase",
	[WO_LDRE_ENTRY] = "LDR_DATA_TABLE_ENTRY.EntryPoint",
	[WO_LDRE_SIZE] = "LDR_DATA_TABLE_ENTRY.SizeOfImage",
	[WO_LDRE_FULLNAME] = "LDR_DATA_TABLE_ENTRY.FullDllName",
	[WO_LDRE_BASENAME] = "LDR_DATA_TABLE_ENTRY.BaseDllName",
};

struct kfind {
	struct vmsig_win *w;
	uint32_t tried;
	int err;		/* the last reason a candidate failed */
};

/* 1 when the image's export directory is named ntoskrnl.exe. */
static int
named_ntoskrnl(struct vmsig_win_pe *pe)
{
	uint8_t e[16];
	char name[32];

	if (pe->dir_rva[WIN_DIR_EXPORT] == 0 ||
	    win_pe_read(pe, pe->dir_rva[WIN_DIR_EXPORT], e, sizeof(e)) < 0 ||
	    win_pe_cstr(pe, win_le32(e + 12), name, sizeof(name)) < 0)
		return 0;
	return strcasecmp(name, "ntoskrnl.exe") == 0;
}

/* The kernel's own loader entry names its base (0 when it cannot tell). */
static int
module_list_disagrees(struct vmsig_win *w, uint64_t head, uint64_t base)
{
	uint64_t flink, dllbase;

	if (win_str_read(w->mem, w->kcr3, head, &flink, 8, NULL) < 0 ||
	    !win_kva(flink) ||
	    win_str_read(w->mem, w->kcr3, flink + 0x30, &dllbase, 8, NULL) < 0)
		return 0;
	return dllbase != base;
}

/* 1 when the image at va is the kernel (w->info filled), 0, -errno. */
static int
try_image(struct vmsig_win *w, uint64_t va)
{
	struct vmsig_win_pe *pe;
	uint64_t psisp, sys = 0, list = 0, nb = 0;
	uint32_t build = 0;
	int r;

	if ((r = vmsig_win_pe_open(w, w->kcr3, va, &pe)) < 0)
		return r == -ENOMEM ? r : 0;
	r = 0;
	if (pe->bits != 64 || !named_ntoskrnl(pe) ||
	    win_exp_va(pe, "PsInitialSystemProcess", &psisp) < 0 ||
	    win_str_read(w->mem, w->kcr3, psisp, &sys, 8, NULL) < 0 ||
	    !win_kva(sys))
		goto out;
	if (win_exp_va(pe, "PsLoadedModuleList", &list) < 0)
		list = 0;
	if (list != 0 && module_list_disagrees(w, list, va))
		goto out;
	if (win_exp_va(pe, "NtBuildNumber", &nb) == 0)
		(void)win_str_read(w->mem, w->kcr3, nb, &build, 4, NULL);
	w->info.kernel_base = va;
	w->info.kernel_size = pe->size;
	w->info.system_eprocess = sys;
	w->info.ps_loaded_module_list = list;
	w->info.build_raw = build;
	w->info.build = build & 0xffff;
	r = 1;
out:
	vmsig_win_pe_close(pe);
	return r;
}

static int
kfind_range(void *arg, const struct vmsig_map_range *rg)
{
	struct kfind *k = arg;
	uint64_t off;
	uint8_t mz[2];
	int r;

	for (off = 0; off < rg->size; off += WIN_PAGE) {
		if (vmsig_mem_read_pa(k->w->mem, rg->gpa + off, mz, 2,
		    NULL) < 0 || mz[0] != 'M' || mz[1] != 'Z')
			continue;
		if (++k->tried > MAX_CANDIDATES)
			return -ENOENT;
		if ((r = try_image(k->w, rg->va + off)) != 0)
			return r;
	}
	return 0;
}

static int
find_kernel(struct vmsig_win *w)
{
	struct kfind k = { .w = w };
	int r;

	r = vmsig_mem_pmap(w->mem, w->kcr3, KIMG_REGION, 0, kfind_range, &k);
	if (r == 1)
		return 0;
	if (r == -ENOMEM)
		return r;
	/* Not there (or a page map too tangled to walk): the rest. */
	r = vmsig_mem_pmap(w->mem, w->kcr3, WIN_KHALF, KIMG_REGION,
	    kfind_range, &k);
	if (r == 1)
		return 0;
	return r == -ENOMEM ? r : -ENOENT;
}

int
vmsig_win_open(struct vmsig_mem *mem, uint64_t kcr3,
    struct vmsig_win **ret_win)
{
	struct vmsig_win *w;
	int r;
	unsigned int i;

	if (mem == NULL || ret_win == NULL)
		return -EINVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->mem = mem;
	w->kcr3 = kcr3 & WIN_FRAME;
	w->info.kcr3 = kcr3;
	for (i = 0; i < WO_N; i++) {
		w->off[i] = -1;
		w->how[i] = "not found";
	}
	if ((r = find_kernel(w)) < 0 || (r = win_prof_discover(w)) < 0) {
		free(w);
		return r;
	}
	*ret_win = w;
	return 0;
}

void
vmsig_win_close(struct vmsig_win *win)
{
	free(win);
}

uint64_t
vmsig_win_fault_va(const struct vmsig_win *win)
{
	return win != NULL ? win->fault_va : 0;
}

int
vmsig_win_info(const struct vmsig_win *win, struct vmsig_win_info *ret)
{
	if (win == NULL || ret == NULL)
		return -EINVAL;
	*ret = win->info;
	return 0;
}

int
vmsig_win_offset(const struct vmsig_win *win, unsigned int idx,
    struct vmsig_win_offset *ret)
{
	if (win == NULL || ret == NULL)
		return -EINVAL;
	if (idx >= WO_N)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->name = off_name[idx];
	ret->offset = win->off[idx];
	ret->how = win->how[idx];
	return 0;
}
