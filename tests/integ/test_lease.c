/* SPDX-License-Identifier: MIT */
/*
 * The MEMWRITE lease and leased writes end to end: the real vmsigd, the
 * real vmsig-memctx on a guestgen image under /dev/shm, holders through
 * libvmsig-holder.  Exclusivity and EBUSY, expiry, release on disconnect,
 * the end of a lease with its epoch (a guest reboot) and ESTALE for a
 * write naming the old epoch, writes out of bounds, across and into the
 * hole between segments, to a helper that is not --writable, without the
 * lease, from a uid the writers rule does not admit; MEMWRITTEN reaching
 * the other holders and taking their translation of a rewritten PTE with
 * it; bytes really in the RAM file; descriptors read-only throughout;
 * vmsigctl write and lease.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/mem.h>

#include "harness.h"
#include "../common/manifest.h"
#include "../common/tproc.h"

#define EP		1u
#define LOW		0x8000000ull		/* 128 MiB, split images */
#define GIB4		0x100000000ull
#define NOBODY		65534
#define TTL		5000u

struct fx {
	char *dir;
	char man[4096];
	struct gg_manifest *m;
	struct h_proc d, mc;
	struct vmsig_holder *a, *b;
	int base_self;
};

static int
setup(void **state)
{
	static char self[32];
	static const char *const extra[] = { "--allow-writer", self,
	    "--allow-holder", "uid:0", "--allow-holder", "uid:65534", NULL };
	struct fx *fx = calloc(1, sizeof(*fx));

	/* The writer is whoever runs the test (root in CI). */
	snprintf(self, sizeof(self), "uid:%u", (unsigned)geteuid());

	/* tmpfs, like a QEMU memory-backend-file. */
	(void)setenv("TMPDIR", "/dev/shm", 1);
	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	/* The unprivileged child of test_unauthorised reaches the socket. */
	if (chmod(fx->dir, 0755) == -1)
		return -1;
	fx->base_self = h_fd_count(0);
	if (h_vmsigd(fx->dir, extra, &fx->d) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int r;

	vmsig_holder_close(fx->a);
	vmsig_holder_close(fx->b);
	gg_manifest_free(fx->m);
	r = h_teardown(&fx->mc, &fx->d, fx->dir, fx->base_self);
	free(fx);
	return r;
}

/* The descriptors a holder got stay read-only and unmappable for write. */
static void
check_rdonly_fd(int fd)
{
	void *p;

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EACCES);
}

static void
check_rdonly(struct vmsig_holder *h)
{
	check_rdonly_fd(vmsig_mem_fd(vmsig_holder_mem(h, EP, NULL, NULL)));
}

/* The next event of `type`, skipping others (at most 64, within 5 s). */
static vmsig_event *
next_of(struct vmsig_holder *h, uint32_t type)
{
	vmsig_event *ev;
	int i;

	for (i = 0; i < 64; i++) {
		if (vmsig_holder_next(h, 5000, &ev) != 1)
			return NULL;
		if (ev->type == type)
			return ev;
		vmsig_event_free(ev);
	}
	return NULL;
}

static struct vmsig_holder *
holder_ctx(struct fx *fx, const char *name)
{
	struct vmsig_holder *h = h_holder(fx->dir, name);
	vmsig_event *ev;

	assert_non_null(h);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 5000);
	assert_non_null(ev);
	check_rdonly_fd(ev->fd);
	vmsig_event_free(ev);
	assert_non_null(vmsig_holder_mem(h, EP, NULL, NULL));
	return h;
}

/*
 * A fresh 256 MiB image (gg: more guestgen options), its helper (mc: more
 * helper options) and holders A and B, each with the tracked context.
 */
static void
start(struct fx *fx, const char *const gg[], const char *const mc[])
{
	const char *ggv[8] = { "--size", "256M" };
	size_t i = 2;

	for (; gg != NULL && *gg != NULL && i < 7; gg++)
		ggv[i++] = *gg;
	ggv[i] = NULL;
	assert_int_equal(gg_make(fx->dir, "g", ggv, &fx->m), 0);
	snprintf(fx->man, sizeof(fx->man), "%s/g.json", fx->dir);
	/* A reboot must be seen quickly: --revalidate-ms 100. */
	assert_int_equal(h_memctx(fx->dir, EP, fx->m->image, 100, mc, &fx->mc),
	    0);
	/* Live MEMCTX or the replay, whichever comes first. */
	fx->a = holder_ctx(fx, "A");
	fx->b = holder_ctx(fx, "B");
}

