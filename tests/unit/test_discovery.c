/* SPDX-License-Identifier: MIT */
/*
 * kcr3 discovery on guestgen images, through the path the helper takes:
 * open the file (O_RDONLY|O_NOFOLLOW|O_CLOEXEC), build the layout from the
 * options, map it, discover.  Each case compares with the image's manifest:
 * 256 MiB in one region, 3 GiB split at 2 GiB (--machine q35), 1 GiB
 * without a low stub, pure noise, several seeds full of decoys, a sparse
 * 4 GiB image whose allocation must not grow, and a reboot.
 *
 * Images live in a mkdtemp directory under /dev/shm (else $TMPDIR), removed
 * at the end.
 *
 * Runs in: tests
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "../../vmsig-memctx/memctx.h"
#include "../common/tproc.h"

extern char **environ;

static char dir[256];

/* The fields of the manifest these tests need. */
struct mf {
	uint64_t kcr3, low, file_size, lowstub_pa, decoy_pml4;
	int lowstub;
	uint64_t procs[16];
	size_t nproc;
};

static uint64_t
hex(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	return strtoull(json_object_get_string(v), NULL, 0);
}

static void
mf_load(const char *path, struct mf *m)
{
	json_object *o, *a;
	size_t i;

	o = json_object_from_file(path);
	assert_non_null(o);
	memset(m, 0, sizeof(*m));
	m->kcr3 = hex(o, "kcr3");
	m->low = hex(o, "low");
	m->file_size = hex(o, "file_size");
	m->lowstub_pa = hex(o, "lowstub_pa");
	m->decoy_pml4 = hex(o, "decoy_pml4");
	if (json_object_object_get_ex(o, "lowstub", &a))
		m->lowstub = json_object_get_boolean(a);
	if (json_object_object_get_ex(o, "processes", &a))
		for (i = 0; i < json_object_array_length(a) && i < 16; i++)
			m->procs[m->nproc++] = strtoull(json_object_get_string(
			    json_object_array_get_idx(a, i)), NULL, 0);
	json_object_put(o);
}

