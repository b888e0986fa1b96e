/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl's aligned text tables: cells are formatted first, the widths of
 * the columns taken from them, then the table is printed with a header
 * row.  Guest strings enter through vmsigctl_table_guest(), which makes
 * them harmless for a terminal (vmsigctl_text_str) before they are
 * measured.  An allocation failure is remembered and reported once, when
 * the table is printed.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmsigctl.h"

void
vmsigctl_table_init(struct vmsigctl_table *t, const char *const *head,
    size_t ncol, unsigned int right)
{
	memset(t, 0, sizeof(*t));
	t->head = head;
	t->ncol = ncol < CTL_TABLE_MAXCOL ? ncol : CTL_TABLE_MAXCOL;
	t->right = right;
}

static void
add(struct vmsigctl_table *t, char *s)
{
	char **v;
	size_t cap;

	if (s == NULL) {
		t->err = -ENOMEM;
		return;
	}
	if (t->n == t->cap) {
		cap = t->cap ? 2 * t->cap : 64;
		if ((v = reallocarray(t->cell, cap, sizeof(*v))) == NULL) {
			free(s);
			t->err = -ENOMEM;
			return;
		}
		t->cell = v;
		t->cap = cap;
	}
	t->cell[t->n++] = s;
}

/* The next cell, printf-formatted (our own text, printed as is). */
void
vmsigctl_table_cell(struct vmsigctl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	if (t->err != 0)
		return;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	add(t, r < 0 ? NULL : s);
}

/* The next cell, a guest string made safe (NULL prints as "-"). */
void
vmsigctl_table_guest(struct vmsigctl_table *t, const char *prefix,
    const char *s)
{
	size_t len = 0;
	char *buf = NULL;
	FILE *f;

	if (t->err != 0)
		return;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		t->err = -ENOMEM;
		return;
	}
	fputs(prefix, f);
	vmsigctl_text_str(f, s, 0);
	if (fclose(f) != 0) {
		free(buf);
		buf = NULL;
	}
	add(t, buf);
}

/* Print the header and the rows, then free the cells.  CTL_OK/CTL_FAIL. */
int
vmsigctl_table_print(FILE *f, struct vmsigctl_table *t)
{
	size_t w[CTL_TABLE_MAXCOL], i, c, last;
	const char *s;

	if (t->err != 0) {
		vmsigctl_warnx("formatting the table: %s", strerror(-t->err));
		vmsigctl_table_free(t);
		return CTL_FAIL;
	}
	for (c = 0; c < t->ncol; c++)
		w[c] = vmsigctl_text_width(t->head[c]);
	for (i = 0; i < t->n; i++) {
		c = i % t->ncol;
		if (vmsigctl_text_width(t->cell[i]) > w[c])
			w[c] = vmsigctl_text_width(t->cell[i]);
	}
	last = t->ncol - 1;
	for (i = 0; i < t->n + t->ncol; i++) {
		c = i % t->ncol;
		s = i < t->ncol ? t->head[c] : t->cell[i - t->ncol];
		if (t->right & (1u << c))
			fprintf(f, "%*s", (int)(w[c] - vmsigctl_text_width(s)),
			    "");
		fputs(s, f);
		if (c == last)
			fputc('\n', f);
		else if (t->right & (1u << c))
			fputs("  ", f);
		else
			fprintf(f, "%*s", (int)(w[c] -
			    vmsigctl_text_width(s) + 2), "");
	}
	vmsigctl_table_free(t);
	return CTL_OK;
}

void
vmsigctl_table_free(struct vmsigctl_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->n = t->cap = 0;
}