static const char *const writable[] = { "--writable", NULL };

static uint64_t
acquire(struct vmsig_holder *h, uint32_t ttl)
{
	uint64_t lease = 0, exp = 0;

	assert_int_equal(vmsig_holder_lease_acquire(h, EP, ttl, -1, &lease,
	    &exp), 0);
	assert_true(lease != 0);
	assert_true(exp != 0);
	return lease;
}

/* pread the RAM file itself. */
static void
file_bytes(struct fx *fx, uint64_t off, void *buf, size_t len)
{
	int fd = open(fx->m->image, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* One holder at a time; the refusal names the holder and the time left. */
static void
test_exclusive(void **state)
{
	struct fx *fx = *state;
	struct vmsig_status *st;
	uint64_t la, lb, exp, dummy;
	char want[64];

	start(fx, NULL, writable);
	la = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_lease_acquire(fx->b, EP, TTL, -1, &lb,
	    NULL), -EBUSY);
	snprintf(want, sizeof(want), "held by peer %u for ",
	    vmsig_holder_peer_id(fx->a));
	assert_non_null(strstr(vmsig_holder_error(fx->b), want));
	assert_non_null(strstr(vmsig_holder_error(fx->b), " ms more"));
	/* The same holder cannot take it twice either. */
	assert_int_equal(vmsig_holder_lease_acquire(fx->a, EP, TTL, -1,
	    &dummy, NULL), -EBUSY);
	assert_int_equal(vmsig_holder_lease_renew(fx->a, la, TTL, -1, &exp), 0);
	assert_int_equal(vmsig_holder_lease_renew(fx->b, la, TTL, -1, &exp),
	    -ENOENT);
	assert_int_equal(vmsig_holder_status(fx->b, -1, &st), 0);
	assert_int_equal(st->nendpoints, 1);
	assert_int_equal(st->endpoints[0].lease_id, la);
	assert_int_equal(st->endpoints[0].lease_peer,
	    vmsig_holder_peer_id(fx->a));
	assert_int_equal(st->endpoints[0].lease_expires_ms, exp);
	vmsig_status_free(st);
	assert_int_equal(vmsig_holder_lease_release(fx->a, la, -1), 0);
	assert_int_equal(vmsig_holder_lease_release(fx->a, la, -1), -ENOENT);
	lb = acquire(fx->b, TTL);
	assert_true(lb != la);
	/* Bad arguments never reach the daemon. */
	assert_int_equal(vmsig_holder_lease_acquire(fx->a, EP, 0, -1, &dummy,
	    NULL), -EINVAL);
	assert_int_equal(vmsig_holder_lease_acquire(fx->a, EP, 60001, -1,
	    &dummy, NULL), -EINVAL);
	assert_int_equal(vmsig_holder_lease_release(fx->b, lb, -1), 0);
	/* A release announces nothing. */
	assert_true(h_quiet(fx->b, 200));
}

/* ttl 200 ms without a renewal: LEASE_LOST EXPIRED, then no more writes. */
static void
test_expiry(void **state)
{
	struct fx *fx = *state;
	const vmsig_lease_lost *ll;
	vmsig_event *ev;
	uint64_t la, lb;
	size_t done = 1;

	start(fx, NULL, writable);
	la = acquire(fx->a, 200);
	ev = next_of(fx->a, VMSIG_EV_LEASE_LOST);
	assert_non_null(ev);
	ll = (const void *)ev->inln;
	assert_int_equal(ll->lease_id, la);
	assert_int_equal(ll->reason, VMSIG_LEASE_EXPIRED);
	vmsig_event_free(ev);
	assert_int_equal(vmsig_holder_lease_renew(fx->a, la, TTL, -1, NULL),
	    -ENOENT);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, la, 0x2000000, "x",
	    1, -1, &done), -EPERM);
	assert_int_equal(done, 0);
	lb = acquire(fx->b, TTL);
	assert_int_equal(vmsig_holder_lease_release(fx->b, lb, -1), 0);
}

