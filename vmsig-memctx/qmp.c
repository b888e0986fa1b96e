/* SPDX-License-Identifier: MIT */
/*
 * A QMP client for the helper's own QEMU monitor: connect, read the
 * greeting, negotiate capabilities, run one command at a time with a
 * bounded wait and a bounded reply, and collect the asynchronous events
 * that end a guest session (RESET, SHUTDOWN).  QMP is one JSON object per
 * line; a line longer than QMP_LINE_MAX is refused, not truncated.  Replies
 * carry the id we sent, so a late reply to an abandoned command is never
 * taken for the answer to the next one.  Parsing is json-c's, with its
 * nesting limit.  Everything here works after confinement: the socket is
 * AF_UNIX SOCK_STREAM (SANDBOX_QMP), I/O is poll/read/sendmsg.  json-c
 * seeds its hash once, with getrandom(2), which the policy denies: the
 * first connection is made at start-up, before confinement (main.c).
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon.h"
#include "num.h"

struct qmp {
	int fd;
	size_t len;		/* bytes in buf */
	size_t skip;		/* bytes of the line handed out last */
	unsigned int events;	/* QMP_EV_* not yet taken */
	uint64_t next_id;
	char err[256];
	char buf[QMP_LINE_MAX + 1];
};

int
qmp_fdopen(int fd, struct qmp **ret)
{
	struct qmp *q;

	if (fd < 0 || ret == NULL)
		return -EINVAL;
	if ((q = malloc(sizeof(*q))) == NULL)
		return -ENOMEM;
	q->fd = fd;
	q->len = q->skip = 0;
	q->events = 0;
	q->next_id = 1;
	q->err[0] = '\0';
	*ret = q;
	return 0;
}

void
qmp_close(struct qmp *q)
{
	if (q == NULL)
		return;
	if (q->fd >= 0)
		(void)close(q->fd);
	free(q);
}

int
qmp_fd(const struct qmp *q)
{
	return q != NULL ? q->fd : -1;
}

const char *
qmp_error(const struct qmp *q)
{
	return q != NULL ? q->err : "";
}

unsigned int
qmp_take_events(struct qmp *q)
{
	unsigned int ev = q->events;

	q->events = 0;
	return ev;
}

static long
now_ms(void)
{
	return (long)num_now_ms();
}

/* One read of what is there, after waiting at most timeout_ms for it. */
static int
fill(struct qmp *q, int timeout_ms)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (q->len >= QMP_LINE_MAX)
		return -EMSGSIZE;
	r = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (r == -1)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = read(q->fd, q->buf + q->len, QMP_LINE_MAX - q->len);
	if (n == -1 && errno == ECONNRESET)
		return -EPIPE;
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	q->len += (size_t)n;
	return 0;
}

/* The next complete line in buf (NUL-terminated, valid until the next
 * call): 1, 0 when none is complete, -EMSGSIZE when one cannot fit. */
static int
take_line(struct qmp *q, char **ret, size_t *ret_len)
{
	char *nl;

	if (q->skip > 0) {
		memmove(q->buf, q->buf + q->skip, q->len - q->skip);
		q->len -= q->skip;
		q->skip = 0;
	}
	if ((nl = memchr(q->buf, '\n', q->len)) == NULL)
		return q->len >= QMP_LINE_MAX ? -EMSGSIZE : 0;
	*nl = '\0';
	*ret = q->buf;
	*ret_len = (size_t)(nl - q->buf);
	q->skip = *ret_len + 1;
	return 1;
}

int
qmp_msg_parse(const char *line, size_t len, json_object **ret)
{
	json_tokener *tok;
	json_object *o;
	int r = 0;

	if (line == NULL || ret == NULL || len > QMP_LINE_MAX)
		return -EINVAL;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0 || memchr(line, '\0', len) != NULL)
		return -EBADMSG;
	if ((tok = json_tokener_new_ex(QMP_DEPTH_MAX)) == NULL)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))
		r = -EBADMSG;
	json_tokener_free(tok);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* An event: remember the ones that end the session.  Others are noise. */
static void
on_event(struct qmp *q, json_object *ev)
{
	const char *name = json_object_get_string(ev);

	if (name == NULL)
		return;
	if (strcmp(name, "RESET") == 0)
		q->events |= QMP_EV_RESET;
	else if (strcmp(name, "SHUTDOWN") == 0)
		q->events |= QMP_EV_SHUTDOWN;
}

/*
 * The next message that is not an event, waiting until the deadline.
 * Events met on the way are recorded.  *ret is owned by the caller.
 */
static int
next_msg(struct qmp *q, long deadline, json_object **ret)
{
	json_object *o, *ev;
	char *line;
	size_t len;
	int r;

	for (;;) {
		if ((r = take_line(q, &line, &len)) < 0)
			return r;
		if (r == 0) {
			if ((r = fill(q, (int)(deadline - now_ms()))) < 0)
				return r;
			continue;
		}
		if ((r = qmp_msg_parse(line, len, &o)) < 0)
			return r;
		if (!json_object_object_get_ex(o, "event", &ev)) {
			*ret = o;
			return 0;
		}
		on_event(q, ev);
		json_object_put(o);
	}
}

