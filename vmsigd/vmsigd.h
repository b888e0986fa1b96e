/* SPDX-License-Identifier: MIT */
/*
 * vmsigd's private interfaces, file by file.  The core is one epoll loop on
 * one thread; every callback below runs on it.
 *
 * Runs in: vmsigd
 */
#ifndef VMSIGD_H
#define VMSIGD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmsig/event.h>
#include <vmsig/memctx.h>

struct peer;
struct endpoint;

/* ---- loop.c: epoll and timers ------------------------------------------ */
struct loop_src {
	int fd;
	void (*cb)(struct loop_src *src, uint32_t events);
	void *arg;
};
int loop_init(void);
int loop_add(struct loop_src *src, uint32_t events);
int loop_mod(struct loop_src *src, uint32_t events);
void loop_del(struct loop_src *src);
/* Free obj with free_fn after the current batch of events (its source must
 * have fd -1 by then).  -ENOMEM: the caller must leak it instead. */
int loop_defer_free(void *obj, void (*free_fn)(void *));
/* Run until loop_quit(); returns 0 or -errno of epoll_wait. */
int loop_run(void);
void loop_quit(void);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t loop_now_ms(void);

/* ---- listen.c: the two listening sockets ------------------------------- */
enum sock_kind { SOCK_HOLDER = 0, SOCK_ADAPTER = 1 };
struct listen_cfg {
	const char *path[2];	/* holder, adapter */
	uid_t owner;		/* chown to this uid/gid when root, else -1 */
	gid_t group;
};
/* Take sockets from systemd (LISTEN_FDS) or bind the paths.  0 or -errno;
 * *ret_why says which step failed. */
int listen_open(const struct listen_cfg *cfg, const char **ret_why);
/* Start accepting on the loop. */
int listen_start(void);
/* Unlink the paths we bound (not systemd's). */
void listen_cleanup(void);
/* Whether the sockets came from systemd. */
int listen_activated(void);

/* ---- msg.c: frames <-> internal messages (the only Vmsig__V1__ user) ---- */
enum msg_type {
	MSG_HELLO, MSG_SUBSCRIBE, MSG_UNSUBSCRIBE, MSG_STATUS,
	MSG_LEASE_ACQUIRE, MSG_LEASE_RENEW, MSG_LEASE_RELEASE, MSG_MEM_WRITE,
	MSG_MEMCTX_READY, MSG_INVALIDATE_REQUEST, MSG_MEM_WRITE_RESULT,
	MSG_ERROR, MSG__MAX
};
#define VMSIGD_SEGS_MAX	64
struct msg {
	enum msg_type type;
	uint64_t req_id;
	int fd;			/* the descriptor that came with it, or -1 */
	union {
		struct {
			uint32_t version, role, endpoint, source;
			const char *name;
			const char *ep_name;	/* "" or NULL: unnamed */
		} hello;
		struct {
			const uint32_t *endpoints;
			size_t n;
			uint32_t mask;
		} subscribe;
		struct {
			uint32_t endpoint, kind, ttl_ms;
		} lease_acquire;
		struct {
			uint64_t lease_id;
			uint32_t ttl_ms;
		} lease;
		struct {
			uint32_t endpoint, epoch;
			uint64_t lease_id, gpa;
			const uint8_t *data;
			size_t len;
		} mem_write;
		struct {
			vmsig_memctx pod;
			vmsig_memseg segs[VMSIGD_SEGS_MAX];
			const char *method;
		} ready;
		struct {
			const char *reason;
		} inval;
		struct {
			uint64_t written;
		} written;
		struct {
			uint32_t code;
			const char *message;
		} error;
	} u;
};
struct wire_arena;
/* Decode a datagram into *m (pointing into the arena).  Returns 0, or the
 * -errno of wire_decode, or -EBADMSG for a message no client may send. */
int msg_decode(struct wire_arena *a, const void *buf, size_t len,
    unsigned int nfds, struct msg *m, const char **ret_why);
/* Packers: return the packed length or -EMSGSIZE. */
int msg_pack_welcome(void *buf, size_t cap, uint64_t req_id, uint32_t peer_id,
    uint32_t epoch);
int msg_pack_error(void *buf, size_t cap, uint64_t req_id, int code,
    const char *message);
int msg_pack_ack(void *buf, size_t cap, uint64_t req_id);
int msg_pack_memctx(void *buf, size_t cap, uint32_t endpoint, uint64_t seq,
    const vmsig_memctx *pod, const vmsig_memseg *segs, uint32_t nseg);
int msg_pack_event(void *buf, size_t cap, uint32_t type, uint32_t endpoint,
    uint32_t epoch, uint64_t seq, const void *inln);
