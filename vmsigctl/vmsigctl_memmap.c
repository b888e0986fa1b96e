/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl pmap and scan: list the mapped runs of an address space, and
 * find a byte pattern with wildcards in an address space or in all of
 * guest-physical memory.  Both stream: a line per run or per hit as the
 * library's walk reports it, so a pipe sees results before the walk ends.
 * scan exits like grep(1): 0 with a hit, 1 with none (or on failure).
 *
 * Runs in: holder
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <vmsig/mem.h>

#include "vmsigctl.h"

#define CTL_PAT_MAX	4096	/* vmsig_mem_scan_*'s limit */

struct walk {
	const struct vmsigctl_mem *m;
	const struct vmsigctl_memopt *o;
	uint64_t cr3;
	uint64_t hits;
};

static int
pmap_run(void *arg, const struct vmsig_map_range *r)
{
	const struct walk *w = arg;
	char rights[16];

	vmsigctl_mem_rights(r->flags, rights, sizeof(rights));
	if (w->o->json)
		printf("{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64
		    "\",\"size\":\"0x%" PRIx64 "\",\"page_size\":\"0x%" PRIx64
		    "\",\"flags\":%" PRIu32 ",\"rights\":\"%s\",\"gpa\":\"0x%"
		    PRIx64 "\"}\n", r->va, r->va + r->size, r->size,
		    r->page_size, r->flags, rights, r->gpa);
	else
		printf("0x%016" PRIx64 "-0x%016" PRIx64 " 0x%" PRIx64 " %s %s "
		    "0x%" PRIx64 "\n", r->va, r->va + r->size, r->size,
		    vmsigctl_mem_pgsz(r->page_size), rights, r->gpa);
	/* A reader that went away (EPIPE with SIGPIPE ignored) ends it. */
	return ferror(stdout) ? -EIO : 0;
}

static int
do_pmap(struct vmsigctl_mem *m, const struct vmsigctl_memopt *o)
{
	struct walk w = { .m = m, .o = o };
	int r;

	if (vmsigctl_mem_cr3(m, o, &w.cr3) != CTL_OK)
		return CTL_FAIL;
	r = vmsig_mem_pmap(m->mem, w.cr3, 0, 0, pmap_run, &w);
	if (fflush(stdout) != 0 && r == 0)
		r = -EIO;
	if (r == -ELOOP)
		vmsigctl_warnx("pmap: cr3 0x%" PRIx64 ": the page tables "
		    "reference each other beyond 2^20 table pages (is this a "
		    "page-table root?)", w.cr3);
	else if (r < 0)
		vmsigctl_warnx("pmap: cr3 0x%" PRIx64 ": %s", w.cr3,
		    strerror(-r));
	return r == 0 ? CTL_OK : CTL_FAIL;
}

int
vmsigctl_memmap_pmap_main(const char *socket, int argc, char **argv)
{
	struct vmsigctl_memopt o;
	struct vmsigctl_mem m;
	uint32_t ep;
	int first, r;

	if (vmsigctl_mem_opts(argc, argv, CTL_MO_CR3 | CTL_MO_PID |
	    CTL_MO_JSON, &o, &first) < 0 ||
	    vmsigctl_mem_nargs(argc - first, 1, "ENDPOINT") < 0 ||
	    vmsigctl_mem_endpoint(argv[first], &ep) < 0)
		return vmsigctl_usage("pmap");
	if ((r = vmsigctl_mem_attach(socket, ep, o.timeout_ms, &m)) != CTL_OK)
		return r;
	r = do_pmap(&m, &o);
	vmsigctl_mem_detach(&m);
	return r;
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : tolower(c) - 'a' + 10;
}

/*
 * "4d5a??0090": pairs of hex digits or "??" (any byte), blanks allowed
 * between pairs.  Returns the length (1..CTL_PAT_MAX) or -EINVAL (the
 * reason: vmsigctl_bad).
 */
