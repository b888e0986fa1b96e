/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for kcr3 discovery: the input becomes a small guest image in
 * a memfd, read through the real ram.c, and every method runs on it
 * (lowstub, selfref, auto, a given value, revalidation).  Nothing may
 * crash or read out of bounds, and whatever is found must validate.
 *
 * Input: byte 0 picks the form.  Even: the rest is a raw image (padded to
 * whole pages).  Odd: the hand-built guest of kimg.h (bits 1-2: leave out
 * the stub / the process PML4) patched by 12-byte records {u32 where, u64
 * value}; `where` picks one of the guest's interesting pages (or any page)
 * and an 8-byte slot in it, so random inputs reach the PE parser and the
 * page walks instead of dying at the first signature check.
 *
 * Runs in: tests
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../vmsig-memctx/memctx.h"
#include "kimg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

const size_t driver_max_len = 4096;

static const uint64_t hot[] = {
	KIMG_KCR3, KIMG_PROC, KIMG_PDPT, KIMG_PD, KIMG_PT, KIMG_T300,
	KIMG_STUB, KIMG_DECOY_STUB, KIMG_IMAGE, KIMG_IMAGE + 0x1000,
	KIMG_IMAGE + 0x3000, KIMG_IMAGE + 0x4000,
};

static uint8_t img[KIMG_SIZE];

static size_t
make_image(const uint8_t *data, size_t len)
{
	size_t i, n;
	uint32_t where;
	uint64_t page, v;

	memset(img, 0, sizeof(img));
	if (len == 0 || !(data[0] & 1)) {
		n = len > 1 ? len - 1 : 0;
		if (n > sizeof(img))
			n = sizeof(img);
		if (n > 0)
			memcpy(img, data + 1, n);
		/* At least the low stub range, whole pages. */
		n = n < 0xa0000 ? 0xa0000 : (n + 4095) & ~(size_t)4095;
		return n;
	}
	kimg_build(img, (data[0] >> 1) & 3);
	for (i = 1; i + 12 <= len; i += 12) {
		memcpy(&where, data + i, 4);
		memcpy(&v, data + i + 4, 8);
		page = (where >> 12) % (sizeof(hot) / sizeof(hot[0]) + 1);
		page = page < sizeof(hot) / sizeof(hot[0]) ? hot[page] :
		    ((uint64_t)(where >> 16) << 12) % KIMG_SIZE;
		memcpy(img + page + (where & 0xff8), &v, 8);
	}
	return KIMG_SIZE;
}

static void
run(struct ram *ram, uint64_t given)
{
	static const enum kcr3_method m[] = { KCR3_AUTO, KCR3_LOWSTUB,
	    KCR3_SELFREF, KCR3_GIVEN };
	struct kcr3_result r;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (kcr3_discover(ram, m[i], given, &r, &why) < 0)
			continue;
		if (kcr3_validate(ram, r.kcr3, 0) != 0)
			abort();	/* a result that does not validate */
		(void)kcr3_revalidate(ram, &r);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct layout_opts o;
	struct layout l;
	struct ram *ram;
	uint64_t given = KIMG_KCR3;
	size_t size;
	int fd;

	size = make_image(data, len);
	if (len >= 9)
		memcpy(&given, data + len - 8, 8);
	given &= 0x3ff000;	/* a page of the image, often a hot one */
	if ((fd = kimg_memfd(img, size)) < 0)
		return 0;
	memset(&o, 0, sizeof(o));
	if (layout_build(&o, size, &l, NULL) == 0 &&
	    ram_open(fd, &l, &ram) == 0) {
		run(ram, given);
		ram_close(ram);
	}
	(void)close(fd);
	return 0;
}