int msg_pack_invalidate(void *buf, size_t cap, uint32_t epoch);
int msg_pack_lease_granted(void *buf, size_t cap, uint64_t req_id,
    uint64_t lease_id, uint64_t expires_ms, uint32_t epoch);
int msg_pack_mem_write_cmd(void *buf, size_t cap, uint64_t req_id,
    uint32_t epoch, uint64_t gpa, const uint8_t *data, size_t len);
int msg_pack_mem_write_done(void *buf, size_t cap, uint64_t req_id,
    uint64_t written);
int msg_pack_status(void *buf, size_t cap, uint64_t req_id);

/* ---- peer.c: one connection -------------------------------------------- */
enum peer_role { ROLE_NEW = 0, ROLE_HOLDER = 1, ROLE_ADAPTER = 2 };
struct peer_queue_limits {
	unsigned int frames;
	size_t bytes;
};
extern struct peer_queue_limits peer_limits;
/* Accept-time: wrap fd (non-blocking, close-on-exec); kind = which socket.
 * *ret_p (may be NULL) is the new peer. */
int peer_new(int fd, enum sock_kind kind, struct peer **ret_p);
/* Queue or send a packed frame.  A holder whose queue is full is dropped;
 * returns -ENOBUFS then (p is gone).  With a descriptor (fd >= 0, not
 * consumed) the frame is sent now or not at all: -EAGAIN (frames wait, or
 * the socket is full), -ETOOMANYREFS, -ENOBUFS, -ENOMEM leave p connected
 * and the caller defers it (sendq.c). */
