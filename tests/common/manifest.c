/* SPDX-License-Identifier: MIT */
/*
 * Loads the manifest tests/guestgen writes (the ground truth of a synthetic
 * guest image) with json-c, and runs the real build/guestgen from tests.
 * The format is in tests/guestgen/README.md; 64-bit values are "0x..."
 * strings there, plain JSON integers are accepted too.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "manifest.h"

#define MAX_MANIFEST	(64u << 20)
#define MAX_ARGS	64

int
gg_json_u64(json_object *v, uint64_t *ret)
{
	const char *s;
	char *end;

	if (json_object_is_type(v, json_type_int)) {
		*ret = (uint64_t)json_object_get_int64(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	if (strncmp(s, "0x", 2) != 0 || s[2] == '\0')
		return -EINVAL;
	errno = 0;
	*ret = strtoull(s + 2, &end, 16);
	return errno || *end != '\0' ? -EINVAL : 0;
}

static int
u64_at(json_object *o, const char *key, uint64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -EINVAL;
	return gg_json_u64(v, ret);
}

/* Optional fields keep 0 when absent. */
static int
u64_opt(json_object *o, const char *key, uint64_t *ret)
{
	json_object *v;

	*ret = 0;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	return gg_json_u64(v, ret);
}

int
gg_unhex(const char *s, uint8_t **ret_bytes, size_t *ret_len)
{
	size_t i, n = s ? strlen(s) : 1;
	uint8_t *b;
	unsigned int x;

	if (n % 2)
		return -EINVAL;
	b = malloc(n / 2 + 1);
	if (b == NULL)
		return -ENOMEM;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &x) != 1) {
			free(b);
			return -EINVAL;
		}
		b[i] = (uint8_t)x;
	}
	*ret_bytes = b;
	*ret_len = n / 2;
	return 0;
}

static int
bytes_at(json_object *o, const char *key, uint8_t **ret, size_t *ret_len)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EINVAL;
	return gg_unhex(json_object_get_string(v), ret, ret_len);
}