/* A holder that goes away gives its lease back. */
static void
test_disconnect(void **state)
{
	struct fx *fx = *state;
	uint64_t lb = 0;
	int i, r = -EBUSY;

	start(fx, NULL, writable);
	(void)acquire(fx->a, TTL);
	vmsig_holder_close(fx->a);
	fx->a = NULL;
	/* The daemon sees A's hang-up and B's request on different sockets,
	 * in either order: retry a bounded number of times. */
	for (i = 0; i < 200 && r == -EBUSY; i++) {
		r = vmsig_holder_lease_acquire(fx->b, EP, TTL, -1, &lb, NULL);
		if (r == -EBUSY)
			(void)poll(NULL, 0, 10);
	}
	assert_int_equal(r, 0);
	assert_true(lb != 0);
	assert_int_equal(vmsig_holder_lease_release(fx->b, lb, -1), 0);
}

/*
 * A reboot moves the epoch: the lease ends (LEASE_LOST EPOCH), and a write
 * that still names the old epoch is refused even under a fresh lease.
 */
static void
test_epoch(void **state)
{
	struct fx *fx = *state;
	struct gg_manifest *m2 = NULL;
	const vmsig_lease_lost *ll;
	vmsig_event *ev;
	uint64_t l1, l2;
	uint32_t epoch = 0;
	size_t done = 1;
	int lost = 0, i;

	start(fx, NULL, writable);
	l1 = acquire(fx->a, TTL);
	assert_int_equal(gg_reboot(fx->man, fx->m->image, 0, &m2), 0);
	/* B follows the guest; A does not look yet. */
	ev = next_of(fx->b, VMSIG_EV_MEMCTX);
	assert_non_null(ev);
	assert_int_equal(ev->epoch, 2);
	assert_int_equal(((const vmsig_memctx *)(const void *)ev->inln)->kcr3,
	    m2->kcr3);
	vmsig_event_free(ev);
	/* A's tracker still holds epoch 1. */
	assert_non_null(vmsig_holder_mem(fx->a, EP, &epoch, NULL));
	assert_int_equal(epoch, 1);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l1, 0x2000000,
	    "old", 3, -1, &done), -ESTALE);
	assert_int_equal(done, 0);
	assert_non_null(strstr(vmsig_holder_error(fx->a), "epoch 1"));
	l2 = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l2, 0x2000000,
	    "old", 3, -1, &done), -ESTALE);
	/* Now A catches up: invalidation, its lost lease, the new context. */
	for (i = 0, ev = NULL; i < 16; i++) {
		assert_int_equal(vmsig_holder_next(fx->a, 5000, &ev), 1);
		if (ev->type == VMSIG_EV_LEASE_LOST) {
			ll = (const void *)ev->inln;
			assert_int_equal(ll->lease_id, l1);
			assert_int_equal(ll->reason, VMSIG_LEASE_EPOCH);
			lost = 1;
		}
		if (ev->type == VMSIG_EV_MEMCTX)
			break;
		vmsig_event_free(ev);
		ev = NULL;
	}
	assert_non_null(ev);
	assert_int_equal(ev->epoch, 2);
	vmsig_event_free(ev);
	assert_true(lost);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l2, 0x2000000,
	    "new", 3, -1, &done), 0);
	assert_int_equal(done, 3);
	check_rdonly(fx->a);
	/* No live context at all: refused before anything is sent. */
	assert_int_equal(vmsig_holder_write_pa(fx->a, 99, l2, 0, "x", 1, -1,
	    &done), -ESTALE);
	gg_manifest_free(m2);
}

/* Past the end of RAM: EFAULT, with what landed before it counted. */
static void
test_bounds(void **state)
{
	struct fx *fx = *state;
	uint64_t size, l;
	unsigned char buf[8];
	size_t done = 1;

	start(fx, NULL, writable);
	size = fx->m->file_size;
	l = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, size + 0x1000,
	    "x", 1, -1, &done), -EFAULT);
	assert_int_equal(done, 0);
	assert_non_null(strstr(vmsig_holder_error(fx->a), "segment"));
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, size - 4,
	    "ABCDEFGH", 8, -1, &done), -EFAULT);
	assert_int_equal(done, 4);
	file_bytes(fx, size - 4, buf, 4);
	assert_memory_equal(buf, "ABCD", 4);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, UINT64_MAX - 1,
	    "xyz", 3, -1, &done), -EINVAL);
	assert_int_equal(vmsig_holder_write_va(fx->a, EP, l,
	    fx->m->kcr3, 0x0000800000000000ull, "x", 1, -1, &done), -EINVAL);
	check_rdonly(fx->a);
}

