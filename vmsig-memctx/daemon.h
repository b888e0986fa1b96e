/* SPDX-License-Identifier: MIT */
/*
 * The daemon half of vmsig-memctx, file by file: the guest it serves
 * (guest.c), its link to vmsigd (link.c), watching the guest (watch.c) and
 * leased writes (memwrite.c).  memctx.h has the guest-RAM half.
 *
 * Runs in: vmsig-memctx
 */
#ifndef VMSIG_MEMCTX_DAEMON_H
#define VMSIG_MEMCTX_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "memctx.h"

/* Exit codes (vmsig-memctx(8), EXIT STATUS). */
enum {
	EXIT_MEMCTX_OK = 0,
	EXIT_MEMCTX_ERROR = 1,		/* runtime failure, protocol error */
	EXIT_MEMCTX_USAGE = 2,
	EXIT_MEMCTX_RAM = 3,		/* the RAM file cannot be used */
	EXIT_MEMCTX_LAYOUT = 4,		/* the layout does not fit the file */
	EXIT_MEMCTX_NOKCR3 = 5,		/* no kcr3 candidate in guest RAM */
	EXIT_MEMCTX_BADKCR3 = 6,	/* candidates, none validated */
	EXIT_MEMCTX_REFUSED = 7,	/* vmsigd refused this helper */
};

/* ---- guest.c: the RAM file, its layout and kcr3 ----------------------- */
struct guest {
	const char *path;
	int writable;
	struct layout_opts lopts;
	enum kcr3_method method;
	uint64_t given;
	/* current state */
	int fd;				/* O_RDONLY, -1 when none */
	int wfd;			/* O_RDWR with --writable, else -1 */
	struct ram *ram;
	struct layout layout;
	struct ram_id id;
	struct kcr3_result kcr3;
	int ready;			/* a context we could offer now */
};
/*
 * Open the file (O_RDONLY|O_NOFOLLOW|O_CLOEXEC, and O_RDWR when writable),
 * check it, build the layout, discover kcr3.  Returns 0, or a negative
 * errno with *ret_exit set to the exit code a first start should use and
 * *ret_why to a sentence.
 */
int guest_bootstrap(struct guest *g, int *ret_exit, const char **ret_why);
/* Drop the context (fds, mapping); keep the configuration. */
void guest_reset(struct guest *g);
/* Does the path still name the file we have open?  1 yes, 0 no. */
int guest_same_file(const struct guest *g);
/* Is kcr3 still right?  0, or -ESTALE with *ret_why. */
int guest_revalidate(struct guest *g, const char **ret_why);

/* ---- link.c: the connection to vmsigd --------------------------------- */
struct link_cfg {
	const char *path;
	uint32_t endpoint;
	const char *name;
};
/* Connect and handshake (bounded wait).  0, -EEXIST/-EPERM (refused:
 * *ret_why has vmsigd's message), or another -errno. */
int link_open(const struct link_cfg *cfg, const char **ret_why);
void link_close(void);
int link_fd(void);
/* The epoch our current context carries at vmsigd. */
uint32_t link_epoch(void);
/* Offer the guest's context.  0 or -errno. */
int link_send_ready(const struct guest *g);
/* Ask for invalidation (once per context). */
int link_send_invalidate(const char *reason);
/*
 * Handle what vmsigd sent.  Returns 0, 1 when vmsigd asked us to
 * re-bootstrap (Invalidate: link_epoch() is the new epoch), -EPIPE when it
 * went away, -EPROTO when it broke the protocol (fatal: systemd restarts
 * us).
 */
int link_recv(struct guest *g);
/* Reply to a MemWriteCmd (result or Error). */
int link_reply_written(uint64_t req_id, uint64_t written);
int link_reply_error(uint64_t req_id, int code, const char *message);

/* ---- memwrite.c: leased writes, by guest-physical address only -------- */
/* Check epoch, bounds, --writable; pwrite; answer vmsigd. */
void memwrite_do(struct guest *g, uint64_t req_id, uint32_t epoch,
    uint64_t gpa, const uint8_t *data, size_t len);

/* ---- watch.c: inotify on the file and its directory ------------------- */
/* Watch g->path.  0 or -errno. */
int watch_open(const char *path);
/* Watch the file at path anew (after a reopen).  0 or -errno. */
int watch_rearm(const char *path);
int watch_fd(void);
/* Drain inotify; 1 when the file may have been replaced or removed. */
int watch_read(void);

#endif
