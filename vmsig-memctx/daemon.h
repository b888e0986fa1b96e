/* SPDX-License-Identifier: MIT */
/*
 * The daemon half of vmsig-memctx, file by file: the guest it serves
 * (guest.c), its link to vmsigd (link.c), watching the guest (watch.c),
 * leased writes (memwrite.c) and QEMU's monitor (qmp.c, qmp_guest.c,
 * mtree.c).  memctx.h has the guest-RAM half.
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
	EXIT_MEMCTX_QMP = 8,		/* --qmp: QEMU's monitor unusable */
	EXIT_MEMCTX_QEMU_GONE = 9,	/* --qemu-pid: QEMU exited */
};

struct json_object;
struct qmp;

/* ---- mtree.c: QEMU's flat memory tree (`info mtree -f` text) ---------- */
/*
 * The ranges of address space "memory" whose region is `ram_id` (the RAM
 * backend's name), with their offsets into it, merged when contiguous in
 * both guest-physical address and offset, in the order of the text (by
 * address).  Writes at most max segments and *ret_n.  Returns 0, -EINVAL
 * (NULL or empty arguments), -ENOENT (no such address space, or no range
 * of that backend), -EBADMSG (a malformed range line, overlapping ranges,
 * "memory" in two blocks), -E2BIG (more than max segments).  Pure.
 */
int mtree_parse(const char *text, size_t len, const char *ram_id,
    vmsig_memseg *segs, uint32_t max, uint32_t *ret_n);

/* ---- qmp.c: a QMP client (one command at a time, bounded) ------------- */
#define QMP_LINE_MAX	(1u << 20)	/* longest message accepted */
#define QMP_DEPTH_MAX	16		/* json-c nesting limit */
#define QMP_EV_RESET	0x1u
#define QMP_EV_SHUTDOWN	0x2u
/*
 * Connect to the QMP socket at path, read the greeting and negotiate
 * capabilities, waiting at most timeout_ms for each answer.  The socket
 * is non-blocking (for the poll loop).  0 and *ret (qmp_close() it), or
 * -errno: of socket/connect (-ENOENT, -ECONNREFUSED: no QEMU there),
 * -ETIMEDOUT (no greeting: another client holds the monitor), -EPIPE,
 * -EPROTO, -EBADMSG, -EMSGSIZE (see qmp_execute).
 */
int qmp_connect(const char *path, int timeout_ms, struct qmp **ret);
/*
 * Only the connect of qmp_connect(): a non-blocking AF_UNIX stream socket
 * connected to path, wrapped as *ret, greeting not yet read (call
 * qmp_handshake()).  Reads nothing.  0, -EINVAL, -ENAMETOOLONG, -ENOMEM or
 * -errno of socket/connect.
 */
int qmp_dial(const char *path, struct qmp **ret);
/*
 * Parse a constant JSON object, so that json-c seeds its string hash now
 * (getrandom(2), else /dev/urandom) and never under seccomp, which allows
 * neither.  Call once before confinement.  0 or -ENOMEM.
 */
int qmp_seed(void);
/* Adopt a connected stream socket fd (owned from now on, also on error
 * paths of later calls; qmp_close() closes it).  0, -EINVAL, -ENOMEM. */
int qmp_fdopen(int fd, struct qmp **ret);
/* Greeting and qmp_capabilities (what qmp_connect does after connect). */
int qmp_handshake(struct qmp *q, int timeout_ms);
/* Close and free; accepts NULL. */
void qmp_close(struct qmp *q);
int qmp_fd(const struct qmp *q);
/*
 * Run cmd with args (borrowed, may be NULL) and wait at most timeout_ms for
 * its reply; events read meanwhile are recorded.  0 and *ret (its
 * "return", the caller puts it; ret may be NULL), or -EREMOTEIO (QEMU
 * answered an error: qmp_error()), -ETIMEDOUT, -EPIPE (QEMU closed),
 * -EMSGSIZE (a line over QMP_LINE_MAX), -EBADMSG (not a JSON object),
 * -ENOMEM, or a write error.  After any error but -EREMOTEIO the
 * connection should be closed.
 */
