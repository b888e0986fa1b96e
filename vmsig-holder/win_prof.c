/* SPDX-License-Identifier: MIT */
/*
 * Finding the EPROCESS offsets in the guest, with no table keyed on the
 * build number: each field is recognised by what it must hold in System's
 * EPROCESS and in the processes of the ring, and the offset chosen is the
 * one that fits the most processes.  The order matters: UniqueProcessId and
 * ActiveProcessLinks come first (a u64 4 followed by a LIST_ENTRY that
 * links back), because every other field is judged over the processes that
 * ring leads to; ImageFileName ("System") bounds the search for the fields
 * that lie between it and the links.  A sample of the ring is read whole
 * once; nothing else is read twice.  The PEB and loader offsets are the
 * frozen x64 ABI and are only checked here.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "win_int.h"

#define KPROC_DTB	0x28	/* KPROCESS.DirectoryTableBase, all x64 */
#define DTB_SCAN	0x100
#define UDTB_LO		0x30
#define UDTB_HI		0x400
#define NAME_LEN	15
#define MZ_PAGE		0x10	/* PEB.ImageBaseAddress */

struct sample {
	uint64_t ep;		/* EPROCESS VA */
	uint8_t *b;		/* WIN_EPROC_SCAN bytes (zero past len) */
	size_t len;
	uint64_t dtb;		/* frame */
	uint32_t pid;
	int live;
};

struct prof {
	struct vmsig_win *w;
	struct sample *s;
	size_t n;
	uint8_t *store;
	/* Where the fields after the links are looked for: between them and
	 * ImageFileName on every known build, after the name as a fallback. */
	int32_t lo, hi;
};

static uint64_t
q(const struct sample *s, int32_t off)
{
	return off >= 0 && (size_t)off + 8 <= s->len ? win_le64(s->b + off) :
	    0;
}

/* 1 when gpa's page is RAM. */
static int
in_ram(struct vmsig_win *w, uint64_t gpa)
{
	uint8_t b;

	return gpa != 0 && vmsig_mem_read_pa(w->mem, gpa, &b, 1, NULL) == 0;
}

static int
find_dtb(struct vmsig_win *w, const struct sample *sys)
{
	int32_t off;

	if ((q(sys, KPROC_DTB) & WIN_FRAME) == w->kcr3) {
		w->off[WO_DTB] = KPROC_DTB;
		w->how[WO_DTB] = "KPROCESS+0x28 holds kcr3 in System's EPROCESS";
		return 0;
	}
	for (off = 0; off < DTB_SCAN; off += 8)
		if ((q(sys, off) & WIN_FRAME) == w->kcr3) {
			w->off[WO_DTB] = off;
			w->how[WO_DTB] = "first u64 holding kcr3 in System's "
			    "EPROCESS (not at KPROCESS+0x28)";
			return 0;
		}
	return -ENOEXEC;
}

/*
 * The process after System (past the list head, which lies in the kernel
 * image) has a pid too: a list of something else that happens to follow a
 * 4 does not.
 */
static int
next_pid_ok(struct vmsig_win *w, uint64_t fl, uint64_t me)
{
	uint64_t pid;

	if (win_proc_is_head(w, fl) &&
	    win_str_read(w->mem, w->kcr3, fl, &fl, 8, NULL) < 0)
		return 0;
	if (fl == me)
		return 1;	/* System alone in the ring */
	if (!win_kva(fl) ||
	    win_str_read(w->mem, w->kcr3, fl - 8, &pid, 8, NULL) < 0)
		return 0;
	return pid != 0 && pid % 4 == 0 && pid < (1ull << 32);
}

