/* SPDX-License-Identifier: MIT */
/*
 * The manifest: the ground truth of an image as JSON (format in
 * tests/guestgen/README.md), written with plain stdio so guestgen links
 * nothing but libc, and the few fields --reboot needs read back from a
 * manifest this file wrote.  64-bit values are "0x..." strings because
 * JSON numbers lose precision past 2^53.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#define MAX_TEXT	(64u << 20)

/* "key":"0x..." then sep (",", ",\n" or ""). */
void
manifest_out_hex(FILE *f, const char *key, uint64_t v, const char *sep)
{
	fprintf(f, "\"%s\":\"0x%llx\"%s", key, (unsigned long long)v, sep);
}

static void
hexbytes(FILE *f, const uint8_t *b, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
	fputc('"', f);
}

/* s as a JSON string (control characters escaped), or null for NULL. */
void
manifest_out_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct gg_maprec *x = a, *y = b;

	return x->va < y->va ? -1 : x->va > y->va;
}

/* kcr3's runs, merged the way a page-map walker merges them. */
static void
maps(FILE *f, const struct guest *g)
{
	struct gg_maprec *r;
	uint64_t size;
	size_t i, j, n = 0;

	r = calloc(g->nrecs + 1, sizeof(*r));
	if (r == NULL)
		err(2, "out of memory");
	for (i = 0; i < g->nrecs; i++)
		if (g->recs[i].cr3 == g->kcr3)
			r[n++] = g->recs[i];
	qsort(r, n, sizeof(*r), rec_cmp);
	fputs("\"maps\":[", f);
	for (i = 0; i < n; i = j) {
		size = r[i].page_size;
		for (j = i + 1; j < n && r[j].va == r[i].va + size &&
		    r[j].gpa == r[i].gpa + size &&
		    r[j].page_size == r[i].page_size &&
		    r[j].flags == r[i].flags; j++)
			size += r[j].page_size;
		fprintf(f, "%s\n {\"cr3\":\"0x%llx\",\"va\":\"0x%llx\","
		    "\"size\":\"0x%llx\",\"gpa\":\"0x%llx\","
		    "\"page_size\":\"0x%llx\",\"flags\":%u}", i ? "," : "",
		    (unsigned long long)r[i].cr3, (unsigned long long)r[i].va,
		    (unsigned long long)size, (unsigned long long)r[i].gpa,
		    (unsigned long long)r[i].page_size, r[i].flags);
	}
	fputs("],\n", f);
	free(r);
}

static void
probes(FILE *f, const struct guest *g)
{
	size_t i;

	fputs("\"probes\":[", f);
	for (i = 0; i < g->nprobes; i++) {
		const struct gg_probe_out *p = &g->probes[i];

		fprintf(f, "%s\n {\"cr3\":\"0x%llx\",\"va\":\"0x%llx\",",
		    i ? "," : "", (unsigned long long)p->cr3,
		    (unsigned long long)p->va);
		if (p->bytes == NULL) {
			fprintf(f, "\"fault\":true,\"errno\":%d}", p->err);
			continue;
		}
		fputs("\"bytes\":", f);
		hexbytes(f, p->bytes, p->len);
		fputc('}', f);
	}
	fputs("],\n", f);
}

static void
addresses(FILE *f, const char *key, const uint64_t *v, size_t n)
{
	size_t i;

	fprintf(f, "\"%s\":[", key);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\"0x%llx\"", i ? "," : "", (unsigned long long)v[i]);
	fputs("],\n", f);
}

static void
layout(FILE *f, const struct guest *g)
{
	fputs("\"image\":", f);
	manifest_out_str(f, g->image);
	fputs(",\n", f);
	manifest_out_hex(f, "file_size", g->size, ",");
	manifest_out_hex(f, "low", g->low, ",\n");
	if (g->low == g->size)
		fprintf(f, "\"segs\":[[\"0x0\",\"0x%llx\",\"0x0\"]],\n",
		    (unsigned long long)g->size);
	else
		fprintf(f, "\"segs\":[[\"0x0\",\"0x%llx\",\"0x0\"],"
		    "[\"0x100000000\",\"0x%llx\",\"0x%llx\"]],\n",
		    (unsigned long long)g->low,
		    (unsigned long long)(g->size - g->low),
		    (unsigned long long)g->low);
}