/* Run build/guestgen with args (NULL-terminated); assert it succeeded. */
static void
guestgen(char *const *args)
{
	char *argv[16] = { VMSIG_BUILD_DIR "/guestgen" };
	pid_t pid;
	int st, i;

	for (i = 0; args[i] != NULL && i < 14; i++)
		argv[i + 1] = args[i];
	assert_int_equal(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ),
	    0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

struct img {
	char path[300], man[300];
	int fd;
	struct mf m;
	struct ram *ram;
};

/* Generate with extra guestgen options, then open as main would. */
static void
img_open(struct img *g, const char *name, const char *machine,
    char *const *opts)
{
	char *args[14] = { "--out", g->path, "--manifest", g->man };
	struct layout_opts o;
	struct layout l;
	const char *why = NULL;
	struct stat st;
	int i;

	(void)snprintf(g->path, sizeof(g->path), "%s/%s.img", dir, name);
	(void)snprintf(g->man, sizeof(g->man), "%s/%s.json", dir, name);
	for (i = 0; opts[i] != NULL && i < 9; i++)
		args[4 + i] = opts[i];
	guestgen(args);
	mf_load(g->man, &g->m);
	g->fd = open(g->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(g->fd >= 0);
	assert_int_equal(fstat(g->fd, &st), 0);
	memset(&o, 0, sizeof(o));
	if (machine != NULL)
		assert_int_equal(layout_opt_machine(&o, machine, &why), 0);
	assert_int_equal(layout_build(&o, (uint64_t)st.st_size, &l, &why), 0);
	assert_int_equal(l.low, g->m.low);
	assert_int_equal(ram_open(g->fd, &l, &g->ram), 0);
}

static void
img_close(struct img *g)
{
	ram_close(g->ram);
	(void)close(g->fd);
	(void)unlink(g->path);
	(void)unlink(g->man);
}

static void
expect(struct img *g, enum kcr3_method m, int err)
{
	struct kcr3_result r;
	const char *why = NULL;
	size_t i;

	assert_int_equal(kcr3_discover(g->ram, m, 0, &r, &why), err);
	if (err != 0)
		return;
	assert_int_equal(r.kcr3, g->m.kcr3);
	assert_int_equal(kcr3_revalidate(g->ram, &r), 0);
	assert_int_not_equal(r.kcr3, g->m.decoy_pml4);
	for (i = 1; i < g->m.nproc; i++)
		assert_int_not_equal(r.kcr3, g->m.procs[i]);
	if (r.method == KCR3_LOWSTUB)
		assert_int_equal(r.lowstub_pa, g->m.lowstub_pa);
}

static void
test_256m(void **state)
{
	char *opts[] = { "--size", "256M", "--seed", "1", NULL };
	struct kcr3_result r;
	struct img g;

	(void)state;
	img_open(&g, "a", NULL, opts);
	assert_true(g.m.lowstub);
	expect(&g, KCR3_LOWSTUB, 0);
	expect(&g, KCR3_SELFREF, 0);
	expect(&g, KCR3_AUTO, 0);
	assert_int_equal(kcr3_discover(g.ram, KCR3_AUTO, 0, &r, NULL), 0);
	assert_string_equal(kcr3_method_name(r.method), "lowstub");
	assert_int_equal(kcr3_discover(g.ram, KCR3_GIVEN, g.m.kcr3, &r, NULL),
	    0);
	img_close(&g);
}

static void
test_3g_split(void **state)
{
	char *opts[] = { "--size", "3G", "--low", "2G", "--seed", "2", NULL };
	struct img g;

	(void)state;
	img_open(&g, "b", "q35", opts);
	expect(&g, KCR3_LOWSTUB, 0);
	expect(&g, KCR3_SELFREF, 0);
	img_close(&g);
}

static void
test_1g_no_stub(void **state)
{
	char *opts[] = { "--size", "1G", "--no-lowstub", "--seed", "3", NULL };
	struct kcr3_result r;
	struct img g;

	(void)state;
	img_open(&g, "c", NULL, opts);
	expect(&g, KCR3_AUTO, 0);
	assert_int_equal(kcr3_discover(g.ram, KCR3_AUTO, 0, &r, NULL), 0);
	assert_int_equal(r.method, KCR3_SELFREF);
	assert_int_not_equal(kcr3_discover(g.ram, KCR3_LOWSTUB, 0, &r, NULL),
	    0);
	img_close(&g);
}

static void
test_noise(void **state)
{
	char *opts[] = { "--size", "64M", "--noise-only", "--fill", "30",
	    NULL };
	const char *why = NULL;
	struct kcr3_result r;
	struct img g;

	(void)state;
	img_open(&g, "d", NULL, opts);
	assert_int_equal(kcr3_discover(g.ram, KCR3_AUTO, 0, &r, &why), -ENOENT);
	assert_non_null(strstr(why, "no kcr3 candidate"));
	img_close(&g);
}

/* Process PML4s and the decoy PML4 are candidates too; never chosen. */
static void
test_decoys(void **state)
{
	char seed[16];
	char *opts[] = { "--size", "128M", "--no-lowstub", "--seed", seed,
	    "--fill", "20", NULL };
	struct img g;
	unsigned int s;

	(void)state;
	for (s = 10; s < 16; s++) {
		(void)snprintf(seed, sizeof(seed), "%u", s);
		img_open(&g, "e", NULL, opts);
		assert_true(g.m.nproc >= 2);
		expect(&g, KCR3_SELFREF, 0);
		img_close(&g);
	}
}

static void
test_sparse_4g(void **state)
{
	char *opts[] = { "--size", "4G", "--low", "2G", "--seed", "4", NULL };
	struct stat a, b;
	struct img g;

	(void)state;
	img_open(&g, "f", "q35", opts);
	assert_int_equal(fstat(g.fd, &a), 0);
	expect(&g, KCR3_LOWSTUB, 0);
	expect(&g, KCR3_SELFREF, 0);
	expect(&g, KCR3_AUTO, 0);
	assert_int_equal(fstat(g.fd, &b), 0);
	assert_int_equal(a.st_blocks, b.st_blocks);
	assert_true(b.st_blocks * 512 < 256ll << 20);
	img_close(&g);
}

static void
test_reboot(void **state)
{
	char *opts[] = { "--size", "256M", "--seed", "5", NULL };
	struct kcr3_result r, r2;
	struct img g;

	(void)state;
	img_open(&g, "g", NULL, opts);
	assert_int_equal(kcr3_discover(g.ram, KCR3_AUTO, 0, &r, NULL), 0);
	guestgen((char *[]){ "--reboot", g.path, "--manifest", g.man,
	    "--seed", "6", NULL });
	mf_load(g.man, &g.m);
	/* The same mapping sees the new boot: the old result is stale unless
	 * the new boot put everything where the old one was. */
	if (g.m.kcr3 != r.kcr3 || g.m.lowstub_pa != r.lowstub_pa)
		assert_int_equal(kcr3_revalidate(g.ram, &r), -ESTALE);
	assert_int_equal(kcr3_discover(g.ram, KCR3_AUTO, 0, &r2, NULL), 0);
	assert_int_equal(r2.kcr3, g.m.kcr3);
	img_close(&g);
}

static int
setup(void **state)
{
	(void)state;
	return t_mkdtemp("vmsig-disc.XXXXXX", dir, sizeof(dir)) < 0 ? -1 : 0;
}

/* A failed case leaves its image behind; remove whatever is left. */
static int
teardown(void **state)
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f",
	    "g" };
	char p[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(p, sizeof(p), "%s/%s.img", dir, names[i]);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s/%s.json", dir, names[i]);
		(void)unlink(p);
	}
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_256m),
		cmocka_unit_test(test_3g_split),
		cmocka_unit_test(test_1g_no_stub),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_decoys),
		cmocka_unit_test(test_sparse_4g),
		cmocka_unit_test(test_reboot),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