/* u64 4 then a LIST_ENTRY whose neighbours point back at it. */
static int
find_links(struct vmsig_win *w, const struct sample *sys)
{
	uint64_t fl, bl, me, v;
	int32_t off;

	for (off = DTB_SCAN; (size_t)off + 24 <= sys->len; off += 8) {
		if (q(sys, off) != 4)
			continue;
		fl = q(sys, off + 8);
		bl = q(sys, off + 16);
		me = sys->ep + (uint64_t)off + 8;
		if (!win_kva(fl) || !win_kva(bl) || fl == me)
			continue;
		if (win_str_read(w->mem, w->kcr3, fl + 8, &v, 8, NULL) < 0 ||
		    v != me)
			continue;
		if (win_str_read(w->mem, w->kcr3, bl, &v, 8, NULL) < 0 ||
		    v != me || !next_pid_ok(w, fl, me))
			continue;
		w->off[WO_PID] = off;
		w->how[WO_PID] = "u64 == 4 followed by a LIST_ENTRY that links "
		    "back, in System's EPROCESS";
		w->off[WO_LINKS] = off + 8;
		w->how[WO_LINKS] = "the LIST_ENTRY after UniqueProcessId: "
		    "Flink->Blink and Blink->Flink name it";
		if (bl >= w->info.kernel_base &&
		    bl - w->info.kernel_base < w->info.kernel_size)
			w->info.ps_active_process_head = bl;
		return 0;
	}
	return -ENOEXEC;
}

static int
find_name(struct vmsig_win *w, const struct sample *sys)
{
	int32_t start = w->off[WO_LINKS] + 16, off, step;

	/* Every build aligns it to 8; any alignment is a weaker second try. */
	for (step = 8; step >= 1; step -= 7)
		for (off = (start + step - 1) / step * step;
		    (size_t)off + NAME_LEN <= sys->len; off += step)
			if (memcmp(sys->b + off, "System\0", 7) == 0) {
				w->off[WO_NAME] = off;
				w->how[WO_NAME] = step == 8 ?
				    "\"System\" after the links in System's "
				    "EPROCESS (8-aligned)" :
				    "\"System\" after the links in System's "
				    "EPROCESS (unaligned)";
				return 0;
			}
	return -ENOEXEC;
}

/* A process that looks like one: pid, name, DTB. */
static int
plausible(struct prof *p, struct sample *s)
{
	struct vmsig_win *w = p->w;
	uint64_t pid = q(s, w->off[WO_PID]);
	const uint8_t *nm;
	int i;

	if ((size_t)w->off[WO_NAME] + NAME_LEN > s->len)
		return 0;
	if (pid % 4 != 0 || pid >= (1ull << 32))
		return 0;
	nm = s->b + w->off[WO_NAME];
	if (nm[0] < 0x20 || nm[0] > 0x7e)
		return 0;
	for (i = 1; i < NAME_LEN && nm[i] != 0; i++)
		if (nm[i] < 0x20 || nm[i] > 0x7e)
			return 0;
	s->pid = (uint32_t)pid;
	s->dtb = q(s, w->off[WO_DTB]) & WIN_FRAME;
	return in_ram(w, s->dtb);
}

static int
read_sample(struct prof *p, uint64_t ep)
{
	struct sample *s = &p->s[p->n];
	size_t done = 0;

	s->ep = ep;
	s->b = p->store + (size_t)p->n * WIN_EPROC_SCAN;
	memset(s->b, 0, WIN_EPROC_SCAN);
	(void)vmsig_mem_read_va(p->w->mem, p->w->kcr3, ep, s->b,
	    WIN_EPROC_SCAN, &done);
	s->len = done;
	if (p->n == 0 || plausible(p, s))
		p->n++;
	return 0;
}