/* --low: a write running from the last page below low into the hole lands
 * its first piece only; GPA 4 GiB is file offset low. */
static void
test_split(void **state)
{
	static const char *const gg[] = { "--low", "128M", NULL };
	static const char *const mc[] = { "--writable", "--low", "0x8000000",
	    NULL };
	struct fx *fx = *state;
	unsigned char before[8], after[8], lo[8];
	size_t done = 1;
	uint64_t l;

	start(fx, gg, mc);
	l = acquire(fx->a, TTL);
	file_bytes(fx, LOW, before, 8);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, LOW - 8,
	    "0123456789abcdef", 16, -1, &done), -EFAULT);
	assert_int_equal(done, 8);
	file_bytes(fx, LOW - 8, lo, 8);
	assert_memory_equal(lo, "01234567", 8);
	file_bytes(fx, LOW, after, 8);
	assert_memory_equal(after, before, 8);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, GIB4,
	    "HIGHSEG!", 8, -1, &done), 0);
	assert_int_equal(done, 8);
	file_bytes(fx, LOW, after, 8);
	assert_memory_equal(after, "HIGHSEG!", 8);
	check_rdonly(fx->a);
}

/* Segments that meet (GPA and file both contiguous): a write across the
 * boundary goes as two MemWrites, one per segment, and both land. */
static void
test_segments(void **state)
{
	static const char *const mc[] = { "--writable",
	    "--seg", "0:0x4001000:0", "--seg", "0x4001000:0xbfff000:0x4001000",
	    NULL };
	struct fx *fx = *state;
	unsigned char buf[8];
	vmsig_event *ev;
	size_t done = 0;
	uint64_t l;
	int i;

	start(fx, NULL, mc);
	l = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, 0x4000ffc,
	    "acrossSG", 8, -1, &done), 0);
	assert_int_equal(done, 8);
	file_bytes(fx, 0x4000ffc, buf, 8);
	assert_memory_equal(buf, "acrossSG", 8);
	for (i = 0; i < 2; i++) {
		ev = next_of(fx->b, VMSIG_EV_MEMWRITTEN);
		assert_non_null(ev);
		assert_int_equal(((const vmsig_memwritten *)(const void *)
		    ev->inln)->gpa, 0x4000ffc + 4 * i);
		vmsig_event_free(ev);
	}
}

/* A helper without --writable refuses; so does the core without the lease. */
static void
test_refusals(void **state)
{
	struct fx *fx = *state;
	size_t done = 1;
	uint64_t l;

	start(fx, NULL, NULL);
	l = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, 0x2000000, "x",
	    1, -1, &done), -EROFS);
	assert_int_equal(done, 0);
	assert_non_null(strstr(vmsig_holder_error(fx->a), "--writable"));
	assert_int_equal(vmsig_holder_write_pa(fx->b, EP, l, 0x2000000, "x",
	    1, -1, &done), -EPERM);
	assert_non_null(strstr(vmsig_holder_error(fx->b), "lease"));
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l + 1000,
	    0x2000000, "x", 1, -1, &done), -EPERM);
	check_rdonly(fx->a);
}

static int
child_lease(const char *dir)
{
	struct vmsig_holder *h;
	uint64_t l;
	int r;

	if (setgroups(0, NULL) == -1 ||
	    setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
	    setresuid(NOBODY, NOBODY, NOBODY) == -1)
		return 10;
	if (vmsig_holder_open(h_hsock(dir), "nobody", 5000, &h) < 0)
		return 11;
	r = vmsig_holder_lease_acquire(h, EP, TTL, -1, &l, NULL);
	if (r != -EPERM)
		return 12;
	if (strstr(vmsig_holder_error(h), "rule 'writers'") == NULL)
		return 13;
	vmsig_holder_close(h);
	return 0;
}

