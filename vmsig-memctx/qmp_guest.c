/* SPDX-License-Identifier: MIT */
/*
 * What the helper asks QEMU about its guest over QMP: is there a guest
 * (query-status), which backend holds its RAM (qom-get /machine
 * memory-backend, or --qmp-ram-id), where that backend is mapped
 * (`info mtree -f`, parsed by mtree.c) and vCPU 0's control registers
 * (`info registers`: CR0, CR3, CR4).  The HMP text is parsed here, never
 * trusted: every number is checked and every string bounded.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon.h"

#define QMP_CMD_MS	5000

static int
refuse(int err, const char **ret_why, const char *why)
{
	if (ret_why != NULL)
		*ret_why = why;
	return err;
}

/* One HMP command through human-monitor-command on vCPU 0. */
static int
hmp(struct qmp *q, const char *cmdline, json_object **ret)
{
	json_object *a = json_object_new_object(), *v = NULL;
	int r;

	if (a == NULL)
		return -ENOMEM;
	json_object_object_add(a, "command-line",
	    json_object_new_string(cmdline));
	json_object_object_add(a, "cpu-index", json_object_new_int(0));
	r = qmp_execute(q, "human-monitor-command", a, QMP_CMD_MS, &v);
	json_object_put(a);
	if (r < 0)
		return r;
	if (!json_object_is_type(v, json_type_string)) {
		json_object_put(v);
		return -EBADMSG;
	}
	*ret = v;
	return 0;
}

/* The backend's id: the last component of the QOM path QEMU gives. */
static int
ram_id(struct qmp *q, char *buf, size_t cap)
{
	json_object *a = json_object_new_object(), *v = NULL;
	const char *s, *slash;
	int r;

	if (a == NULL)
		return -ENOMEM;
	json_object_object_add(a, "path", json_object_new_string("/machine"));
	json_object_object_add(a, "property",
	    json_object_new_string("memory-backend"));
	r = qmp_execute(q, "qom-get", a, QMP_CMD_MS, &v);
	json_object_put(a);
	if (r < 0)
		return r;
	if ((s = json_object_get_string(v)) == NULL ||
	    !json_object_is_type(v, json_type_string))
		r = -EBADMSG;
	else {
		slash = strrchr(s, '/');
		s = slash != NULL ? slash + 1 : s;
		if (*s == '\0' || strlen(s) >= cap)
			r = -EBADMSG;
		else
			snprintf(buf, cap, "%s", s);
	}
	json_object_put(v);
	return r;
}

/* "shutdown" (powered off under -no-shutdown) is no guest to serve. */
static int
status_ok(struct qmp *q)
{
	json_object *v = NULL, *st;
	const char *s;
	int r;

	if ((r = qmp_execute(q, "query-status", NULL, QMP_CMD_MS, &v)) < 0)
		return r;
	if (!json_object_object_get_ex(v, "status", &st) ||
	    (s = json_object_get_string(st)) == NULL)
		r = -EBADMSG;
	else if (strcmp(s, "shutdown") == 0 || strcmp(s, "guest-panicked") == 0
	    || strcmp(s, "internal-error") == 0)
		r = -EAGAIN;
	json_object_put(v);
	return r;
}

/* "NAME=HEX" at the start of the text or after a space or newline. */
static int
reg(const char *text, size_t len, const char *name, uint64_t *ret)
{
	size_t k = strlen(name), i, j;
	uint64_t v;
	unsigned int d;
	char c;

	for (i = 0; i + k < len; i++) {
		if ((i > 0 && text[i - 1] != ' ' && text[i - 1] != '\n') ||
		    memcmp(text + i, name, k) != 0 || text[i + k] != '=')
			continue;
		for (v = 0, j = i + k + 1; j < len && j < i + k + 18; j++) {
			c = text[j];
			if (c >= '0' && c <= '9')
				d = (unsigned int)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				d = (unsigned int)((c | 0x20) - 'a' + 10);
			else
				break;
			v = v << 4 | d;
		}
		if (j == i + k + 1 || j - (i + k + 1) > 16)
			return -EBADMSG;
		*ret = v;
		return 0;
	}
	return -ENOENT;
}

int
qmp_guest_regs_parse(const char *text, size_t len, struct qmp_regs *ret)
{
	struct qmp_regs r;

	if (text == NULL || ret == NULL)
		return -EINVAL;
	/* The first CPU block only: with several vCPUs that is vCPU 0. */
	if (reg(text, len, "CR0", &r.cr0) < 0 ||
	    reg(text, len, "CR3", &r.cr3) < 0 ||
	    reg(text, len, "CR4", &r.cr4) < 0)
		return -EBADMSG;
	*ret = r;
	return 0;
}

int
qmp_guest_query(struct qmp *q, const char *id_opt, int want_layout,
    struct qmp_guest *ret, const char **ret_why)
{
	json_object *t = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = status_ok(q)) < 0)
		return refuse(r, ret_why, r == -EAGAIN ? "QEMU reports the "
		    "guest shut down" : "QMP query-status failed");
	if (want_layout) {
		if (id_opt != NULL)
			snprintf(ret->ram_id, sizeof(ret->ram_id), "%s", id_opt);
		else if ((r = ram_id(q, ret->ram_id, sizeof(ret->ram_id))) < 0)
			return refuse(r, ret_why, "QMP qom-get /machine "
			    "memory-backend failed: give --qmp-ram-id ID");
		if ((r = hmp(q, "info mtree -f", &t)) < 0)
			return refuse(r, ret_why, "QMP info mtree -f failed");
		r = mtree_parse(json_object_get_string(t),
		    (size_t)json_object_get_string_len(t), ret->ram_id,
		    ret->segs, LAYOUT_MAX_SEGS, &ret->nseg);
		json_object_put(t);
		if (r < 0)
			return refuse(r, ret_why, "QEMU's memory tree maps no "
			    "RAM of that backend in address space \"memory\" "
			    "(or is malformed): check --qmp-ram-id");
	}
	if ((r = hmp(q, "info registers", &t)) < 0)
		return refuse(r, ret_why, "QMP info registers failed");
	r = qmp_guest_regs_parse(json_object_get_string(t),
	    (size_t)json_object_get_string_len(t), &ret->regs);
	json_object_put(t);
	if (r < 0)
		return refuse(r, ret_why, "QEMU's info registers has no "
		    "CR0, CR3 and CR4");
	return 0;
}
