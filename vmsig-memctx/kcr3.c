/* SPDX-License-Identifier: MIT */
/*
 * Finding and checking kcr3, the System process's page-table root: the
 * method table (auto = lowstub then selfref, or a given value), the
 * validation every result must pass, and the cheap periodic re-check the
 * daemon runs to notice that the guest rebooted under it.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memctx.h"
#include "paging.h"

#define PAGE	LAYOUT_PAGE
#define NENT	512
#define KHALF	256

static const char *const method_names[] = {
	[KCR3_AUTO] = "auto",
	[KCR3_LOWSTUB] = "lowstub",
	[KCR3_SELFREF] = "selfref",
	[KCR3_GIVEN] = "given",
	[KCR3_QMP] = "qmp",
};

static int
refuse(int err, const char **ret_why, const char *why)
{
	if (ret_why != NULL)
		*ret_why = why;
	return err;
}

const char *
kcr3_method_name(enum kcr3_method m)
{
	if ((unsigned int)m >= sizeof(method_names) / sizeof(method_names[0]))
		return "?";
	return method_names[m];
}

int
kcr3_parse(const char *arg, enum kcr3_method *ret_m, uint64_t *ret_given,
    const char **ret_why)
{
	static const char why[] = "--kcr3 wants auto, lowstub, selfref, qmp "
	    "or a page-aligned guest-physical address such as 0x1ad000";
	unsigned int m;
	uint64_t v = 0;
	const char *p;

	if (arg == NULL || ret_m == NULL || ret_given == NULL)
		return -EINVAL;
	for (m = KCR3_AUTO; m < KCR3_GIVEN; m++)
		if (strcmp(arg, method_names[m]) == 0) {
			*ret_m = (enum kcr3_method)m;
			*ret_given = 0;
			return 0;
		}
	if (strcmp(arg, "qmp") == 0) {
		*ret_m = KCR3_QMP;
		*ret_given = 0;
		return 0;
	}
	if (strncmp(arg, "0x", 2) != 0 || arg[2] == '\0' ||
	    strlen(arg) > 2 + 16)
		return refuse(-EINVAL, ret_why, why);
	for (p = arg + 2; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			v = v << 4 | (uint64_t)(*p - '0');
		else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			v = v << 4 | (uint64_t)((*p | 0x20) - 'a' + 10);
		else
			return refuse(-EINVAL, ret_why, why);
	}
	if (v == 0 || (v & ~CR3_FRAME) != 0)
		return refuse(-EINVAL, ret_why, why);
	*ret_m = KCR3_GIVEN;
	*ret_given = v;
	return 0;
}

int
kcr3_validate(struct ram *ram, uint64_t kcr3, uint64_t entry_va)
{
	return kcr3_validate_levels(ram, kcr3, entry_va, 4);
}

int
kcr3_validate_levels(struct ram *ram, uint64_t kcr3, uint64_t entry_va,
    unsigned int levels)
{
	uint64_t q[NENT], e, cr3 = kcr3 & CR3_FRAME;
	struct paging_xlat x;
	unsigned int i, present = 0;

	if (ram == NULL || (levels != 4 && levels != 5))
		return -EINVAL;
	if (ram_read(ram, cr3, q, PAGE) < 0)
		return -EINVAL;
	for (i = KHALF; i < NENT; i++) {
		e = q[i];
		if (!(e & PTE_P))
			continue;
		if ((e & PTE_PS) || !ram_contains(ram, e & PTE_FRAME_4K, PAGE))
			return -EINVAL;
		present++;
	}
	if (present == 0)
		return -EINVAL;
	if (entry_va != 0 &&
	    (paging_walk(cr3, entry_va, levels, ram_read_u64, ram, &x) < 0 ||
	    !ram_contains(ram, x.gpa, 1)))
		return -EINVAL;
	return 0;
}

/* Does a low stub name cr3?  Then the periodic check can watch it too. */
static void
note_lowstub(struct ram *ram, struct kcr3_result *res)
{
	struct kcr3_lowstub s;
	uint32_t seen;

	if (kcr3_lowstub_find(ram, &s, &seen) == 0 &&
	    (s.cr3 & CR3_FRAME) == res->kcr3) {
		res->has_lowstub = 1;
		res->lowstub_pa = s.pa;
		res->entry_va = s.entry_va;
	}
}