int
qmp_read_events(struct qmp *q)
{
	json_object *o;
	int r;

	if (q == NULL || q->fd < 0)
		return -EINVAL;
	/* Whatever is there now; anything but an event is out of turn. */
	r = next_msg(q, now_ms(), &o);
	if (r == -ETIMEDOUT)
		return 0;
	if (r == 0) {
		json_object_put(o);
		return -EPROTO;
	}
	return r;
}

static int
send_all(struct qmp *q, const char *s, size_t n)
{
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t w;

	/* sendmsg: MSG_NOSIGNAL (no SIGPIPE when QEMU is gone), and the
	 * seccomp policy already allows it for vmsigd's socket. */
	while (n > 0) {
		iov.iov_base = (void *)s;
		iov.iov_len = n;
		w = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return errno == EAGAIN ? -ETIMEDOUT : errno == EPIPE ||
			    errno == ECONNRESET ? -EPIPE : -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The QMP error's description, for the log. */
static int
remote_error(struct qmp *q, json_object *err)
{
	json_object *d;
	const char *s = "?";

	if (json_object_object_get_ex(err, "desc", &d) &&
	    json_object_get_string(d) != NULL)
		s = json_object_get_string(d);
	snprintf(q->err, sizeof(q->err), "%s", s);
	return -EREMOTEIO;
}

/* Wait for the reply with our id; take its "return". */
static int
wait_reply(struct qmp *q, uint64_t id, long deadline, json_object **ret)
{
	json_object *o, *v, *err;
	int r;

	for (;;) {
		if ((r = next_msg(q, deadline, &o)) < 0)
			return r;
		if (!json_object_object_get_ex(o, "id", &v) ||
		    !json_object_is_type(v, json_type_int) ||
		    (uint64_t)json_object_get_int64(v) != id) {
			json_object_put(o);	/* an abandoned command's */
			continue;
		}
		if (json_object_object_get_ex(o, "error", &err))
			r = remote_error(q, err);
		else if (json_object_object_get_ex(o, "return", &v)) {
			if (ret != NULL)
				*ret = json_object_get(v);
		} else
			r = -EBADMSG;
		json_object_put(o);
		return r;
	}
}

int
qmp_execute(struct qmp *q, const char *cmd, json_object *args,
    int timeout_ms, json_object **ret)
{
	json_object *o;
	const char *s;
	uint64_t id;
	size_t n;
	int r;

	if (q == NULL || q->fd < 0 || cmd == NULL)
		return -EINVAL;
	if ((o = json_object_new_object()) == NULL)
		return -ENOMEM;
	id = q->next_id++;
	json_object_object_add(o, "execute", json_object_new_string(cmd));
	if (args != NULL)
		json_object_object_add(o, "arguments", json_object_get(args));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	r = s == NULL ? -ENOMEM : send_all(q, s, n);
	if (r == 0)
		r = send_all(q, "\n", 1);
	json_object_put(o);
	if (r < 0)
		return r;
	return wait_reply(q, id, now_ms() + timeout_ms, ret);
}

int
qmp_handshake(struct qmp *q, int timeout_ms)
{
	json_object *o, *v;
	int r;

	if (q == NULL || q->fd < 0)
		return -EINVAL;
	/* A busy monitor accepts the connection but greets only when its
	 * current client leaves: the wait is bounded. */
	if ((r = next_msg(q, now_ms() + timeout_ms, &o)) < 0)
		return r;
	r = json_object_object_get_ex(o, "QMP", &v) ? 0 : -EPROTO;
	json_object_put(o);
	if (r < 0)
		return r;
	return qmp_execute(q, "qmp_capabilities", NULL, timeout_ms, NULL);
}

int
qmp_dial(const char *path, struct qmp **ret)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (path == NULL || ret == NULL)
		return -EINVAL;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	/* Non-blocking connect to a local socket: completes at once or
	 * fails (EAGAIN only when QEMU's backlog is full). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		r = -errno;	/* close() may change errno */
		(void)close(fd);
		return r;
	}
	if ((r = qmp_fdopen(fd, ret)) < 0)
		(void)close(fd);
	return r;
}

int
qmp_connect(const char *path, int timeout_ms, struct qmp **ret)
{
	struct qmp *q;
	int r;

	if (ret == NULL)
		return -EINVAL;
	if ((r = qmp_dial(path, &q)) < 0)
		return r;
	if ((r = qmp_handshake(q, timeout_ms)) < 0) {
		qmp_close(q);
		return r;
	}
	*ret = q;
	return 0;
}

int
qmp_seed(void)
{
	json_object *o;
	int r;

	/* A constant, not QEMU's bytes: its key makes json-c seed the hash
	 * of its object tables (getrandom(2), or /dev/urandom). */
	r = qmp_msg_parse("{\"vmsig\": 0}", 12, &o);
	if (r == 0)
		json_object_put(o);
	return r;
}