/* Admitted as a holder, not as a writer. */
static void
test_unauthorised(void **state)
{
	struct fx *fx = *state;
	struct h_proc p = { .in = -1, .out = -1 };
	int st;

	t_need_root("the refused holder runs as uid 65534");
	start(fx, NULL, writable);
	p.pid = t_fork(20);
	assert_true(p.pid >= 0);
	if (p.pid == 0)
		_exit(child_lease(fx->dir));
	st = h_wait_exit(&p, 10000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#define FRAME(e)	((e) & 0x000ffffffffff000ull)

static uint64_t
entry(struct vmsig_mem *mem, uint64_t table, uint64_t va, unsigned int shift)
{
	uint64_t e = 0;

	assert_int_equal(vmsig_mem_read_pa(mem, FRAME(table) +
	    ((va >> shift) & 511) * 8, &e, 8, NULL), 0);
	assert_true(e & 1);
	return e;
}

/* Guest-physical address of the PTE of a 4 KiB page (4-level paging). */
static uint64_t
pte_gpa(struct vmsig_mem *mem, uint64_t cr3, uint64_t va)
{
	uint64_t e;

	e = entry(mem, cr3, va, 39);
	e = entry(mem, e, va, 30);
	assert_false(e & 0x80);
	e = entry(mem, e, va, 21);
	assert_false(e & 0x80);
	return FRAME(e) + ((va >> 12) & 511) * 8;
}

/* Two distinct 4 KiB data pages under kcr3 in RAM: [0] and [1]. */
static void
pick_pages(struct fx *fx, const struct gg_map **ret)
{
	size_t i, n = 0;

	for (i = 0; i < fx->m->nmaps && n < 2; i++) {
		const struct gg_map *p = &fx->m->maps[i];

		if (p->page_size != VMSIG_PAGE_4K || p->cr3 != fx->m->kcr3 ||
		    p->gpa + p->size > fx->m->file_size)
			continue;
		if (n == 1 && p->gpa == ret[0]->gpa)
			continue;
		ret[n++] = p;
	}
	assert_int_equal(n, 2);
}

/*
 * A rewrites the PTE of a page B has translated; once B has seen the
 * MEMWRITTEN for it, B's translation is the new one.
 */
static void
test_memwritten(void **state)
{
	struct fx *fx = *state;
	const struct gg_map *pg[2];
	const vmsig_memwritten *w;
	struct vmsig_mem *mb;
	struct vmsig_xlat x;
	uint64_t kcr3, pte, old, nw, l;
	vmsig_event *ev;
	char got[9] = { 0 };
	size_t done;

	start(fx, NULL, writable);
	pick_pages(fx, pg);
	mb = vmsig_holder_mem(fx->b, EP, NULL, &kcr3);
	assert_non_null(mb);
	assert_int_equal(vmsig_mem_translate(mb, kcr3, pg[0]->va, &x), 0);
	assert_int_equal(x.gpa, pg[0]->gpa);
	pte = pte_gpa(mb, kcr3, pg[0]->va);
	assert_int_equal(vmsig_mem_read_pa(mb, pte, &old, 8, NULL), 0);
	nw = (old & ~0x000ffffffffff000ull) | FRAME(pg[1]->gpa);
	l = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, FRAME(pg[1]->gpa),
	    "NEWFRAME", 8, -1, &done), 0);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, pte, &nw, 8, -1,
	    &done), 0);
	assert_int_equal(done, 8);
	/* The writer's own cache forgot at once. */
	assert_int_equal(vmsig_mem_translate(vmsig_holder_mem(fx->a, EP, NULL,
	    NULL), kcr3, pg[0]->va, &x), 0);
	assert_int_equal(FRAME(x.gpa), FRAME(pg[1]->gpa));
	/* B: MEMWRITTEN of the first write, then of the PTE. */
	ev = next_of(fx->b, VMSIG_EV_MEMWRITTEN);
	assert_non_null(ev);
	vmsig_event_free(ev);
	ev = next_of(fx->b, VMSIG_EV_MEMWRITTEN);
	assert_non_null(ev);
	w = (const void *)ev->inln;
	assert_int_equal(w->gpa, pte);
	assert_int_equal(w->len, 8);
	assert_int_equal(w->writer, vmsig_holder_peer_id(fx->a));
	vmsig_event_free(ev);
	mb = vmsig_holder_mem(fx->b, EP, NULL, NULL);
	assert_int_equal(vmsig_mem_translate(mb, kcr3, pg[0]->va, &x), 0);
	assert_int_equal(FRAME(x.gpa), FRAME(pg[1]->gpa));
	assert_int_equal(vmsig_mem_read_va(mb, kcr3, pg[0]->va -
	    (pg[0]->va & 0xfff), got, 8, NULL), 0);
	assert_string_equal(got, "NEWFRAME");
	check_rdonly(fx->a);
	check_rdonly(fx->b);
}