static int
by_lowstub(struct ram *ram, struct kcr3_result *res)
{
	struct kcr3_lowstub s;
	uint32_t seen = 0;
	int r;

	r = kcr3_lowstub_find(ram, &s, &seen);
	res->candidates = seen;
	if (r < 0)
		return r;
	res->kcr3 = s.cr3 & CR3_FRAME;
	res->has_lowstub = 1;
	res->lowstub_pa = s.pa;
	res->entry_va = s.entry_va;
	return 0;
}

static int
by_selfref(struct ram *ram, struct kcr3_result *res)
{
	int r;

	if ((r = kcr3_selfref_find(ram, res)) < 0)
		return r;
	note_lowstub(ram, res);
	return 0;
}

static int
by_given(struct ram *ram, uint64_t given, struct kcr3_result *res,
    const char **ret_why)
{
	if (kcr3_validate(ram, given, 0) < 0)
		return refuse(-EINVAL, ret_why, "the --kcr3 given does not "
		    "validate: no present kernel-half entries into RAM at that "
		    "address; check the layout or use --kcr3 auto");
	res->kcr3 = given & CR3_FRAME;
	res->candidates = 1;
	note_lowstub(ram, res);
	return 0;
}

static int
failed(int r, const char **ret_why)
{
	if (r == -ENOENT)
		return refuse(r, ret_why, "no kcr3 candidate in guest RAM: "
		    "is the guest a booted Windows x64, and the layout right?");
	if (r == -ESRCH)
		return refuse(r, ret_why, "kcr3 candidates found but none "
		    "validated: check the layout (--low, --machine, --seg)");
	return refuse(r, ret_why, "reading guest RAM failed");
}

int
kcr3_discover(struct ram *ram, enum kcr3_method m, uint64_t given,
    struct kcr3_result *ret, const char **ret_why)
{
	struct kcr3_result res;
	int r, r2;

