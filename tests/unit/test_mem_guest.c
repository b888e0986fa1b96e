/* SPDX-License-Identifier: MIT */
/*
 * The memory context against guestgen images and their manifests: every
 * probe (bytes and faults), the kcr3 page map run for run, every pattern
 * found by the scans, on a 256 MiB one-region guest and a 3 GiB guest split
 * at 2 GiB opened both by `low` and by segments; and a guest rebooted under
 * an open context, whose translations are new after a flush.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <vmsig/mem.h>

#include "../common/manifest.h"
#include "../common/tproc.h"

#define MAXRUNS		65536
#define PML4_SPAN	(1ull << 39)

struct fixture {
	char dir[256];
	struct gg_manifest *one, *split;
};

static void
remove_image(const struct fixture *fx, const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s.img", fx->dir, name);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/%s.json", fx->dir, name);
	(void)unlink(p);
}

static int
group_setup(void **state)
{
	static const char *const one[] = { "--size", "256M", "--seed", "7",
	    NULL };
	static const char *const split[] = { "--size", "3G", "--low", "2G",
	    "--seed", "11", NULL };
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	if (t_mkdtemp("vmsig-memg-XXXXXX", fx->dir, sizeof(fx->dir)) < 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	if (gg_make(fx->dir, "one", one, &fx->one) < 0 ||
	    gg_make(fx->dir, "split", split, &fx->split) < 0) {
		fprintf(stderr, "test_mem_guest: guestgen failed "
		    "(make B=... B/guestgen first)\n");
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL)
		return 0;
	gg_manifest_free(fx->one);
	gg_manifest_free(fx->split);
	remove_image(fx, "one");
	remove_image(fx, "split");
	remove_image(fx, "reboot");
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct vmsig_mem *
open_image(const struct gg_manifest *m, int by_segs, int *ret_fd)
{
	struct vmsig_mem *mem = NULL;
	int fd = open(m->image, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	if (by_segs)
		assert_int_equal(vmsig_mem_open_segs(fd, m->segs, m->nseg,
		    &mem), 0);
	else
		assert_int_equal(vmsig_mem_open(fd, m->low, &mem), 0);
	*ret_fd = fd;
	return mem;
}

static void
run_probes(struct vmsig_mem *mem, const struct gg_manifest *m)
{
	uint8_t buf[8192];
	size_t i, done;
	int r;

	assert_true(m->nprobes > 10);
	for (i = 0; i < m->nprobes; i++) {
		const struct gg_probe *p = &m->probes[i];

		if (p->fault) {
			r = vmsig_mem_read_va(mem, p->cr3, p->va, buf, 8,
			    &done);
			if (r != -p->err)
				fprintf(stderr, "probe %zu va %#llx: %d\n", i,
				    (unsigned long long)p->va, r);
			assert_int_equal(r, -p->err);
			assert_true(done < 8);
			continue;
		}
		assert_true(p->len <= sizeof(buf));
		r = vmsig_mem_read_va(mem, p->cr3, p->va, buf, p->len, &done);
		if (r != 0)
			fprintf(stderr, "probe %zu va %#llx: %d\n", i,
			    (unsigned long long)p->va, r);
		assert_int_equal(r, 0);
		assert_int_equal(done, p->len);
		assert_memory_equal(buf, p->bytes, p->len);
	}
}

struct runs {
	size_t n;
	struct vmsig_map_range *r;
};

static int
collect(void *arg, const struct vmsig_map_range *r)
{
	struct runs *rs = arg;

	if (rs->n == MAXRUNS)
		return -ENOSPC;
	rs->r[rs->n++] = *r;
	return 0;
}

/* pmap of kcr3 outside the self-reference slot equals the manifest's maps. */
static void
check_maps(struct vmsig_mem *mem, const struct gg_manifest *m)
{
	uint64_t self = 0xffff000000000000ull |
	    ((uint64_t)m->self_index << 39);
	struct runs rs = { 0, calloc(MAXRUNS, sizeof(*rs.r)) };
	size_t i;

	assert_non_null(rs.r);
	assert_true(m->nmaps > 0);
	assert_int_equal(vmsig_mem_pmap(mem, m->kcr3, 0, self, collect, &rs),
	    0);
	assert_int_equal(vmsig_mem_pmap(mem, m->kcr3, self + PML4_SPAN, 0,
	    collect, &rs), 0);
	assert_int_equal(rs.n, m->nmaps);
	for (i = 0; i < rs.n; i++) {
		const struct gg_map *g = &m->maps[i];

		assert_int_equal(rs.r[i].va, g->va);
		assert_int_equal(rs.r[i].size, g->size);
		assert_int_equal(rs.r[i].gpa, g->gpa);
		assert_int_equal(rs.r[i].page_size, g->page_size);
		assert_int_equal(rs.r[i].flags, g->flags);
	}
	free(rs.r);
}

