/* SPDX-License-Identifier: MIT */
/*
 * How fast kcr3 discovery is against the cheapest thing that reads the
 * same bytes: memcpy from the same mapping.  A 4 GiB guest split at 2 GiB
 * with 10 % of its pages filled is generated (guestgen) under /dev/shm;
 * lowstub and selfref each run a few times and the best time is kept, next
 * to copying the bytes the method looked at (the allocated pages of the
 * stub range; the allocated pages selfref scanned before it stopped).  A
 * third line scans a noise-only guest of the same size to the end, where
 * no candidate lets the scan stop early.  Images are removed at the end.
 *
 * Runs in: tests (bench)
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../vmsig-memctx/memctx.h"

#define RUNS	5

extern char **environ;

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
guestgen(const char *img, const char *man, const char *extra)
{
	char *argv[] = { VMSIG_BUILD_DIR "/guestgen", "--out", (char *)img,
	    "--manifest", (char *)man, "--size", "4G", "--low", "2G",
	    "--fill", "10", "--seed", "7", (char *)extra, NULL };
	pid_t pid;
	int st;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

struct copy {
	uint8_t *dst;
	uint64_t lo, hi;	/* gpa window */
	uint64_t left;		/* bytes still to copy */
	uint64_t done;
};

static int
copy_extent(void *arg, uint64_t gpa, const uint8_t *p, uint64_t len)
{
	struct copy *c = arg;
	uint64_t o, n;

	if (gpa >= c->hi)	/* extents come in ascending order */
		return 1;
	if (gpa + len <= c->lo)
		return 0;
	for (o = 0; o < len && c->left > 0; o += n) {
		n = len - o < (1u << 20) ? len - o : (1u << 20);
		if (n > c->left)
			n = c->left;
		memcpy(c->dst, p + o, n);
		c->left -= n;
		c->done += n;
	}
	return c->left == 0;
}

/* Best time of copying `bytes` allocated bytes of [lo, hi). */
static double
time_copy(struct ram *ram, uint64_t lo, uint64_t hi, uint64_t bytes,
    uint64_t *ret_done)
{
	static uint8_t dst[1u << 20];
	struct copy c;
	double best = 1e30, t;
	int i;

	for (i = 0; i < RUNS; i++) {
		c = (struct copy){ dst, lo, hi, bytes, 0 };
		t = now_ms();
		(void)ram_extents(ram, copy_extent, &c);
		t = now_ms() - t;
		best = t < best ? t : best;
	}
	*ret_done = c.done;
	return best;
}

static double
time_discover(struct ram *ram, enum kcr3_method m, struct kcr3_result *r,
    int *ret_err)
{
	double best = 1e30, t;
	int i;

	for (i = 0; i < RUNS; i++) {
		t = now_ms();
		*ret_err = kcr3_discover(ram, m, 0, r, NULL);
		t = now_ms() - t;
		best = t < best ? t : best;
	}
	return best;
}

static int
open_ram(const char *img, int *ret_fd, struct ram **ret)
{
	struct layout_opts o;
	struct layout l;
	struct stat st;
	int fd;

	if ((fd = open(img, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		return -1;
	memset(&o, 0, sizeof(o));
	if (layout_opt_low(&o, "2G", NULL) < 0 ||
	    layout_build(&o, (uint64_t)st.st_size, &l, NULL) < 0 ||
	    ram_open(fd, &l, ret) < 0) {
		(void)close(fd);
		return -1;
	}
	*ret_fd = fd;
	return 0;
}

static void
line(const char *what, double d, double c, uint64_t bytes)
{
	printf("discovery %s: %.2f ms  memcpy of same bytes: %.2f ms  "
	    "ratio %.2f  (%.2f MiB)\n", what, d, c, c > 0 ? d / c : 0,
	    bytes / 1048576.0);
}

static int
bench(const char *img, int noise)
{
	struct kcr3_result r;
	struct ram *ram;
	uint64_t done;
	double d, c, t;
	int fd, err;

	t = now_ms();
	if (open_ram(img, &fd, &ram) < 0)
		return -1;
	t = now_ms() - t;
	if (noise) {
		d = time_discover(ram, KCR3_SELFREF, &r, &err);
		c = time_copy(ram, 0, UINT64_MAX, r.bytes_scanned, &done);
		line("selfref (noise, full scan)", d, c, done);
		goto out;
	}
	printf("ram_open (map + extent map): %.2f ms\n", t);
	d = time_discover(ram, KCR3_LOWSTUB, &r, &err);
	c = time_copy(ram, 0x1000, 0xa0000, UINT64_MAX, &done);
	if (err == 0)
		line("lowstub", d, c, done);
	d = time_discover(ram, KCR3_SELFREF, &r, &err);
	c = time_copy(ram, 0, UINT64_MAX, r.bytes_scanned, &done);
	if (err == 0)
		line("selfref", d, c, done);
out:
	ram_close(ram);
	(void)close(fd);
	return noise ? (err == -ENOENT ? 0 : -1) : err;
}

int
main(void)
{
	char dir[] = "/dev/shm/vmsig-bench.XXXXXX", img[64], man[64];
	int r = 1;

	if (mkdtemp(dir) == NULL) {
		perror("bench_discovery: mkdtemp");
		return 1;
	}
	(void)snprintf(img, sizeof(img), "%s/g.img", dir);
	(void)snprintf(man, sizeof(man), "%s/g.json", dir);
	if (guestgen(img, man, NULL) == 0 && bench(img, 0) == 0 &&
	    (unlink(img), guestgen(img, man, "--noise-only")) == 0 &&
	    bench(img, 1) == 0)
		r = 0;
	else
		fprintf(stderr, "bench_discovery: failed\n");
	(void)unlink(img);
	(void)unlink(man);
	(void)rmdir(dir);
	return r;
}