/* Read the ring from System on, WIN_PROF_SAMPLE processes at most. */
static void
sample_ring(struct prof *p)
{
	struct vmsig_win *w = p->w;
	struct win_walk wk;
	uint64_t links = p->s[0].ep + (uint64_t)w->off[WO_LINKS], next, lk[2];

	win_mod_walk_init(&wk, links, q(&p->s[0], w->off[WO_LINKS] + 8),
	    VMSIG_WIN_MAX_PROCS, 0);
	lk[0] = q(&p->s[0], w->off[WO_LINKS]);
	while (p->n < WIN_PROF_SAMPLE &&
	    win_mod_walk_next(&wk, lk[0], &next) == 1) {
		if (win_str_read(w->mem, w->kcr3, next, lk, 16, NULL) < 0 ||
		    win_mod_walk_enter(&wk, next, lk[1]) < 0)
			break;
		if (win_proc_is_head(w, next)) {
			if (w->info.ps_active_process_head == 0)
				w->info.ps_active_process_head = next;
			continue;
		}
		(void)read_sample(p, next - (uint64_t)w->off[WO_LINKS]);
	}
}

/* ExitStatus: the u32 that holds STATUS_PENDING in System and most. */
static void
find_exit(struct prof *p)
{
	struct vmsig_win *w = p->w;
	int32_t off, best = -1;
	size_t i, cnt, bestcnt = 0;

	for (off = w->off[WO_LINKS] + 16; off + 4 <= (int32_t)WIN_EPROC_SCAN;
	    off += 4) {
		if ((size_t)off + 4 > p->s[0].len ||
		    win_le32(p->s[0].b + off) != WIN_STATUS_PENDING)
			continue;
		for (i = 1, cnt = 1; i < p->n; i++)
			if ((size_t)off + 4 <= p->s[i].len &&
			    win_le32(p->s[i].b + off) == WIN_STATUS_PENDING)
				cnt++;
		if (cnt > bestcnt) {
			bestcnt = cnt;
			best = off;
		}
	}
	if (best < 0 || 2 * bestcnt < p->n)
		return;
	w->off[WO_EXIT] = best;
	w->exit_value = WIN_STATUS_PENDING;
	w->how[WO_EXIT] = "u32 == STATUS_PENDING (0x103) in System and in "
	    "the most processes of the ring";
	for (i = 0; i < p->n; i++)
		p->s[i].live = (size_t)best + 4 <= p->s[i].len &&
		    win_le32(p->s[i].b + best) == WIN_STATUS_PENDING;
}

/* InheritedFromUniqueProcessId: pids of processes in the ring. */
/*
 * Processes that may break a field's rule before the offset is refused: a
 * guest may corrupt one EPROCESS, and that must not hide the field in all
 * the others.
 */
static size_t
tolerated(const struct prof *p)
{
	return p->n / 16;
}

static void
find_ppid(struct prof *p)
{
	struct vmsig_win *w = p->w;
	int32_t off, best = -1;
	size_t i, j, cnt, bestcnt = 0, bad;
	uint64_t v;

	for (off = p->lo; off < p->hi; off += 8) {
		if (q(&p->s[0], off) != 0)
			continue;
		for (i = 1, cnt = 0, bad = 0; i < p->n; i++) {
			v = q(&p->s[i], off);
			if (v % 4 != 0 || v >= (1ull << 32)) {
				bad++;
				continue;
			}
			for (j = 0; j < p->n && v != 0; j++)
				if (j != i && p->s[j].pid == v) {
					cnt++;
					break;
				}
		}
		if (bad <= tolerated(p) && cnt > bestcnt) {
			bestcnt = cnt;
			best = off;
		}
	}
	if (best < 0)
		return;
	w->off[WO_PPID] = best;
	w->how[WO_PPID] = p->lo < w->off[WO_NAME] ? "between the links and "
	    "ImageFileName: 0 in System, a pid of the ring in the most "
	    "processes" : "after ImageFileName (nothing fit before it): 0 in "
	    "System, a pid of the ring in the most processes";
}