int qmp_execute(struct qmp *q, const char *cmd, struct json_object *args,
    int timeout_ms, struct json_object **ret);
/* The description of the last error reply (static to q). */
const char *qmp_error(const struct qmp *q);
/*
 * For the loop, when the fd is readable: read and record events.  0, or
 * -EPIPE (QEMU closed the connection), -EPROTO (a reply nobody asked for),
 * -EMSGSIZE, -EBADMSG, -errno of read.
 */
int qmp_read_events(struct qmp *q);
/* The QMP_EV_* seen since the last call, cleared. */
unsigned int qmp_take_events(struct qmp *q);
/*
 * Parse one line as a JSON object (trailing \r and blanks allowed, no NUL
 * bytes, nothing after the object, nesting at most QMP_DEPTH_MAX).  0 and
 * *ret (json_object_put it), -EBADMSG, -EINVAL (over QMP_LINE_MAX), -ENOMEM.
 */
int qmp_msg_parse(const char *line, size_t len, struct json_object **ret);

/* ---- qmp_guest.c: the guest as QEMU describes it ---------------------- */
struct qmp_regs {
	uint64_t cr0, cr3, cr4;
};
struct qmp_guest {
	char ram_id[128];
	uint32_t nseg;
	vmsig_memseg segs[LAYOUT_MAX_SEGS];
	struct qmp_regs regs;
};
/* CR0, CR3, CR4 of the first CPU block of `info registers` text.  0 and
 * *ret, -EINVAL, -EBADMSG (a register missing or malformed).  Pure. */
int qmp_guest_regs_parse(const char *text, size_t len, struct qmp_regs *ret);
/*
 * Ask QEMU: query-status (a guest that is not shut down), the RAM backend
 * (id_opt, or qom-get /machine memory-backend) and its segments (only when
 * want_layout), vCPU 0's registers.  0 and *ret, or -EAGAIN (QEMU reports
 * the guest shut down), an error of qmp_execute() or mtree_parse(), with
 * *ret_why.
 */
int qmp_guest_query(struct qmp *q, const char *id_opt, int want_layout,
    struct qmp_guest *ret, const char **ret_why);

/* ---- guest.c: the RAM file, its layout and kcr3 ----------------------- */
struct guest {
	const char *path;
	int writable;
	struct layout_opts lopts;
	enum kcr3_method method;
	uint64_t given;
	const char *qmp_path;		/* --qmp, or NULL */
	const char *qmp_ram_id;		/* --qmp-ram-id, or NULL */
	unsigned int paging;		/* --paging 4|5; 0: not given */
	/* Who may own the RAM file besides root (guest_owner_add()). */
	uid_t owners[6];
	unsigned int nowners;
	/* current state */
	struct qmp *qmp;		/* kept across bootstraps: the session */
	int qmp_greeted;		/* qmp_handshake() done on g->qmp */
	uint32_t loc_flags;		/* VMSIG_MEMCTX_* for MemctxReady */
	int fd;				/* O_RDONLY, -1 when none */
	int wfd;			/* O_RDWR with --writable, else -1 */
	struct ram *ram;
	struct layout layout;
	struct ram_id id;
	struct kcr3_result kcr3;
	int ready;			/* a context we could offer now */
};
/*
 * Add uid to the owners the RAM file may have besides root: the uid the
 * helper was started as, --user's, --ram-owner's, QEMU's (--qemu-pid; with
 * --qmp the peer of the first QMP connection, added by guest_acquire()).
 * 0, or -E2BIG.
 */
int guest_owner_add(struct guest *g, uid_t uid);
/*
 * Acquire, before confinement, what discovery will use, reading no byte of
 * the guest and none from QEMU: with --qmp, connect QEMU's socket (the
 * greeting is read by guest_bootstrap) and add its peer's uid (QEMU's,
 * SO_PEERCRED) to the RAM file's owners; open the RAM file as
 * guest_bootstrap() would (same flags, same checks).  0, or -errno with
 * *ret_exit (the exit code) and *ret_why (a sentence).
 */