struct want {
	uint64_t addr;
	int found;
	int64_t n;
};

static int
want_hit(void *arg, uint64_t addr)
{
	struct want *w = arg;

	w->n++;
	if (addr == w->addr)
		w->found = 1;
	return 0;
}

static void
check_patterns(struct vmsig_mem *mem, const struct gg_manifest *m)
{
	size_t i, nphys = 0;

	assert_true(m->npatterns > 0);
	for (i = 0; i < m->npatterns; i++) {
		const struct gg_pattern *p = &m->patterns[i];
		struct want w = { .addr = p->addr };
		int64_t r;

		if (p->cr3 == 0) {
			r = vmsig_mem_scan_pa(mem, 0, 0, p->bytes, NULL,
			    p->len, want_hit, &w);
			assert_int_equal(r, 1);		/* occurs once */
			nphys++;
		} else {
			/* The page pair around the hit, then the space. */
			r = vmsig_mem_scan_va(mem, p->cr3, (p->addr &
			    ~0xfffull) - 4096, (p->addr & ~0xfffull) + 8192,
			    p->bytes, NULL, p->len, want_hit, &w);
			assert_int_equal(r, 1);
			if (i == 0 || p->cr3 == m->kcr3) {
				w.found = 0;
				r = vmsig_mem_scan_va(mem, p->cr3, 0, 0,
				    p->bytes, NULL, p->len, want_hit, &w);
				assert_true(r >= 1);
			}
		}
		assert_true(w.found);
	}
	assert_true(nphys > 0);
}

static void
check_image(const struct gg_manifest *m, int by_segs)
{
	int fd;
	struct vmsig_mem *mem = open_image(m, by_segs, &fd);

	assert_int_equal(vmsig_mem_size(mem), m->file_size);
	run_probes(mem, m);
	check_maps(mem, m);
	check_patterns(mem, m);
	/* Once more from the cache. */
	run_probes(mem, m);
	vmsig_mem_close(mem);
	close(fd);
}

static void
test_one_region(void **state)
{
	struct fixture *fx = *state;

	check_image(fx->one, 0);
}

static void
test_split_low(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->split->low, 2ull << 30);
	check_image(fx->split, 0);
}

static void
test_split_segs(void **state)
{
	struct fixture *fx = *state;

	assert_true(fx->split->nseg >= 2);
	check_image(fx->split, 1);
}

/* A reboot rewrites the tables under an open context; a flush sees it. */
static void
test_reboot(void **state)
{
	static const char *const args[] = { "--size", "256M", "--seed", "21",
	    NULL };
	struct fixture *fx = *state;
	struct gg_manifest *before = NULL, *after = NULL;
	struct vmsig_mem *mem;
	struct vmsig_xlat x;
	char man[512];
	int fd;

	assert_int_equal(gg_make(fx->dir, "reboot", args, &before), 0);
	mem = open_image(before, 0, &fd);
	run_probes(mem, before);
	assert_int_equal(vmsig_mem_translate(mem, before->kcr3,
	    before->kernel_base, &x), 0);
	snprintf(man, sizeof(man), "%s/reboot.json", fx->dir);
	assert_int_equal(gg_reboot(man, before->image, 0, &after), 0);
	assert_int_not_equal(after->kcr3, before->kcr3);
	/* Without a flush, stale answers are allowed; after one, none. */
	vmsig_mem_flush(mem);
	run_probes(mem, after);
	check_maps(mem, after);
	/* The old root's tables were zeroed: the old space is gone. */
	assert_int_equal(vmsig_mem_translate(mem, before->kcr3,
	    before->kernel_base, &x), -EFAULT);
	vmsig_mem_close(mem);
	close(fd);
	gg_manifest_free(before);
	gg_manifest_free(after);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_region),
		cmocka_unit_test(test_split_low),
		cmocka_unit_test(test_split_segs),
		cmocka_unit_test(test_reboot),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