int peer_send(struct peer *p, const void *buf, size_t len, int fd);
/* Refuse: send Error (best effort) and drop the peer. */
void peer_fail(struct peer *p, uint64_t req_id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reply with Error and keep the peer. */
void peer_error(struct peer *p, uint64_t req_id, int code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
void peer_ack(struct peer *p, uint64_t req_id);
/* Drop the peer: deregisters it everywhere, closes everything. */
void peer_drop(struct peer *p, const char *why);
uint32_t peer_id(const struct peer *p);
enum peer_role peer_role(const struct peer *p);
enum sock_kind peer_kind(const struct peer *p);
const char *peer_name(const struct peer *p);
pid_t peer_pid(const struct peer *p);
uid_t peer_uid(const struct peer *p);
gid_t peer_gid(const struct peer *p);
/* Role fixed by the handshake. */
void peer_set_hello(struct peer *p, enum peer_role role, const char *name);
/* Holder subscription; 0 or -ENOMEM. */
int peer_subscribe(struct peer *p, const uint32_t *eps, size_t n,
    uint32_t mask);
void peer_unsubscribe(struct peer *p);
/* Whether this holder wants events of type `type` for `endpoint`. */
int peer_wants(const struct peer *p, uint32_t endpoint, uint32_t type);
/* Iterate connected peers (for multicast and Status). */
struct peer *peer_first(void);
struct peer *peer_next(struct peer *p);
int peer_subscribed(const struct peer *p);
unsigned int peer_queued(const struct peer *p);
uint64_t peer_sent(const struct peer *p);
/* Per-role data. */
void peer_set_endpoint(struct peer *p, struct endpoint *ep);
struct endpoint *peer_endpoint(const struct peer *p);
void peer_drop_all(void);
/* The socket (-1 once dead), accept time, admitting rule, sendq state. */
int peer_fd(const struct peer *p);
int peer_dead(const struct peer *p);
uint64_t peer_since_ms(const struct peer *p);
const char *peer_rule(const struct peer *p);
void peer_set_rule(struct peer *p, const char *rule);
struct sendq;
struct sendq *peer_sendq(const struct peer *p);
void peer_set_sendq(struct peer *p, struct sendq *sq);

/* ---- sendq.c: descriptors in flight, per holder ------------------------ */
/* Deliver MEMCTX{epoch} of endpoint epid (packed in buf, with fd, not
 * consumed) to p, or remember that it is owed: at most limits.peer_fds
 * frames with a descriptor may be unread in p's socket, and at most
 * limits.fds_total in all sockets.  A frame of an epoch p was already
 * sent is not sent again. */
void sendq_offer(struct peer *p, uint32_t epid, uint32_t epoch,
    const void *buf, size_t len, int fd);
/* Remember that p is owed endpoint epid's current context (no descriptor
 * could be made for it now); the sendq timer delivers it later. */
void sendq_owe(struct peer *p, uint32_t epid);
/* Whether p was sent (or refused) the context of epid for epoch. */
int sendq_has(struct peer *p, uint32_t epid, uint32_t epoch);
/* Mark it sent without sending (a refusal). */
void sendq_mark(struct peer *p, uint32_t epid, uint32_t epoch);
/* p's queue of frames drained: deliver what it is owed. */
void sendq_kick(struct peer *p);
/* p is dropped: close its socket fd now, or keep it (shut down) while
 * descriptors may sit unread in it, counted against p's uid. */
void sendq_peer_gone(struct peer *p, int fd);
/* Its timer (before the sandbox).  0 or -errno. */
int sendq_init(void);
/* Free p's state (peer_free). */
void sendq_free(struct peer *p);
/* Descriptors possibly unread, all peers; sockets kept for them. */
unsigned int sendq_inflight(void);
unsigned int sendq_kept(void);

/* ---- admit.c: accept-time policy, connection caps, Hello deadline ----- */
/* The Hello deadline's timer (before the sandbox).  0 or -errno. */
int admit_init(void);
/* A connection accepted on socket kind (fd owned): admitted (a peer) or
 * refused with an Error and closed. */
void admit_accept(int fd, enum sock_kind kind);
/* Connections (and kept sockets) per uid: taken at accept, put back when
 * the socket is finally closed. */
void admit_uid_put(uid_t uid);
unsigned int admit_count(uid_t uid);

/* ---- ratelimit.c: log lines under attack ------------------------------- */
struct ratelimit {
	uint64_t start_ms;
	unsigned int n, suppressed;
};
/* 1 when a line may be logged now (at most burst per interval_ms);
 * *ret_suppressed is how many were held back before this one (to say). */
int ratelimit_ok(struct ratelimit *rl, unsigned int burst,
    unsigned int interval_ms, unsigned int *ret_suppressed);

/* ---- dispatch.c: the permission table ---------------------------------- */
/* Handle one message from p.  Returns 0, or -errno when p broke the
 * protocol (the caller drops it). */
int dispatch(struct peer *p, struct msg *m);

/* ---- endpoint.c: registry, epochs, retained context, multicast -------- */
/* Find or create the record of endpoint id (records live forever so the
 * epoch keeps rising across helpers). */
struct endpoint *endpoint_get(uint32_t id, int create);
struct endpoint *endpoint_first(void);
struct endpoint *endpoint_next(struct endpoint *ep);
uint32_t endpoint_id(const struct endpoint *ep);
uint32_t endpoint_epoch(const struct endpoint *ep);
/* Attach an adapter's registration (its in-core proxy).  -EEXIST when the
 * endpoint has a live adapter. */
int endpoint_attach(struct endpoint *ep, struct peer *adapter,
    const vmsig_memctx_reg *reg);
/* The epoch the endpoint's next context will carry. */
uint32_t endpoint_next_epoch(const struct endpoint *ep);
/* The adapter left: invalidate, and ENDPOINT_GONE unless one comes back. */
void endpoint_detach(struct endpoint *ep);
/* The adapter offered a context: stamp the epoch, multicast MEMCTX. */
void endpoint_context_ready(struct endpoint *ep);
/* Invalidate the current context (adapter request, file replaced). */
void endpoint_invalidate(struct endpoint *ep, const char *reason);
/* Replay retained contexts to a holder that just subscribed: only those
 * it was not sent in their current epoch. */
void endpoint_replay(struct peer *holder);
/* Send (or owe, sendq.c) the endpoint's current context to one holder. */
void endpoint_deliver(struct endpoint *ep, struct peer *p);
/* Send one event of the endpoint (next seq) to one peer only. */
void endpoint_send_to(struct endpoint *ep, struct peer *p, uint32_t type,
    const void *inln);
/* Multicast an event without a descriptor to interested holders. */
void endpoint_multicast(struct endpoint *ep, uint32_t type, const void *inln);
int endpoint_has_context(const struct endpoint *ep);
struct peer *endpoint_adapter(const struct endpoint *ep);
const vmsig_memctx_reg *endpoint_reg(const struct endpoint *ep);
uint64_t endpoint_events(const struct endpoint *ep);
uint64_t endpoint_invalidations(const struct endpoint *ep);
extern unsigned int endpoint_gone_ms;
/* How kcr3 was found, as the adapter said ("" if unknown). */
const char *endpoint_method(const struct endpoint *ep);
/* The endpoint's name, "" if unnamed.  A name is held from the Hello that
 * gives it until the endpoint is gone (ENDPOINT_GONE, or its helper left
 * before any context); it survives a helper's reconnect like the number. */
const char *endpoint_name(const struct endpoint *ep);
/* The other endpoint (not `self`) that holds `name` now, or NULL. */
struct endpoint *endpoint_by_name(const char *name,
    const struct endpoint *self);
/* Give ep the name (NULL or "": keep the one it has). */
void endpoint_set_name(struct endpoint *ep, const char *name);
/* 1 if name is a valid endpoint name: 1..64 bytes of [A-Za-z0-9._+-]. */
int endpoint_name_valid(const char *name);
/* The MEMWRITE lease of an endpoint, if held: 1 and *ret, else 0. */
struct endpoint_lease {
	uint64_t id;
	uint32_t peer;
	uint64_t expires_ms;
};
int endpoint_lease_get(const struct endpoint *ep, struct endpoint_lease *ret);

/* ---- adapter.c: the in-core proxy of a helper (vmsig_memctx_reg) ------- */
struct adapter;
/* A proxy for peer p; registration filled in *ret_reg. */
struct adapter *adapter_new(struct peer *p, vmsig_memctx_reg *ret_reg);
void adapter_free(struct adapter *a);
/* Take the context of a MemctxReady (the fd is checked, then owned). */
int adapter_set_context(struct adapter *a, struct msg *m,
    const char **ret_why);
/* Whether a context is held. */
int adapter_has_context(const struct adapter *a);
const char *adapter_method(const struct adapter *a);

/* ---- lease.c: the MEMWRITE lease and leased writes -------------------- */
/* The endpoint's epoch changed or it is gone: end its lease (LEASE_LOST
 * with `reason`, enum vmsig_lease_reason) and fail writes in flight. */
void lease_epoch_changed(struct endpoint *ep, uint32_t reason);
/* The peer left: release what it holds, fail what it waits for. */
void lease_peer_gone(struct peer *p);
/* Handlers of the holder's lease requests and writes. */
void lease_acquire(struct peer *p, const struct msg *m);
void lease_renew(struct peer *p, const struct msg *m);
void lease_release(struct peer *p, const struct msg *m);
void lease_mem_write(struct peer *p, const struct msg *m);
/* The helper's MemWriteResult or Error for one of our MemWriteCmd.
 * -EPROTO when it answers nothing we asked. */
int lease_write_answer(struct peer *adapter, const struct msg *m);

/* ---- policy.c: who may do what (SO_PEERCRED) ---------------------------- */
enum policy_rule { POLICY_HOLDERS, POLICY_WRITERS, POLICY_ADAPTERS,
    POLICY__MAX };
/* Add "uid:N", "gid:N", "user:NAME", "group:NAME" (or "none") to a rule.
 * Names are resolved now.  0 or -EINVAL with *ret_why. */
int policy_add(enum policy_rule rule, const char *entry, const char **ret_why);
/* The command line's entries and settings are all in: the base that every
 * policy_read() starts from (a setting given there wins over the file). */
void policy_cmdline_done(void);
/* Start-up is over: names are no longer resolved, a read adds defaults. */
void policy_seal(void);
/* Read vmsigd.conf(5) (path names it in labels and errors) from fd at
 * offset 0 into a fresh table on top of the command line's, swapped in
 * only when it all parses.  The number of entries, or -errno with
 * *ret_line (the bad line, 0 when none) and *ret_why; nothing changed. */
int policy_read(int fd, const char *path, int *ret_line, const char **ret_why);
/* Fill the defaults of rules nothing was said about. */
void policy_defaults(uid_t self);
/* 1 if p may act under rule; otherwise sends Error{EPERM} naming the rule
 * and the peer (with req_id) and returns 0. */
int policy_allows(enum policy_rule rule, struct peer *p, uint64_t req_id);
/* The label of the first entry of rule admitting uid/gid, or NULL. */
const char *policy_match(enum policy_rule rule, uid_t uid, gid_t gid);
/* A setting of vmsigd.conf(5) ("hello-timeout-ms", "5000").  0 or -EINVAL
 * with *ret_why. */
int policy_set(const char *name, const char *value, const char **ret_why);
/* Limits of unauthenticated and hostile peers (settings, flags, main.c). */
struct vmsigd_limits {
	unsigned int conn_per_uid;	/* connections per uid */
	unsigned int conn_total;	/* holder connections, all uids */
	unsigned int hello_ms;		/* Hello deadline */
	unsigned int peer_fds;		/* descriptors in flight per holder */
	unsigned int fds_total;		/* ... all holders */
	int deliver_to_owner;		/* contexts to the RAM file's owner */
};
extern struct vmsigd_limits limits;

/* ---- status.c: the Status reply ---------------------------------------- */
struct counters {
	uint64_t protocol_errors, slow_holders, refused_fds;
	uint64_t start_ms;
	uid_t uid;		/* after the drop: getuid(2) is not allowed */
};
extern struct counters counters;

#endif
