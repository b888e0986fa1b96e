/* SPDX-License-Identifier: MIT */
/*
 * One datagram and its descriptors.  The only place in the tree that builds
 * or parses SCM_RIGHTS.  Descriptors are received with MSG_CMSG_CLOEXEC so a
 * confined process that ever executed anything could not leak them.  The
 * check of a received guest-RAM descriptor lives here too, once for the
 * core and the holder.
 *
 * Runs in: any
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"

/* The control buffer is sized for the most descriptors any caller allows;
 * the kernel truncates (MSG_CTRUNC) and drops the rest. */
#define FDPASS_MAX	4u

void
fdpass_close(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			(void)close(fds[i]);
		fds[i] = -1;
	}
}

int
fdpass_check_rdonly(int fd, uint64_t *ret_size, const char **ret_why)
{
	struct stat st;
	const char *why;
	int fl, r;

	if (fd < 0 || (fl = fcntl(fd, F_GETFL)) == -1) {
		why = "descriptor unusable (F_GETFL failed)";
		r = -EBADF;
	} else if ((fl & O_ACCMODE) != O_RDONLY || (fl & O_PATH)) {
		/* O_PATH's access mode bits read as O_RDONLY: test it
		 * separately. */
		why = "descriptor is not O_RDONLY; vmsigd passes only "
		    "read-only guest RAM";
		r = -EACCES;
	} else if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		why = "descriptor is not a regular file";
		r = -EINVAL;
	} else {
		if (ret_size != NULL)
			*ret_size = (uint64_t)st.st_size;
		return 0;
	}
	if (ret_why != NULL)
		*ret_why = why;
	return r;
}

int
fdpass_send(int sock, const void *buf, size_t len, const int *fds,
    unsigned int nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds > FDPASS_MAX || len > VMSIG_FRAME_MAX)
		return -EMSGSIZE;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0)
			return (size_t)n == len ? 0 : -EMSGSIZE;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* Collect every descriptor of every SCM_RIGHTS message; keep at most max,
 * close the rest.  Returns how many were kept, or -EPROTO if there were
 * more than max (all closed). */
static int
take_fds(struct msghdr *msg, int *fds, unsigned int max)
{
	struct cmsghdr *c;
	unsigned int n = 0, extra = 0;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		size_t i, cnt;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < cnt; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (n < max)
				fds[n++] = fd;
			else {
				(void)close(fd);
				extra++;
			}
		}
	}
	if (extra > 0) {
		fdpass_close(fds, n);
		return -EPROTO;
	}
	return (int)n;
}

int
fdpass_recv(int sock, void *buf, size_t cap, int *fds, unsigned int maxfds,
    size_t *ret_len, unsigned int *ret_nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf.b };
	ssize_t n;
	int k;

	if (maxfds > FDPASS_MAX)
		return -EINVAL;
	msg.msg_controllen = maxfds > 0 ?
	    CMSG_SPACE(sizeof(int) * maxfds) : 0;
	if (maxfds == 0)
		msg.msg_control = NULL;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	k = take_fds(&msg, fds, maxfds);
	if (k < 0)
		return -ETOOMANYREFS;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		fdpass_close(fds, (unsigned int)k);
		return (msg.msg_flags & MSG_TRUNC) ? -EMSGSIZE : -ETOOMANYREFS;
	}
	if (n == 0 && k == 0)
		return 0;
	*ret_len = (size_t)n;
	*ret_nfds = (unsigned int)k;
	return 1;
}