/* 1 when peb translates under dtb and ImageBaseAddress leads to "MZ". */
static int
peb_ok(struct vmsig_win *w, uint64_t dtb, uint64_t peb)
{
	uint64_t ib;
	uint8_t mz[2];

	if (win_str_read(w->mem, dtb, peb + MZ_PAGE, &ib, 8, NULL) < 0 ||
	    !win_uva(ib) || (ib & (WIN_PAGE - 1)) != 0 ||
	    win_str_read(w->mem, dtb, ib, mz, 2, NULL) < 0)
		return 0;
	return mz[0] == 'M' && mz[1] == 'Z';
}

static void
find_peb(struct prof *p)
{
	struct vmsig_win *w = p->w;
	int32_t off, best = -1;
	size_t i, cnt, bestcnt = 0, bad;
	uint64_t v;
	int ok;

	for (off = p->lo; off < p->hi; off += 8) {
		if (q(&p->s[0], off) != 0)
			continue;
		for (i = 1, bad = 0; i < p->n; i++)
			if ((v = q(&p->s[i], off)) != 0 && !win_uva(v))
				bad++;
		ok = bad <= tolerated(p);
		for (i = 1, cnt = 0; ok && i < p->n; i++)
			if ((v = q(&p->s[i], off)) != 0 &&
			    peb_ok(w, p->s[i].dtb, v))
				cnt++;
		if (ok && cnt > bestcnt) {
			bestcnt = cnt;
			best = off;
		}
	}
	if (best < 0)
		return;
	w->off[WO_PEB] = best;
	w->how[WO_PEB] = "0 in System; in the most processes a user address "
	    "whose ImageBaseAddress (+0x10) is an MZ page";
}

/* ObjectTable: a pointer every live process has and no exited one. */
static void
find_objtab(struct prof *p)
{
	struct vmsig_win *w = p->w;
	int32_t off;
	size_t i, nexited = 0;
	uint64_t v;
	int ok;

	if (w->off[WO_EXIT] < 0)
		return;
	for (i = 0; i < p->n; i++)
		nexited += !p->s[i].live;
	if (nexited == 0) {
		w->how[WO_OBJTAB] = "not determined: no exited process in the "
		    "ring to tell it from other pointers";
		return;
	}
	for (off = p->lo; off < p->hi; off += 8) {
		for (i = 0, ok = 1; ok && i < p->n; i++) {
			v = q(&p->s[i], off);
			ok = p->s[i].live ? win_kva(v) : v == 0;
		}
		if (ok) {
			w->off[WO_OBJTAB] = off;
			w->how[WO_OBJTAB] = "the first kernel pointer set in "
			    "System and every live process, NULL in every "
			    "exited one";
			return;
		}
	}
	w->how[WO_OBJTAB] = "not found: no pointer is NULL in exactly the "
	    "exited processes";
}

/*
 * 1 when v leads to an EWOW64PROCESS {Peb32, Machine}: a user address
 * below 4 GiB (where 32-bit code can reach it) or, after it, Machine
 * IMAGE_FILE_MACHINE_I386 (0x14c) or ARMNT (0x1c4).
 */
static int
wow64_ok(struct vmsig_win *w, uint64_t v)
{
	uint64_t e[2];
	uint16_t mach;

	if (win_str_read(w->mem, w->kcr3, v, e, sizeof(e), NULL) < 0 ||
	    !win_uva(e[0]))
		return 0;
	mach = (uint16_t)e[1];
	return e[0] < (1ull << 32) || mach == 0x14c || mach == 0x1c4;
}