int guest_acquire(struct guest *g, int *ret_exit, const char **ret_why);
/*
 * Discover the guest: drop the previous context, if any; greet QEMU and ask
 * it (--qmp; reconnecting when needed); open the RAM file unless
 * guest_acquire() left it open (O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC,
 * and O_RDWR when writable; refused unless a regular file owned by root or
 * one of g->owners and, when it has a name, not group- or other-writable);
 * build the layout, map the file, find kcr3.  The same code at start
 * (confined already) and after every invalidation.  Returns 0, or a
 * negative errno with *ret_exit set to the exit code a first start should
 * use and *ret_why to a sentence.
 */
int guest_bootstrap(struct guest *g, int *ret_exit, const char **ret_why);
/* Drop the context (fds, mapping); keep the configuration and QMP. */
void guest_reset(struct guest *g);
/* Close the QMP connection (QEMU went away); the next bootstrap
 * reconnects. */
void guest_qmp_drop(struct guest *g);
/* Does the path still name the file we have open?  1 yes, 0 no. */
int guest_same_file(const struct guest *g);
/* Is kcr3 still right?  0, or -ESTALE with *ret_why. */
int guest_revalidate(struct guest *g, const char **ret_why);

/* ---- link.c: the connection to vmsigd --------------------------------- */
struct link_cfg {
	const char *path;
	uint32_t endpoint;
	const char *name;	/* the program's, for vmsigd's logs */
	const char *ep_name;	/* --name: the endpoint's, NULL = unnamed */
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
/* Ask for invalidation (once per context): 1 when sent (vmsigd will answer
 * Invalidate), 0 when there was nothing to send, or -errno. */
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

/* ---- qemupid.c: guest RAM through a QEMU process (--qemu-pid) --------- */
/* pidfd_open(2) of pid: readable (POLLIN) once it has exited.  The fd, or
 * -EINVAL, -ESRCH (no such process) and other -errno of pidfd_open. */
int qemupid_pidfd(pid_t pid);
/*
 * Find the guest RAM among pid's descriptors: with path == NULL, the one
 * backing pid's largest MAP_SHARED mapping (device and inode of
 * /proc/PID/maps against stat of /proc/PID/fd/N); else the one whose
 * target is path.  Opens it anew through /proc/PID/fd/N, O_RDONLY, and a
 * second time O_RDWR when writable.  Returns 0 with *ret_fd, *ret_wfd (-1
 * unless writable; the caller closes both) and the descriptor's target in
 * ret_target (cap bytes, may be NULL, e.g. "/memfd:pc.ram (deleted)"), or
 * -EINVAL, -ESRCH (no such process), -EACCES (not allowed to inspect it:
 * another uid or not dumpable, and no CAP_SYS_PTRACE), -ENOENT (no shared
 * mapping backed by a descriptor, or no descriptor with that target),
 * -ESTALE (the descriptor changed under us) or another -errno of open(2).
 */
int qemupid_open_ram(pid_t pid, const char *path, int writable, int *ret_fd,
    int *ret_wfd, char *ret_target, size_t cap);
/*
 * The helper's QEMU, before confinement: pidfd, then the RAM (as
 * qemupid_open_ram), then a check that the pidfd still says alive.  The
 * descriptors stay open here for the whole run: nothing can find a memfd
 * again once confined, and the session ends when QEMU does.  0, or -errno
 * with *ret_why a sentence on what to do.
 */
int qemupid_attach(pid_t pid, const char *path, int writable,
    const char **ret_why);
int qemupid_active(void);		/* attached: 1, else 0 */
int qemupid_fd(void);			/* the pidfd, or -1 */
pid_t qemupid_pid(void);
uid_t qemupid_uid(void);		/* QEMU's effective uid at attach */
const char *qemupid_target(void);	/* e.g. "/memfd:pc.ram (deleted)" */
/* The attached RAM descriptors (owned here: never close them). 0/-EBADF */
int qemupid_ram(int writable, int *ret_fd, int *ret_wfd);
/* Is fd one of the attached RAM descriptors? */
int qemupid_owns(int fd);

#endif