static int
parse_pattern(const char *s, uint8_t *pat, uint8_t *mask)
{
	const unsigned char *p = (const unsigned char *)s;
	int n = 0;

	while (*p != '\0') {
		if (isspace(*p)) {
			p++;
			continue;
		}
		if (n == CTL_PAT_MAX)
			return vmsigctl_bad("HEXPATTERN: longer than %d bytes",
			    CTL_PAT_MAX);
		if (p[0] == '?' && p[1] == '?') {
			pat[n] = 0;
			mask[n] = 0;
		} else if (isxdigit(p[0]) && isxdigit(p[1])) {
			pat[n] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
			mask[n] = 0xff;
		} else
			return vmsigctl_bad("HEXPATTERN '%.64s': byte %d is not "
			    "two hex digits or ??", s, n + 1);
		n++;
		p += 2;
	}
	return n > 0 ? n : vmsigctl_bad("HEXPATTERN is empty");
}

static int
scan_hit(void *arg, uint64_t addr)
{
	struct walk *w = arg;

	if (w->o->json) {
		printf("{\"endpoint\":%" PRIu32 ",\"epoch\":%" PRIu32
		    ",\"space\":\"%s\"", w->m->endpoint, w->m->epoch,
		    w->o->physical ? "pa" : "va");
		if (!w->o->physical)
			printf(",\"cr3\":\"0x%" PRIx64 "\"", w->cr3);
		printf(",\"addr\":\"0x%" PRIx64 "\"}\n", addr);
	} else
		printf("0x%" PRIx64 "\n", addr);
	if (ferror(stdout))
		return -EIO;
	w->hits++;
	return w->o->max != 0 && w->hits >= w->o->max ? 1 : 0;
}

static int
do_scan(struct vmsigctl_mem *m, const struct vmsigctl_memopt *o,
    const uint8_t *pat, const uint8_t *mask, size_t len)
{
	struct walk w = { .m = m, .o = o };
	int64_t n;

	if (!o->physical && vmsigctl_mem_cr3(m, o, &w.cr3) != CTL_OK)
		return CTL_FAIL;
	if (o->physical)
		n = vmsig_mem_scan_pa(m->mem, 0, 0, pat, mask, len, scan_hit,
		    &w);
	else
		n = vmsig_mem_scan_va(m->mem, w.cr3, 0, 0, pat, mask, len,
		    scan_hit, &w);
	if (fflush(stdout) != 0 && n >= 0)
		n = -EIO;
	if (n < 0) {
		vmsigctl_warnx("scan: %s: %s", o->physical ? "guest-physical "
		    "memory" : "address space", n == -ELOOP ? "the page "
		    "tables reference each other beyond 2^20 table pages" :
		    strerror((int)-n));
		return CTL_FAIL;
	}
	fprintf(stderr, "%" PRId64 " hit%s\n", n, n == 1 ? "" : "s");
	return n > 0 ? CTL_OK : CTL_FAIL;
}

int
vmsigctl_memmap_scan_main(const char *socket, int argc, char **argv)
{
	static uint8_t pat[CTL_PAT_MAX], mask[CTL_PAT_MAX];
	struct vmsigctl_memopt o;
	struct vmsigctl_mem m;
	uint32_t ep;
	int first, len, r;

	if (vmsigctl_mem_opts(argc, argv, CTL_MO_CR3 | CTL_MO_PID |
	    CTL_MO_JSON | CTL_MO_PHYS | CTL_MO_MAX, &o, &first) < 0 ||
	    vmsigctl_mem_nargs(argc - first, 2, "ENDPOINT HEXPATTERN") < 0 ||
	    vmsigctl_mem_endpoint(argv[first], &ep) < 0 ||
	    (len = parse_pattern(argv[first + 1], pat, mask)) < 0)
		return vmsigctl_usage("scan");
	if ((r = vmsigctl_mem_attach(socket, ep, o.timeout_ms, &m)) != CTL_OK)
		return r;
	r = do_scan(&m, &o, pat, mask, (size_t)len);
	vmsigctl_mem_detach(&m);
	return r;
}