static void
find_wow64(struct prof *p)
{
	struct vmsig_win *w = p->w;
	int32_t off, lo, best = -1;
	size_t i, nz, cnt, bestcnt = 0;
	uint64_t v;
	int ok;

	lo = w->off[WO_PEB] >= p->lo && w->off[WO_PEB] < p->hi ?
	    w->off[WO_PEB] + 8 : p->lo;
	for (off = lo; off < p->hi; off += 8) {
		if (off == w->off[WO_OBJTAB] || off == w->off[WO_PPID] ||
		    q(&p->s[0], off) != 0)
			continue;
		for (i = 1, nz = 0, cnt = 0, ok = 1; ok && i < p->n; i++) {
			if ((v = q(&p->s[i], off)) == 0)
				continue;
			nz++;
			if (!win_kva(v))
				ok = 0;
			else if (wow64_ok(w, v))
				cnt++;
		}
		if (ok && cnt > 0 && 2 * nz <= p->n && cnt > bestcnt) {
			bestcnt = cnt;
			best = off;
		}
	}
	if (best < 0) {
		w->how[WO_WOW64] = "not found: no pointer leads to a 32-bit "
		    "PEB (no 32-bit process, or not detectable): wow64 is "
		    "never reported";
		return;
	}
	w->off[WO_WOW64] = best;
	w->how[WO_WOW64] = "after Peb: NULL in System and most processes, "
	    "else a pointer to {32-bit PEB, Machine}";
}

/* Score of one process for UserDirectoryTableBase at v; -1: impossible. */
static int
udtb_score(struct vmsig_win *w, const struct sample *s, uint64_t v)
{
	uint64_t a[256], b[256], f = v & WIN_FRAME;
	int i;

	if (v <= 1)
		return 0;
	if ((v >> 52) != 0 || f == 0 || f == s->dtb || !in_ram(w, f))
		return -1;
	if (vmsig_mem_read_pa(w->mem, f, a, sizeof(a), NULL) < 0 ||
	    vmsig_mem_read_pa(w->mem, s->dtb, b, sizeof(b), NULL) < 0)
		return 1;
	/* KVA shadow: the user root maps the same user half. */
	for (i = 0; i < 256; i++)
		if ((a[i] & 1) && a[i] == b[i])
			return 3;
	return 1;
}

static int
udtb_known(int32_t off)
{
	/* Public layouts, a tie-break only: 1809, 1903-1909, 2004+, 24H2. */
	return off == 0x278 || off == 0x280 || off == 0x388 || off == 0x158;
}

static void
find_udtb(struct prof *p)
{
	struct vmsig_win *w = p->w;
	int32_t off, best = -1, hi = UDTB_HI;
	long score, sc, bestscore = 0;
	size_t i;

	if (hi > w->off[WO_PID])
		hi = w->off[WO_PID];
	for (off = UDTB_LO; off < hi; off += 8) {
		if (off == w->off[WO_DTB])
			continue;
		for (i = 1, score = 0; i < p->n; i++) {
			if ((sc = udtb_score(w, &p->s[i], q(&p->s[i], off))) < 0)
				break;
			score += sc;
		}
		if (i < p->n || score == 0)
			continue;
		if (score > bestscore || (score == bestscore &&
		    udtb_known(off) && !udtb_known(best))) {
			bestscore = score;
			best = off;
		}
	}
	if (best < 0) {
		w->how[WO_UDTB] = "not found: no KPROCESS field holds a second "
		    "page-table root (KVA shadow off?): user_dtb is 0";
		return;
	}
	w->off[WO_UDTB] = best;
	w->how[WO_UDTB] = "KPROCESS 0x30..0x400: 0/1 or a RAM page other than "
	    "the DTB in every process, sharing the DTB's user half the most";
}