int
gg_json_array(json_object *o, const char *key, size_t elem,
    json_object **ret_arr, void **ret, size_t *ret_n)
{
	json_object *a;
	size_t n;

	if (!json_object_object_get_ex(o, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return -EINVAL;
	n = json_object_array_length(a);
	*ret = calloc(n + 1, elem);
	if (*ret == NULL)
		return -ENOMEM;
	*ret_arr = a;
	*ret_n = n;
	return 0;
}

static int
load_segs(json_object *root, struct gg_manifest *m)
{
	json_object *a, *s;
	vmsig_memseg *sg;
	size_t i, n;
	int r;

	r = gg_json_array(root, "segs", sizeof(*m->segs), &a,
	    (void **)&m->segs, &n);
	if (r < 0)
		return r;
	m->nseg = (uint32_t)n;
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(a, i);
		sg = &m->segs[i];
		if (!json_object_is_type(s, json_type_array) ||
		    json_object_array_length(s) != 3 ||
		    gg_json_u64(json_object_array_get_idx(s, 0), &sg->gpa) ||
		    gg_json_u64(json_object_array_get_idx(s, 1), &sg->len) ||
		    gg_json_u64(json_object_array_get_idx(s, 2),
		    &sg->file_off))
			return -EINVAL;
	}
	return 0;
}

static int
load_u64_list(json_object *root, const char *key, uint64_t **ret,
    size_t *ret_n)
{
	json_object *a;
	size_t i;
	int r;

	r = gg_json_array(root, key, sizeof(**ret), &a, (void **)ret, ret_n);
	for (i = 0; r == 0 && i < *ret_n; i++)
		r = gg_json_u64(json_object_array_get_idx(a, i), &(*ret)[i]);
	return r;
}

static int
load_probe(json_object *o, struct gg_probe *p)
{
	json_object *v;
	uint64_t e;
	int r;

	if ((r = u64_at(o, "cr3", &p->cr3)) < 0 ||
	    (r = u64_at(o, "va", &p->va)) < 0)
		return r;
	if (json_object_object_get_ex(o, "fault", &v) &&
	    json_object_get_boolean(v)) {
		p->fault = 1;
		p->len = 8;
		if ((r = u64_opt(o, "errno", &e)) < 0)
			return r;
		p->err = e ? (int)e : EFAULT;
		return 0;
	}
	return bytes_at(o, "bytes", &p->bytes, &p->len);
}

static int
load_probes(json_object *root, struct gg_manifest *m)
{
	json_object *a;
	size_t i;
	int r;

	r = gg_json_array(root, "probes", sizeof(*m->probes), &a,
	    (void **)&m->probes, &m->nprobes);
	for (i = 0; r == 0 && i < m->nprobes; i++)
		r = load_probe(json_object_array_get_idx(a, i), &m->probes[i]);
	return r;
}

static int
load_maps(json_object *root, struct gg_manifest *m)
{
	json_object *a, *o, *v;
	size_t i;
	int r;

	r = gg_json_array(root, "maps", sizeof(*m->maps), &a,
	    (void **)&m->maps, &m->nmaps);
	for (i = 0; r == 0 && i < m->nmaps; i++) {
		struct gg_map *p = &m->maps[i];

		o = json_object_array_get_idx(a, i);
		if ((r = u64_at(o, "cr3", &p->cr3)) < 0 ||
		    (r = u64_at(o, "va", &p->va)) < 0 ||
		    (r = u64_at(o, "size", &p->size)) < 0 ||
		    (r = u64_at(o, "gpa", &p->gpa)) < 0 ||
		    (r = u64_at(o, "page_size", &p->page_size)) < 0)
			return r;
		if (!json_object_object_get_ex(o, "flags", &v) ||
		    !json_object_is_type(v, json_type_int))
			return -EINVAL;
		p->flags = (uint32_t)json_object_get_int(v);
	}
	return r;
}

static int
load_patterns(json_object *root, struct gg_manifest *m)
{
	json_object *a, *o;
	size_t i;
	int r;

	r = gg_json_array(root, "patterns", sizeof(*m->patterns), &a,
	    (void **)&m->patterns, &m->npatterns);
	for (i = 0; r == 0 && i < m->npatterns; i++) {
		struct gg_pattern *p = &m->patterns[i];

		o = json_object_array_get_idx(a, i);
		if ((r = u64_at(o, "cr3", &p->cr3)) < 0 ||
		    (r = u64_at(o, "addr", &p->addr)) < 0)
			return r;
		r = bytes_at(o, "bytes", &p->bytes, &p->len);
	}
	return r;
}

static int
load_scalars(json_object *root, struct gg_manifest *m)
{
	json_object *v;
	uint64_t x;
	int r = 0;

	if (!json_object_object_get_ex(root, "image", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EINVAL;
	m->image = strdup(json_object_get_string(v));
	if (m->image == NULL)
		return -ENOMEM;
	if (!json_object_object_get_ex(root, "lowstub", &v))
		return -EINVAL;
	m->has_lowstub = json_object_get_boolean(v);
	if (u64_at(root, "file_size", &m->file_size) ||
	    u64_at(root, "low", &m->low) || u64_at(root, "kcr3", &m->kcr3))
		return -EINVAL;
	r |= u64_opt(root, "lowstub_pa", &m->lowstub_pa);
	r |= u64_opt(root, "kernel_base", &m->kernel_base);
	r |= u64_opt(root, "system_eprocess", &m->system_eprocess);
	r |= u64_opt(root, "seed", &m->seed);
	r |= u64_opt(root, "kernel_entry", &m->kernel_entry);
	r |= u64_opt(root, "ps_initial_system_process",
	    &m->ps_initial_system_process);
	r |= u64_opt(root, "onegig_va", &m->onegig_va);
	r |= u64_opt(root, "decoy_pml4", &m->decoy_pml4);
	r |= u64_opt(root, "self_index", &x);
	m->self_index = (unsigned int)x;
	return r ? -EINVAL : 0;
}

static int
load(json_object *root, struct gg_manifest *m)
{
	json_object *v;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return -EINVAL;
	if ((r = load_scalars(root, m)) < 0 || (r = load_segs(root, m)) < 0 ||
	    (r = load_u64_list(root, "processes", &m->proc_cr3,
	    &m->nproc)) < 0 ||
	    (r = load_probes(root, m)) < 0 || (r = load_maps(root, m)) < 0 ||
	    (r = load_patterns(root, m)) < 0)
		return r;
	if (json_object_object_get_ex(root, "decoy_stubs", &v) &&
	    (r = load_u64_list(root, "decoy_stubs", &m->decoy_stubs,
	    &m->ndecoy_stubs)) < 0)
		return r;
	return gg_win_load(root, m);
}

static char *
slurp(const char *path, int *ret_err)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		*ret_err = -errno;
		return NULL;
	}
	buf = malloc(MAX_MANIFEST);
	if (buf == NULL) {
		fclose(f);
		*ret_err = -ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, MAX_MANIFEST - 1, f);
	buf[n] = '\0';
	*ret_err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (*ret_err == 0 && n == MAX_MANIFEST - 1)
		*ret_err = -EFBIG;
	if (*ret_err != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
gg_manifest_load(const char *path, struct gg_manifest **ret)
{
	struct gg_manifest *m;
	json_object *root;
	char *text;
	int r;

	if (path == NULL || ret == NULL)
		return -EINVAL;
	text = slurp(path, &r);
	if (text == NULL)
		return r;
	root = json_tokener_parse(text);
	free(text);
	if (root == NULL)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		json_object_put(root);
		return -ENOMEM;
	}
	r = load(root, m);
	json_object_put(root);
	if (r < 0) {
		gg_manifest_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void
gg_manifest_free(struct gg_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; m->probes != NULL && i < m->nprobes; i++)
		free(m->probes[i].bytes);
	for (i = 0; m->patterns != NULL && i < m->npatterns; i++)
		free(m->patterns[i].bytes);
	free(m->image);
	free(m->segs);
	free(m->proc_cr3);
	free(m->probes);
	free(m->maps);
	free(m->patterns);
	free(m->decoy_stubs);
	gg_win_free(&m->win);
	free(m);
}

int
gg_run(char *const argv[])
{
	char *args[MAX_ARGS + 2];
	size_t n;
	pid_t pid, w;
	int st;

	if (argv == NULL)
		return -EINVAL;
	args[0] = (char *)VMSIG_BUILD_DIR "/guestgen";
	for (n = 0; argv[n] != NULL; n++) {
		if (n == MAX_ARGS)
			return -E2BIG;
		args[n + 1] = argv[n];
	}
	args[n + 1] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == -1)
		return -errno;
	if (pid == 0) {
		execv(args[0], args);
		_exit(127);
	}
	do
		w = waitpid(pid, &st, 0);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		return -errno;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int
run_and_load(char **args, const char *manifest, struct gg_manifest **ret)
{
	int r = gg_run(args);

	if (r < 0)
		return r;
	if (r != 0)
		return -ECHILD;
	return gg_manifest_load(manifest, ret);
}

int
gg_make(const char *dir, const char *name, const char *const extra[],
    struct gg_manifest **ret)
{
	char *args[MAX_ARGS + 1], *img = NULL, *man = NULL;
	size_t n = 0, i;
	int r;

	if (dir == NULL || name == NULL || ret == NULL)
		return -EINVAL;
	if (asprintf(&img, "%s/%s.img", dir, name) < 0) {
		img = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (asprintf(&man, "%s/%s.json", dir, name) < 0) {
		man = NULL;
		r = -ENOMEM;
		goto out;
	}
	args[n++] = (char *)"--out";
	args[n++] = img;
	args[n++] = (char *)"--manifest";
	args[n++] = man;
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (n == MAX_ARGS) {
			r = -E2BIG;
			goto out;
		}
		args[n++] = (char *)extra[i];
	}
	args[n] = NULL;
	r = run_and_load(args, man, ret);
out:
	free(img);
	free(man);
	return r;
}

int
gg_reboot(const char *manifest_path, const char *image, uint64_t seed,
    struct gg_manifest **ret)
{
	char seedbuf[32], *args[8];
	size_t n = 0;

	if (manifest_path == NULL || image == NULL || ret == NULL)
		return -EINVAL;
	args[n++] = (char *)"--reboot";
	args[n++] = (char *)image;
	args[n++] = (char *)"--manifest";
	args[n++] = (char *)manifest_path;
	if (seed != 0) {
		snprintf(seedbuf, sizeof(seedbuf), "%llu",
		    (unsigned long long)seed);
		args[n++] = (char *)"--seed";
		args[n++] = seedbuf;
	}
	args[n] = NULL;
	return run_and_load(args, manifest_path, ret);
}
