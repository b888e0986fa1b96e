/* SPDX-License-Identifier: MIT */
/*
 * guestgen: writes a synthetic Windows-x64-like guest RAM file and a JSON
 * manifest of its ground truth, or rewrites such a file in place as a guest
 * reboot would (--reboot).  The file is sparse: only built pages are
 * written, so a 4 GiB guest costs a few MB of disk unless --fill asks for
 * real allocation.  Everything is derived from --seed.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guestgen.h"

#define MIN_SIZE	(32 * GG_1M)
#define MAX_OLD_TABLES	65536

struct opts {
	const char *out, *manifest, *reboot;
	uint64_t size, low, seed;
	int have_low, have_seed, lowstub, noise_only, have_win;
	unsigned int fill;
	struct win_opts win;
};

static void __attribute__((noreturn))
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "guestgen: %s\n", why);
	fprintf(stderr,
	    "usage: guestgen --out IMAGE --manifest FILE --size BYTES [--low BYTES]\n"
	    "                [--seed N] [--no-lowstub] [--noise-only] [--fill PERCENT]\n"
	    "                [--windows BUILD|none] [--procs N] [--modules N]\n"
	    "                [--exports N] [--corrupt-ring]\n"
	    "       guestgen --reboot IMAGE --manifest FILE [--seed N]\n"
	    "BYTES: decimal or 0x hex, optional K, M or G suffix.\n"
	    "BUILD: 17763, 18363, 19041-19045, 20348, 22000, 22621, 22631,\n"
	    "       26100, shifted (default 19045).\n");
	exit(1);
}

/* "256M", "0x10000000", "3G": 0 and *ret, or -EINVAL. */
static int
parse_size(const char *s, uint64_t *ret)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, strncmp(s, "0x", 2) && strncmp(s, "0X", 2) ?
	    10 : 16);
	if (errno != 0 || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "low", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-lowstub", no_argument, NULL, 'n' },
		{ "noise-only", no_argument, NULL, 'N' },
		{ "fill", required_argument, NULL, 'f' },
		{ "reboot", required_argument, NULL, 'r' },
		{ "windows", required_argument, NULL, 'w' },
		{ "procs", required_argument, NULL, 'P' },
		{ "modules", required_argument, NULL, 'M' },
		{ "exports", required_argument, NULL, 'E' },
		{ "corrupt-ring", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->lowstub = 1;
	o->seed = 1;
	o->win.build = "19045";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'm': o->manifest = optarg; break;
		case 'r': o->reboot = optarg; break;
		case 'n': o->lowstub = 0; break;
		case 'N': o->noise_only = 1; break;
		case 's':
			if (parse_size(optarg, &o->size) < 0)
				usage("--size: not a size (e.g. 256M, 0x10000000)");
			break;
		case 'l':
			if (parse_size(optarg, &o->low) < 0)
				usage("--low: not a size (e.g. 2G)");
			o->have_low = 1;
			break;
		case 'S':
			if (parse_size(optarg, &o->seed) < 0)
				usage("--seed: not a number");
			o->have_seed = 1;
			break;
		case 'f':
			if (parse_size(optarg, &v) < 0 || v > 100)
				usage("--fill: a percentage, 0 to 100");
			o->fill = (unsigned int)v;
			break;
		case 'w':
			o->win.build = optarg;
			o->have_win = 1;
			break;
		case 'P':
			if (parse_size(optarg, &v) < 0 || v < 1 || v > 4096)
				usage("--procs: 1 to 4096");
			o->win.procs = (unsigned int)v;
			o->have_win = 1;
			break;
		case 'M':
			if (parse_size(optarg, &v) < 0 || v < 5 || v > 1000)
				usage("--modules: 5 to 1000");
			o->win.modules = (unsigned int)v;
			o->have_win = 1;
			break;
		case 'E':
			if (parse_size(optarg, &v) < 0 || v < 12 || v > 20000)
				usage("--exports: 12 to 20000");
			o->win.exports = (unsigned int)v;
			o->have_win = 1;
			break;
		case 'C':
			o->win.corrupt_ring = 1;
			o->have_win = 1;
			break;
		case 'h': usage(NULL);
		default: usage(NULL);
		}
	}
	if (optind != argc)
		usage("unexpected argument");
}

static void
check_layout(struct opts *o)
{
	if (o->size < MIN_SIZE || o->size % GG_4K)
		usage("--size must be a multiple of 4K and at least 32M");
	if (!o->have_low || o->low == o->size) {
		if (o->size >= GG_4G)
			usage("--size of 4G or more needs --low (RAM above 4 "
			    "GiB is split)");
		o->low = o->size;
		return;
	}
	if (o->low % GG_4K || o->low < 16 * GG_1M || o->low > GG_4G ||
	    o->low > o->size)
		usage("--low must be a multiple of 4K, 16M to 4G, at most --size");
}

