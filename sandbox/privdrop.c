/* SPDX-License-Identifier: MIT */
/*
 * Privilege drop: resolve the run-as user while files are still reachable,
 * become that user for good (and prove root cannot come back), clear every
 * capability with libcap, and set no-new-privs and non-dumpable.  These are
 * the first steps of confinement; Landlock and seccomp come after them.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#include <sys/types.h>
#include <sys/prctl.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#define PRIVDROP_BUFSZ	16384	/* getpw*_r entries; NSS rarely needs more */

static int
parse_id(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	/* (uid_t)-1 means "unchanged" to setresuid(2): never a target. */
	if (errno != 0 || *end != '\0' || v >= (unsigned long)(uid_t)-1)
		return -EINVAL;
	*ret = v;
	return 0;
}

int
privdrop_lookup(const char *user, const char *group,
    struct privdrop_ids *ret_ids)
{
	char buf[PRIVDROP_BUFSZ];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	struct privdrop_ids ids;
	unsigned long v;
	int r;

	if (user == NULL || ret_ids == NULL)
		return -EINVAL;
	r = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
	if (r != 0)
		return -r;
	if (pwp != NULL) {
		ids.uid = pw.pw_uid;
		ids.gid = pw.pw_gid;
	} else if (parse_id(user, &v) == 0) {
		ids.uid = (uid_t)v;
		ids.gid = (gid_t)v;	/* numeric user: same-numbered group */
	} else
		return -ENOENT;

	if (group != NULL) {
		r = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
		if (r != 0)
			return -r;
		if (grp != NULL)
			ids.gid = gr.gr_gid;
		else if (parse_id(group, &v) == 0)
			ids.gid = (gid_t)v;
		else
			return -ENOENT;
	}
	*ret_ids = ids;
	return 0;
}

/* Every capability the kernel knows, out of the bounding set. */
static int
drop_bound(const cap_value_t *keep, size_t nkeep)
{
	cap_value_t c, max = (cap_value_t)cap_max_bits();
	size_t i;
	int kept;

	for (c = 0; c < max; c++) {
		for (kept = 0, i = 0; i < nkeep; i++)
			kept |= keep[i] == c;
		if (kept || cap_get_bound(c) != 1)
			continue;
		if (cap_drop_bound(c) == -1)
			return -errno;
	}
	return 0;
}

static int
have_cap(cap_value_t c)
{
	cap_t caps;
	cap_flag_value_t v = CAP_CLEAR;

	if ((caps = cap_get_proc()) == NULL)
		return 0;
	(void)cap_get_flag(caps, c, CAP_EFFECTIVE, &v);
	cap_free(caps);
	return v == CAP_SET;
}

/* Every id is what we asked for and root is out of reach. */
static int
check_ids(const struct privdrop_ids *ids)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return -errno;
	if (ru != ids->uid || eu != ids->uid || su != ids->uid ||
	    rg != ids->gid || eg != ids->gid || sg != ids->gid)
		return -EACCES;
	if (getgroups(0, NULL) != 0)
		return -EACCES;
	/* The proof the issue asks for: both ways back to root fail. */
	if (setuid(0) != -1 || setresuid((uid_t)-1, 0, (uid_t)-1) != -1)
		return -EACCES;
	if (setgid(0) != -1 && ids->gid != 0)
		return -EACCES;
	return 0;
}

int
privdrop_ids(const struct privdrop_ids *ids)
{
	int r;

	if (ids == NULL || ids->uid == 0 || ids->uid == (uid_t)-1 ||
	    ids->gid == (gid_t)-1)
		return -EINVAL;
	/*
	 * The bounding set first: emptying it needs CAP_SETPCAP, which
	 * setresuid() below takes away.  Not having it is fine when there is
	 * nothing to drop it for (an unprivileged start).
	 */
	if (have_cap(CAP_SETPCAP) && (r = drop_bound(NULL, 0)) < 0)
		return r;
	if (geteuid() == 0 || have_cap(CAP_SETGID)) {
		if (setgroups(0, NULL) == -1)
			return -errno;
	}
	if (setresgid(ids->gid, ids->gid, ids->gid) == -1)
		return -errno;
	if (setresuid(ids->uid, ids->uid, ids->uid) == -1)
		return -errno;
	return check_ids(ids);
}

/* No capability in any set: what a unit with CapabilityBoundingSet=
 * empty and a User= gives (systemd has already dropped everything). */
static int
no_caps(void)
{
	cap_t caps, none;
	int r = 0;

	if ((caps = cap_get_proc()) == NULL)
		return 0;
	if ((none = cap_init()) != NULL) {
		r = cap_compare(caps, none) == 0;
		cap_free(none);
	}
	cap_free(caps);
	return r;
}

int
privdrop_caps(const cap_value_t *keep, size_t nkeep)
{
	cap_t caps;
	size_t i;
	int r = 0, save;

	if (keep == NULL && nkeep > 0)
		return -EINVAL;
	for (i = 0; i < nkeep; i++)
		if (keep[i] < 0 || keep[i] >= (cap_value_t)cap_max_bits())
			return -EINVAL;
	/* Ambient capabilities survive execve(2) of unprivileged files. */
	if (cap_reset_ambient() == -1 && errno != EINVAL)
		return -errno;
	if (have_cap(CAP_SETPCAP) && (r = drop_bound(keep, nkeep)) < 0)
		return r;
	/* Nothing to clear: no capset(2), which systemd's
	 * SystemCallFilter=~@privileged refuses with EPERM. */
	if (nkeep == 0 && no_caps())
		return 0;

	if ((caps = cap_init()) == NULL)	/* cap_init: all clear */
		return -ENOMEM;
	if (nkeep > 0 &&
	    (cap_set_flag(caps, CAP_PERMITTED, (int)nkeep, keep, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, (int)nkeep, keep, CAP_SET) == -1))
		r = -EINVAL;
	else if (cap_set_proc(caps) == -1)
		r = -errno;
	save = r;
	cap_free(caps);
	return save;
}

int
privdrop_nnp(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -errno;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -errno;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return -EPERM;
	return 0;
}
