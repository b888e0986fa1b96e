/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for what vmsig-memctx reads from QEMU's monitor: the input
 * is what a hostile or broken QMP server sends, fed through a socketpair to
 * the real line reader and JSON checks (greeting and capabilities, a
 * command waiting for its reply, the loop's event reader), and the same
 * bytes are parsed as `info mtree -f` text and as `info registers` text.
 * Byte 0 picks the ram id the tree parser looks for, so random inputs meet
 * both matching and foreign regions.  Nothing may crash, hang or read out
 * of bounds; whatever the tree parser returns must be sorted segments.
 *
 * Runs in: tests
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../../vmsig-memctx/daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Below the socket buffer, so the writer never blocks. */
const size_t driver_max_len = 32768;

static const char *const ids[] = { "ram0", "pc.ram", "r", "memory" };

static void
reader(const uint8_t *data, size_t len)
{
	struct qmp *q;
	json_object *ret = NULL;
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	if (len > 0 && write(sv[1], data, len) != (ssize_t)len)
		abort();
	(void)close(sv[1]);	/* the end of input is EOF: no waits */
	if (qmp_fdopen(sv[0], &q) < 0)
		abort();
	(void)qmp_handshake(q, 0);
	if (qmp_execute(q, "query-status", NULL, 0, &ret) == 0)
		json_object_put(ret);
	for (i = 0; i < 64 && qmp_read_events(q) == 0; i++)
		;
	(void)qmp_take_events(q);
	qmp_close(q);
}

static void
parsers(const uint8_t *data, size_t len)
{
	vmsig_memseg segs[8];
	struct qmp_regs regs;
	json_object *o;
	uint32_t n = 0, i;
	const char *id = ids[len > 0 ? data[0] % 4 : 0];

	if (mtree_parse((const char *)data, len, id, segs, 8, &n) == 0) {
		if (n == 0 || n > 8)
			abort();
		for (i = 0; i < n; i++)
			if (segs[i].len == 0 || (i > 0 && segs[i].gpa <
			    segs[i - 1].gpa + segs[i - 1].len))
				abort();
	}
	(void)qmp_guest_regs_parse((const char *)data, len, &regs);
	if (qmp_msg_parse((const char *)data, len, &o) == 0)
		json_object_put(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	parsers(data, len);
	reader(data, len);
	return 0;
}