static void
generate(struct opts *o)
{
	struct guest g;
	int fd;

	memset(&g, 0, sizeof(g));
	g.image = o->out;
	g.size = o->size;
	g.low = o->low;
	g.seed = g.rng = o->seed;
	g.lowstub = o->lowstub && !o->noise_only;
	g.noise_only = o->noise_only;
	g.fill = o->fill;
	if (!o->noise_only)
		win_new(&g, &o->win);
	fd = open(o->out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		err(1, "%s", o->out);
	if (ftruncate(fd, (off_t)o->size) == -1)
		err(1, "%s: truncate", o->out);
	scene_build(&g);
	image_flush(&g, fd);
	if (g.fill)
		image_fill(&g, fd);
	if (close(fd) == -1)
		err(1, "%s: close", o->out);
	manifest_out_write(&g, o->manifest);
	win_free(&g);
	image_free(&g);
}

/* Collect the table pages reachable from one PML4 (levels 4..1). */
static void
old_walk(struct guest *g, int fd, uint64_t table, unsigned int lvl,
    uint64_t *list, size_t *n)
{
	uint64_t e[512], f;
	size_t i;

	if (!image_in_ram(g, table, GG_4K) || *n >= MAX_OLD_TABLES)
		return;
	for (i = 0; i < *n; i++)
		if (list[i] == table)
			return;
	list[(*n)++] = table;
	if (lvl == 1 || pread(fd, e, sizeof(e), (off_t)image_off(g, table)) !=
	    (ssize_t)sizeof(e))
		return;
	for (i = 0; i < 512; i++) {
		f = e[i] & E_FRAME;
		if (!(e[i] & E_P) || f == table || (lvl < 4 && (e[i] & E_PS)))
			continue;
		old_walk(g, fd, f, lvl - 1, list, n);
	}
}

/*
 * Zero every page table of the old boot and its low stub area, and keep
 * the new tables off those frames, so the old kcr3 cannot validate.
 */
static void
forget_old(struct guest *g, int fd, const struct gg_old *old)
{
	uint64_t *list;
	size_t i, n = 0;

	list = calloc(MAX_OLD_TABLES, sizeof(*list));
	if (list == NULL)
		err(2, "out of memory");
	for (i = 0; i < old->nproc; i++)
		old_walk(g, fd, old->procs[i] & E_FRAME, 4, list, &n);
	if (old->kcr3 != 0)
		old_walk(g, fd, old->kcr3 & E_FRAME, 4, list, &n);
	for (i = 0; i < n; i++) {
		image_zero(g, fd, list[i], GG_4K);
		image_reserve(g, list[i], GG_4K);
	}
	if (old->lowstub)
		image_zero(g, fd, GG_STUB_LO, GG_STUB_HI - GG_STUB_LO);
	free(list);
}

static void
reboot(struct opts *o)
{
	struct gg_old old;
	struct guest g;
	struct stat st;
	int fd, r;

	r = manifest_out_read(o->manifest, &old);
	if (r < 0)
		errx(1, "%s: not a guestgen manifest (%s)", o->manifest,
		    strerror(-r));
	fd = open(o->reboot, O_RDWR | O_CLOEXEC);
	if (fd == -1)
		err(1, "%s", o->reboot);
	if (fstat(fd, &st) == -1)
		err(1, "%s: stat", o->reboot);
	if ((uint64_t)st.st_size != old.file_size || old.low > old.file_size)
		errx(1, "%s: size does not match manifest %s", o->reboot,
		    o->manifest);
	memset(&g, 0, sizeof(g));
	g.image = o->reboot;
	g.size = old.file_size;
	g.low = old.low;
	g.seed = g.rng = o->have_seed ? o->seed : old.seed + 1;
	g.lowstub = old.lowstub;
	g.noise_only = old.kcr3 == 0;
	if (!g.noise_only && old.win.build != NULL)
		win_new(&g, &old.win);
	forget_old(&g, fd, &old);
	free(old.procs);
	scene_build(&g);
	image_flush(&g, fd);
	if (close(fd) == -1)
		err(1, "%s: close", o->reboot);
	manifest_out_write(&g, o->manifest);
	win_free(&g);
	image_free(&g);
}

int
main(int argc, char **argv)
{
	struct opts o;

	parse_args(argc, argv, &o);
	if (o.manifest == NULL)
		usage("--manifest FILE is required");
	if (o.reboot != NULL) {
		if (o.out != NULL || o.size != 0 || o.have_low || o.fill ||
		    o.noise_only || !o.lowstub || o.have_win)
			usage("--reboot takes only --manifest and --seed");
		reboot(&o);
		return 0;
	}
	if (o.out == NULL || o.size == 0)
		usage("--out IMAGE and --size BYTES are required");
	if (o.noise_only && o.have_win)
		usage("--noise-only has no Windows scene");
	check_layout(&o);
	generate(&o);
	return 0;
}