void
manifest_out_write(const struct guest *g, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (f == NULL)
		err(2, "%s", path);
	fputs("{\n", f);
	layout(f, g);
	manifest_out_hex(f, "kcr3", g->kcr3, ",\n");
	fprintf(f, "\"lowstub\":%s,", g->lowstub && !g->noise_only ?
	    "true" : "false");
	manifest_out_hex(f, "lowstub_pa", g->lowstub_pa, ",\n");
	addresses(f, "decoy_stubs", g->decoy_stubs, g->ndecoy_stubs);
	manifest_out_hex(f, "decoy_pml4", g->decoy_pml4, ",");
	fprintf(f, "\"self_index\":%u,\n", g->self_idx);
	manifest_out_hex(f, "kernel_base", g->kernel_base, ",");
	manifest_out_hex(f, "kernel_entry", g->kernel_entry, ",");
	manifest_out_hex(f, "ps_initial_system_process", g->psisp_va, ",\n");
	manifest_out_hex(f, "system_eprocess", g->sys_eproc, ",");
	manifest_out_hex(f, "onegig_va", g->onegig_va, ",\n");
	addresses(f, "processes", g->procs, g->nproc);
	probes(f, g);
	maps(f, g);
	fputs("\"patterns\":[", f);
	for (i = 0; i < g->npats; i++) {
		fprintf(f, "%s{\"cr3\":\"0x%llx\",\"addr\":\"0x%llx\","
		    "\"bytes\":", i ? "," : "",
		    (unsigned long long)g->pats[i].cr3,
		    (unsigned long long)g->pats[i].addr);
		hexbytes(f, g->pats[i].bytes, sizeof(g->pats[i].bytes));
		fputc('}', f);
	}
	fprintf(f, "],\n\"fill\":%u,\"seed\":%llu", g->fill,
	    (unsigned long long)g->seed);
	if (g->win != NULL)
		win_out(g, f);
	fputs("\n}\n", f);
	if (ferror(f) | fclose(f))
		err(2, "%s: write", path);
}

/* The value after "key": in a manifest this file wrote; NULL if absent. */
static const char *
field(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	return p ? p + strlen(pat) : NULL;
}

static int
field_u64(const char *text, const char *key, uint64_t *ret)
{
	const char *p = field(text, key);

	if (p == NULL)
		return -EINVAL;
	if (*p == '"')
		p++;
	errno = 0;
	*ret = strtoull(p, NULL, 0);
	return errno ? -errno : 0;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(MAX_TEXT);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, MAX_TEXT - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The Windows scene's options, so a reboot makes the same kind of guest. */
static void
win_opts_read(const char *text, struct gg_old *ret)
{
	const char *w = strstr(text, "\"win\":{"), *p;
	uint64_t v;
	size_t n;

	if (w == NULL)
		return;
	p = field(w, "layout");
	if (p == NULL || *p != '"')
		return;
	n = strcspn(p + 1, "\"");
	if (n == 0 || n >= sizeof(ret->build))
		return;
	memcpy(ret->build, p + 1, n);
	if (field_u64(w, "build", &v) == 0 && strcmp(ret->build, "shifted"))
		snprintf(ret->build, sizeof(ret->build), "%u", (unsigned int)v);
	ret->win.build = ret->build;
	if (field_u64(w, "procs", &v) == 0)
		ret->win.procs = (unsigned int)v;
	if (field_u64(w, "modules", &v) == 0)
		ret->win.modules = (unsigned int)v;
	if (field_u64(w, "exports", &v) == 0)
		ret->win.exports = (unsigned int)v;
	p = field(w, "corrupt_ring");
	ret->win.corrupt_ring = p != NULL && strncmp(p, "true", 4) == 0;
}

/* Returns 0, or -errno (-EINVAL: not a manifest guestgen wrote). */
int
manifest_out_read(const char *path, struct gg_old *ret)
{
	char *text = slurp(path);
	const char *p;
	size_t cap = 0;
	int r = 0;

	if (text == NULL)
		return -errno;
	memset(ret, 0, sizeof(*ret));
	r |= field_u64(text, "file_size", &ret->file_size);
	r |= field_u64(text, "low", &ret->low);
	r |= field_u64(text, "kcr3", &ret->kcr3);
	r |= field_u64(text, "lowstub_pa", &ret->lowstub_pa);
	r |= field_u64(text, "seed", &ret->seed);
	p = field(text, "lowstub");
	ret->lowstub = p != NULL && strncmp(p, "true", 4) == 0;
	p = field(text, "processes");
	if (r != 0 || p == NULL || *p != '[') {
		free(text);
		return -EINVAL;
	}
	for (p++; *p == '"'; ) {
		ret->procs = image_grow(ret->procs, &cap, ret->nproc,
		    sizeof(*ret->procs));
		ret->procs[ret->nproc++] = strtoull(p + 1, NULL, 0);
		p = strchr(p + 1, '"');
		p = p ? p + 1 : "";
		if (*p == ',')
			p++;
	}
	win_opts_read(text, ret);
	free(text);
	return 0;
}