	if (ram == NULL || ret == NULL)
		return -EINVAL;
	memset(&res, 0, sizeof(res));
	res.method = m;
	switch (m) {
	case KCR3_GIVEN:
		if ((r = by_given(ram, given, &res, ret_why)) < 0)
			return r;
		break;
	case KCR3_LOWSTUB:
		r = by_lowstub(ram, &res);
		break;
	case KCR3_SELFREF:
		r = by_selfref(ram, &res);
		break;
	case KCR3_AUTO:
		res.method = KCR3_LOWSTUB;
		if ((r = by_lowstub(ram, &res)) == -ENOENT || r == -ESRCH) {
			memset(&res, 0, sizeof(res));
			res.method = KCR3_SELFREF;
			r2 = by_selfref(ram, &res);
			r = r2 == -ENOENT && r == -ESRCH ? r : r2;
		}
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		return failed(r, ret_why);
	*ret = res;
	return 0;
}

int
kcr3_revalidate(struct ram *ram, const struct kcr3_result *cur)
{
	struct kcr3_lowstub s;
	uint64_t q[NENT];

	if (ram == NULL || cur == NULL)
		return -EINVAL;
	if (cur->has_lowstub &&
	    (kcr3_lowstub_at(ram, cur->lowstub_pa, &s) != 1 ||
	    (s.cr3 & CR3_FRAME) != cur->kcr3))
		return -ESTALE;
	if (kcr3_validate_levels(ram, cur->kcr3,
	    cur->has_lowstub ? cur->entry_va : 0,
	    cur->levels == 5 ? 5 : 4) < 0)
		return -ESTALE;
	/* A selfref result was a self-mapped PML4; it must still be one. */
	if (cur->method == KCR3_SELFREF &&
	    (ram_read(ram, cur->kcr3, q, PAGE) < 0 ||
	    !kcr3_selfref_candidate(ram, cur->kcr3, q)))
		return -ESTALE;
	return 0;
}

/* Present entries in the kernel half of the top table at pa (0 on error). */
static unsigned int
kernel_half_present(struct ram *ram, uint64_t pa)
{
	uint64_t q[NENT];
	unsigned int i, n = 0;

	if (ram_read(ram, pa, q, PAGE) < 0)
		return 0;
	for (i = KHALF; i < NENT; i++)
		n += (q[i] & PTE_P) != 0;
	return n;
}

/*
 * Linux with PTI (page-table isolation) allocates every top table as an
 * 8 KiB pair: the kernel's table in the even page, its user copy in the odd
 * one.  In user mode CR3 names the copy (kernel table | 0x1000).  The copy
 * validates -- its kernel half maps the entry trampoline, cpu_entry_area
 * and espfix -- yet no other kernel address reads through it.  So when
 * `user` is an odd page, prefer the page below it only if that page is the
 * pair's kernel table beyond doubt:
 *   - it validates as a root itself;
 *   - kernel halves: every entry present in the copy is present below, and
 *     below has strictly more (the copy maps a subset of the kernel; its
 *     own next-level tables may differ, so frames are not compared here);
 *   - user halves: the same entries present in both, each naming the same
 *     next-level table (PTI mirrors the user half into both; only NX and
 *     the accessed bit differ), and at least one of them (a CPU runs on a
 *     user copy only for a process, which maps something).
 * A page that merely sits below -- another process's table, a table of
 * another kernel without PTI, unrelated data -- fails one of these and the
 * reported table is kept.  1 when the page below is to be preferred.
 */
static int
pti_kernel_below(struct ram *ram, uint64_t user, unsigned int levels)
{
	uint64_t u[NENT], k[NENT], kpa = user & ~(uint64_t)PAGE;
	unsigned int i, nu = 0, nk = 0, shared = 0;

	if (!(user & PAGE) ||
	    kcr3_validate_levels(ram, kpa, 0, levels) < 0 ||
	    ram_read(ram, user, u, PAGE) < 0 || ram_read(ram, kpa, k, PAGE) < 0)
		return 0;
	for (i = 0; i < KHALF; i++) {
		if ((u[i] & PTE_P) != (k[i] & PTE_P))
			return 0;
		if (!(u[i] & PTE_P))
			continue;
		if ((u[i] & PTE_FRAME_4K) != (k[i] & PTE_FRAME_4K))
			return 0;
		shared++;
	}
	for (i = KHALF; i < NENT; i++) {
		if ((u[i] & PTE_P) && !(k[i] & PTE_P))
			return 0;
		nu += (u[i] & PTE_P) != 0;
		nk += (k[i] & PTE_P) != 0;
	}
	return shared > 0 && nk > nu;
}

int
kcr3_from_cr3(struct ram *ram, uint64_t cr3, unsigned int levels,
    struct kcr3_result *ret, const char **ret_why)
{
	struct kcr3_result res;
	uint64_t v = cr3 & CR3_FRAME;

	if (ram == NULL || ret == NULL || (levels != 4 && levels != 5))
		return -EINVAL;
	if (v == 0)
		return refuse(-ENOENT, ret_why, "QEMU reports CR3 0 for vCPU 0: "
		    "the guest has not enabled paging yet");
	memset(&res, 0, sizeof(res));
	res.method = KCR3_QMP;
	res.levels = levels;
	res.candidates = 1;
	/* KPTI: CR3 may hold the user copy, one page above the kernel's:
	 * either it does not validate at all (no kernel half), or it does
	 * (the entry trampoline) and the pair's kernel table sits below. */
	if (kcr3_validate_levels(ram, v, 0, levels) == 0) {
		if (pti_kernel_below(ram, v, levels)) {
			v &= ~PAGE;
			res.candidates = 2;
		}
	} else {
		if (!(v & PAGE) || kcr3_validate_levels(ram, v & ~PAGE, 0,
		    levels) < 0)
			return refuse(-EINVAL, ret_why, "the CR3 QEMU reports "
			    "does not validate (nor the page below it): no "
			    "present kernel-half entries into RAM; check the "
			    "layout");
		v &= ~PAGE;
		res.candidates = 2;
	}
	/*
	 * A kernel's own tables map more than its image (the direct map,
	 * vmalloc, ...); Linux's early boot table maps only the image, from
	 * one kernel-half entry, and is poisoned once init memory is freed.
	 * Offering it would make a context that dies a second later: wait
	 * for the settled address space instead (the caller retries).
	 */
	if (kernel_half_present(ram, v) < 2)
		return refuse(-ENOENT, ret_why, "the CR3 QEMU reports maps only "
		    "the kernel image (early boot tables): the guest is still "
		    "booting");
	res.kcr3 = v;
	note_lowstub(ram, &res);
	*ret = res;
	return 0;
}
