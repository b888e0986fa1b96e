/* SPDX-License-Identifier: MIT */
/*
 * Strings of a Windows guest, read and converted with bounds: a
 * UNICODE_STRING {u16 Length, u16 MaximumLength, u64 Buffer} checked
 * before its buffer is touched, UTF-16LE converted to UTF-8 into at most
 * VMSIG_WIN_MAX_STRING bytes (cut on a character boundary; a lone
 * surrogate becomes U+FFFD), and NUL-terminated ASCII read a page at a
 * time so that a short name just below an unmapped page still reads.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "win_int.h"

int
win_str_read(struct vmsig_mem *mem, uint64_t cr3, uint64_t va, void *buf,
    size_t len, uint64_t *ret_fault)
{
	size_t done = 0;
	int r;

	r = vmsig_mem_read_va(mem, cr3, va, buf, len, &done);
	if (r < 0 && ret_fault != NULL)
		*ret_fault = va + done;
	return r;
}

/* Append code point c as UTF-8 if it fits in cap - 1 - *n bytes. */
static int
put_utf8(char *dst, size_t cap, size_t *n, uint32_t c)
{
	uint8_t b[4];
	size_t k;

	if (c < 0x80) {
		b[0] = (uint8_t)c;
		k = 1;
	} else if (c < 0x800) {
		b[0] = (uint8_t)(0xc0 | c >> 6);
		b[1] = (uint8_t)(0x80 | (c & 0x3f));
		k = 2;
	} else if (c < 0x10000) {
		b[0] = (uint8_t)(0xe0 | c >> 12);
		b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (c & 0x3f));
		k = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | c >> 18);
		b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (c & 0x3f));
		k = 4;
	}
	if (*n + k >= cap)
		return -1;
	memcpy(dst + *n, b, k);
	*n += k;
	return 0;
}

size_t
win_str_utf16(const uint8_t *src, size_t nunits, char *dst, size_t cap)
{
	size_t i, n = 0;
	uint32_t c, d;

	if (cap == 0)
		return 0;
	for (i = 0; i < nunits; i++) {
		c = win_le16(src + 2 * i);
		if (c == 0)
			break;
		if (c < 0x80 && n + 1 < cap) {	/* the common case */
			dst[n++] = (char)c;
			continue;
		}
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < nunits &&
		    (d = win_le16(src + 2 * i + 2)) >= 0xdc00 && d < 0xe000) {
			c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
			i++;
		} else if (c >= 0xd800 && c < 0xe000)
			c = 0xfffd;
		if (put_utf8(dst, cap, &n, c) < 0)
			break;
	}
	dst[n] = '\0';
	return n;
}

int
win_str_unicode_buf(struct vmsig_mem *mem, uint64_t cr3, const uint8_t *us,
    int user, char *out, size_t cap, uint64_t *ret_fault)
{
	/* More UTF-16 than this cannot fit VMSIG_WIN_MAX_STRING bytes. */
	uint8_t raw[2 * VMSIG_WIN_MAX_STRING];
	uint16_t len = win_le16(us), max = win_le16(us + 2);
	uint64_t buf = win_le64(us + 8);
	size_t n;
	int r;

	if (len == 0)
		return -ENODATA;
	if ((len & 1) || len > max || (user ? !win_uva(buf) : !win_kva(buf)))
		return -EBADMSG;
	n = len < sizeof(raw) ? len : sizeof(raw);
	if ((r = win_str_read(mem, cr3, buf, raw, n, ret_fault)) < 0)
		return r;
	return (int)win_str_utf16(raw, n / 2, out, cap);
}

int
win_str_unicode(struct vmsig_mem *mem, uint64_t cr3, const uint8_t *us,
    int user, char **ret, uint64_t *ret_fault)
{
	char out[VMSIG_WIN_MAX_STRING];
	char *s;
	int r;

	r = win_str_unicode_buf(mem, cr3, us, user, out, sizeof(out),
	    ret_fault);
	if (r < 0)
		return r;
	if ((s = strdup(out)) == NULL)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int
win_str_cstr(struct vmsig_mem *mem, uint64_t cr3, uint64_t va, uint64_t max,
    char *buf, size_t cap, uint64_t *ret_fault)
{
	size_t n = 0, want, chunk;
	char *z;
	int r;

	if (cap == 0)
		return -EINVAL;
	want = cap - 1;
	if (want > max)
		want = (size_t)max;
	while (n < want) {
		chunk = WIN_PAGE - ((va + n) & (WIN_PAGE - 1));
		if (chunk > want - n)
			chunk = want - n;
		r = win_str_read(mem, cr3, va + n, buf + n, chunk, ret_fault);
		if (r < 0)
			return r;
		if ((z = memchr(buf + n, '\0', chunk)) != NULL)
			return (int)(z - buf);
		n += chunk;
	}
	buf[n] = '\0';
	return (int)n;
}