static void
abi_offsets(struct vmsig_win *w)
{
	static const struct {
		enum win_off i;
		int32_t off;
		const char *how;
	} abi[] = {
		{ WO_PEB_IMAGEBASE, 0x10, "frozen x64 ABI; checked: an MZ page "
		    "in the processes that chose EPROCESS.Peb" },
		{ WO_PEB_LDR, 0x18, "frozen x64 ABI; checked per process" },
		{ WO_PEB_PARAMS, 0x20, "frozen x64 ABI; checked per process" },
		{ WO_PARAMS_PATH, 0x60, "frozen x64 ABI; UNICODE_STRING checked "
		    "(even length, <= MaximumLength, user buffer)" },
		{ WO_LDR_LOADORDER, 0x10, "frozen x64 ABI; walked with "
		    "back-checks" },
		{ WO_LDRE_BASE, 0x30, "frozen x64 ABI" },
		{ WO_LDRE_ENTRY, 0x38, "frozen x64 ABI" },
		{ WO_LDRE_SIZE, 0x40, "frozen x64 ABI" },
		{ WO_LDRE_FULLNAME, 0x48, "frozen x64 ABI; UNICODE_STRING "
		    "checked" },
		{ WO_LDRE_BASENAME, 0x58, "frozen x64 ABI; UNICODE_STRING "
		    "checked" },
	};
	size_t i;

	for (i = 0; i < sizeof(abi) / sizeof(abi[0]); i++) {
		w->off[abi[i].i] = abi[i].off;
		w->how[abi[i].i] = abi[i].how;
	}
}

void
win_prof_span(struct vmsig_win *w)
{
	static const uint32_t len[WO_WOW64 + 1] = {
		[WO_DTB] = 8, [WO_PID] = 8, [WO_LINKS] = 16, [WO_PPID] = 8,
		[WO_NAME] = NAME_LEN, [WO_PEB] = 8, [WO_UDTB] = 8,
		[WO_EXIT] = 4, [WO_OBJTAB] = 8, [WO_WOW64] = 8,
	};
	uint32_t lo = UINT32_MAX, hi = 0;
	int i;

	for (i = 0; i <= WO_WOW64; i++) {
		if (w->off[i] < 0)
			continue;
		if ((uint32_t)w->off[i] < lo)
			lo = (uint32_t)w->off[i];
		if ((uint32_t)w->off[i] + len[i] > hi)
			hi = (uint32_t)w->off[i] + len[i];
	}
	w->span_lo = lo;
	w->span_hi = hi;
}

static int
discover(struct prof *p)
{
	struct vmsig_win *w = p->w;
	size_t i, nuser = 0;
	int r;

	(void)read_sample(p, w->info.system_eprocess);
	if (p->s[0].len < DTB_SCAN + 24)
		return -EFAULT;
	if ((r = find_dtb(w, &p->s[0])) < 0 ||
	    (r = find_links(w, &p->s[0])) < 0 ||
	    (r = find_name(w, &p->s[0])) < 0)
		return r;
	p->s[0].pid = 4;
	p->s[0].dtb = w->kcr3;
	p->s[0].live = 1;
	sample_ring(p);
	for (i = 1; i < p->n; i++)
		p->s[i].live = 1;
	find_exit(p);
	p->lo = w->off[WO_LINKS] + 16;
	p->hi = w->off[WO_NAME];
	find_ppid(p);
	find_peb(p);
	if (w->off[WO_PPID] < 0 && w->off[WO_PEB] < 0) {
		/* A build that moved them past the name: look there. */
		p->lo = w->off[WO_NAME] + 16;
		p->hi = (int32_t)WIN_EPROC_SCAN - 8;
		find_ppid(p);
		find_peb(p);
	}
	find_objtab(p);
	find_wow64(p);
	find_udtb(p);
	abi_offsets(w);
	win_prof_span(w);
	for (i = 1; i < p->n; i++)
		nuser += q(&p->s[i], w->off[WO_PEB]) != 0;
	(void)nuser;
	return 0;
}

int
win_prof_discover(struct vmsig_win *w)
{
	struct prof p;
	int r;

	memset(&p, 0, sizeof(p));
	p.w = w;
	p.s = calloc(WIN_PROF_SAMPLE, sizeof(*p.s));
	p.store = malloc((size_t)WIN_PROF_SAMPLE * WIN_EPROC_SCAN);
	if (p.s == NULL || p.store == NULL)
		r = -ENOMEM;
	else
		r = discover(&p);
	free(p.s);
	free(p.store);
	return r;
}
