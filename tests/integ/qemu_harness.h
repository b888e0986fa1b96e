/* SPDX-License-Identifier: MIT */
/*
 * Real-guest harness: a Linux guest (Debian's cloud kernel and a busybox
 * initramfs made by tests/qemu/fetch-guest.sh) under QEMU with TCG, its RAM
 * in a shared memory-backend-file, its console in a log file and two QMP
 * monitors (one for the helper, one for the test).  Every QEMU started here
 * is stopped by pid and its RAM file removed.
 *
 * Runs in: tests
 */
#ifndef VMSIG_QEMU_HARNESS_H
#define VMSIG_QEMU_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define QH_MARKER	"VMSIG-GUEST-READY"
#define QH_TEXT_BASE	0xffffffff80000000ull	/* nokaslr: text = this + PA */
#define QH_DMAP_BASE	0xffff888000000000ull	/* 4-level direct map */

struct qh_guest {
	pid_t pid;			/* QEMU, or 0 */
	char ram[256];			/* /dev/shm/vmsig-rg.XXXXXX.ram */
	char log[256];			/* dir/serial.log */
	char hqmp[256];			/* dir/helper.qmp: the helper's monitor */
	char tqmp[256];			/* dir/test.qmp: the test's monitor */
	int qmp;			/* connected test monitor, or -1 */
	uint64_t low;			/* RAM below 4 GiB */
	uint64_t size;
};

/*
 * Make sure the kernel and initramfs are in VMSIG_BUILD_DIR/qemu (runs
 * tests/qemu/fetch-guest.sh).  0; -ENOENT when the guest cannot be had
 * here (the caller skips; *ret_why says why); another -errno.
 */
int qh_fetch(const char **ret_why);
/*
 * Boot machine ("pc" or "q35") with size_mib of RAM; files in dir.
 * Returns 0 once QEMU runs and the test monitor is connected, or -errno.
 */
int qh_boot(struct qh_guest *g, const char *dir, const char *machine,
    unsigned int size_mib);
/* The same, with `extra` (NULL for none; at most 1 KiB) appended to the
 * kernel command line ("console=ttyS0 nokaslr panic=-1 EXTRA"). */
int qh_boot_cmdline(struct qh_guest *g, const char *dir, const char *machine,
    unsigned int size_mib, const char *extra);
/* Wait (at most timeout_ms) until the console log holds the marker line
 * at least `count` times.  0, -ETIMEDOUT, or -ECHILD when QEMU exited. */
int qh_wait_marker(struct qh_guest *g, int count, int timeout_ms);
/* Send one QMP command (a JSON object) on the test monitor and wait for
 * its return.  0, -EIO on an "error" reply, -ETIMEDOUT, -EPIPE. */
int qh_qmp(struct qh_guest *g, const char *json, char *reply, size_t cap);
/* CR3 of vCPU 0 ("info registers" through the test monitor).  0/-errno. */
int qh_cr3(struct qh_guest *g, uint64_t *ret_cr3);
/* Wait (at most timeout_ms) for QEMU to exit on its own; 0 or -ETIMEDOUT. */
int qh_wait_exit(struct qh_guest *g, int timeout_ms);
/* SIGTERM, then SIGKILL after 5 s; remove the RAM file.  Idempotent. */
void qh_stop(struct qh_guest *g);
/* The first guest-physical address >= from of a byte string in the RAM
 * file (pread, allocated extents only).  The address, or -errno. */
int64_t qh_find_pa(const struct qh_guest *g, uint64_t from, const void *pat,
    size_t len);

#endif