/* Bytes written by gpa and by va are in the RAM file. */
static void
test_bytes(void **state)
{
	struct fx *fx = *state;
	const struct gg_pattern *p = NULL;
	unsigned char data[6000], back[6000];
	struct vmsig_xlat x0, x1;
	struct vmsig_mem *ma;
	size_t i, done = 0, head;
	uint64_t l;

	start(fx, NULL, writable);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	l = acquire(fx->a, TTL);
	assert_int_equal(vmsig_holder_write_pa(fx->a, EP, l, 0x2000800, data,
	    sizeof(data), -1, &done), 0);
	assert_int_equal(done, sizeof(data));
	file_bytes(fx, 0x2000800, back, sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	/* A VA pattern spans two pages on frames far apart. */
	for (i = 0; i < fx->m->npatterns && p == NULL; i++)
		if (fx->m->patterns[i].cr3 == fx->m->kcr3)
			p = &fx->m->patterns[i];
	assert_non_null(p);
	ma = vmsig_holder_mem(fx->a, EP, NULL, NULL);
	head = 0x1000 - (p->addr & 0xfff);
	assert_true(head < 16);
	assert_int_equal(vmsig_mem_translate(ma, p->cr3, p->addr, &x0), 0);
	assert_int_equal(vmsig_mem_translate(ma, p->cr3, p->addr + head, &x1),
	    0);
	assert_int_equal(vmsig_holder_write_va(fx->a, EP, l, p->cr3, p->addr,
	    "0123456789ABCDEF", 16, -1, &done), 0);
	assert_int_equal(done, 16);
	file_bytes(fx, x0.gpa, back, head);
	assert_memory_equal(back, "0123456789ABCDEF", head);
	file_bytes(fx, x1.gpa, back, 16 - head);
	assert_memory_equal(back, "0123456789ABCDEF" + head, 16 - head);
	assert_int_equal(vmsig_mem_read_va(ma, p->cr3, p->addr, back, 16, NULL),
	    0);
	assert_memory_equal(back, "0123456789ABCDEF", 16);
	check_rdonly(fx->a);
}

/* Run vmsigctl; wait for a line starting with want (into line). */
static int
ctl(struct fx *fx, const char *const args[], const char *want, char *line)
{
	const char *argv[16];
	char bin[4096], hs[4096];
	struct h_proc p;
	size_t n = 0;
	int st;

	snprintf(bin, sizeof(bin), "%s", h_bin("bin/vmsigctl"));
	snprintf(hs, sizeof(hs), "%s", h_hsock(fx->dir));
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = hs;
	for (; *args != NULL && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	assert_int_equal(h_spawn((char *const *)argv, 0, 1, &p), 0);
	if (want != NULL)
		assert_int_equal(h_wait_line(&p, want, 5000, line, 512), 0);
	st = h_wait_exit(&p, 10000);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* vmsigctl write and lease against the same daemon. */
static void
test_vmsigctl(void **state)
{
	static const char *const wr[] = { "write", "1", "pa", "0x2100000",
	    "cafebabe", NULL };
	static const char *const ls[] = { "lease", "1", "--ttl", "200",
	    "--hold", "0.5", NULL };
	static const char *const st[] = { "status", NULL };
	struct fx *fx = *state;
	char line[512], want[96];
	unsigned char buf[4];
	uint64_t l;

	start(fx, NULL, writable);
	assert_int_equal(ctl(fx, wr, "wrote 4 of 4 bytes at pa 0x2100000",
	    line), 0);
	file_bytes(fx, 0x2100000, buf, 4);
	assert_memory_equal(buf, "\xca\xfe\xba\xbe", 4);
	assert_int_equal(ctl(fx, ls, "released ", line), 0);
	l = acquire(fx->a, TTL);
	assert_int_equal(ctl(fx, st, "  endpoint 1: ", line), 0);
	snprintf(want, sizeof(want), " lease %llu peer %u expires ",
	    (unsigned long long)l, vmsig_holder_peer_id(fx->a));
	assert_non_null(strstr(line, want));
	/* Refused while A holds the lease. */
	assert_int_equal(ctl(fx, wr, NULL, line), 1);
	assert_int_equal(vmsig_holder_lease_release(fx->a, l, -1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorised, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_memwritten, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmsigctl, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
