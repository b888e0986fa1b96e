/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl's Windows commands: ps (the process list), modules (a
 * process's loader list, or the kernel's for pid 4) and winfo (the build,
 * the kernel and every structure offset the library found, with how, for
 * bug reports); and what they share with vmsigctl_winpe.c and with --pid
 * of the memory commands: attaching to an endpoint's Windows context and
 * saying why there is none.  An item the library could not read is shown
 * with its error, never hidden; a walk that ended early (a corrupt or
 * torn list) prints what it read, a warning naming where it ended, and
 * still exits 0, since what is printed is valid.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsig/win.h>

#include "vmsigctl.h"

#define CTL_MAX_OFFSETS	256	/* bound on vmsig_win_offset()'s index */

/* Why an endpoint has no Windows context, as a person can act on it. */
static void
open_warn(const struct vmsigctl_mem *m, int r)
{
	const char *why;

	switch (r) {
	case -ENOENT:
		why = "no Windows x64 kernel image found in its kernel half "
		    "(is this a Windows guest?)";
		break;
	case -ENOEXEC:
		why = "a kernel image was found but the structures it leads to "
		    "do not validate (not Windows x64, or a layout this "
		    "version cannot find: please report the guest's build)";
		break;
	case -EFAULT:
		why = "a page the discovery needs is not present (is the "
		    "guest still booting? try again)";
		break;
	default:
		why = strerror(-r);
		break;
	}
	vmsigctl_warnx("endpoint %" PRIu32 " epoch %" PRIu32 " kcr3 0x%"
	    PRIx64 ": no Windows context: %s", m->endpoint, m->epoch, m->kcr3,
	    why);
}

/*
 * The tracker's Windows context of the attached endpoint's epoch, opened
 * on first use and owned by the connection.  CTL_OK, or CTL_FAIL after a
 * message.
 */
static int
win_get(const struct vmsigctl_mem *m, struct vmsig_win **ret)
{
	int r = -ENOENT;

	if (m->kcr3 == 0) {
		vmsigctl_warnx("endpoint %" PRIu32 " has no kernel cr3 (none "
		    "was discovered): no Windows context", m->endpoint);
		return CTL_FAIL;
	}
	if ((*ret = vmsig_holder_win(m->h, m->endpoint, NULL, &r)) == NULL) {
		open_warn(m, r);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/*
 * Attach to `endpoint` (vmsigctl_mem_attach) and get its Windows context.
 * Returns CTL_OK with *w filled (release with _detach), or CTL_FAIL after
 * a message.
 */
int
vmsigctl_win_attach(const char *socket, uint32_t endpoint, int timeout_ms,
    struct vmsigctl_win *w)
{
	int r;

	memset(w, 0, sizeof(*w));
	r = vmsigctl_mem_attach(socket, endpoint, timeout_ms, &w->m);
	if (r != CTL_OK)
		return r;
	if ((r = win_get(&w->m, &w->win)) != CTL_OK)
		vmsigctl_mem_detach(&w->m);
	return r;
}

void
vmsigctl_win_detach(struct vmsigctl_win *w)
{
	w->win = NULL;		/* the connection's, closed with it */
	vmsigctl_mem_detach(&w->m);
}

/* "[cmd: ]endpoint N: no process with pid P (see vmsigctl ps N)". */
static void
no_pid_warn(const char *cmd, uint32_t endpoint, uint32_t pid)
{
	vmsigctl_warnx("%s%sendpoint %" PRIu32 ": no process with pid %" PRIu32
	    " (see vmsigctl ps %" PRIu32 ")", cmd != NULL ? cmd : "",
	    cmd != NULL ? ": " : "", endpoint, pid, endpoint);
}

/* The DTB of process pid in win.  CTL_OK, or CTL_FAIL after a message. */
static int
pid_dtb(struct vmsig_win *win, uint32_t endpoint, uint32_t pid,
    uint64_t *ret)
{
	int r = vmsig_win_proc_dtb(win, pid, ret);

	if (r == -ENOENT)
		no_pid_warn(NULL, endpoint, pid);
	else if (r < 0)
		vmsigctl_warnx("endpoint %" PRIu32 ": pid %" PRIu32 ": %s",
		    endpoint, pid, strerror(-r));
	return r == 0 ? CTL_OK : CTL_FAIL;
}

/* The DTB of process pid of an attached endpoint. */
int
vmsigctl_win_dtb(struct vmsigctl_win *w, uint32_t pid, uint64_t *ret)
{
	return pid_dtb(w->win, w->m.endpoint, pid, ret);
}

/* --pid of the memory commands: the process's DTB.  CTL_OK/CTL_FAIL. */
int
vmsigctl_win_pid_cr3(const struct vmsigctl_mem *m, uint32_t pid,
    uint64_t *ret)
{
	struct vmsig_win *win;

	if (win_get(m, &win) != CTL_OK)
		return CTL_FAIL;
	return pid_dtb(win, m->endpoint, pid, ret);
}

/* Decimal or 0x-hex, 0 .. UINT32_MAX.  Returns 0 or -EINVAL. */
int
vmsigctl_win_parse_pid(const char *s, uint32_t *ret)
{
	uint64_t v;

	if (vmsigctl_parse_u64(s, UINT32_MAX, &v) < 0)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* The PID operand; else the reason (vmsigctl_bad). */
int
vmsigctl_win_pid_arg(const char *s, uint32_t *ret)
{
	if (vmsigctl_win_parse_pid(s, ret) < 0)
		return vmsigctl_bad("PID '%.64s': not a process id (decimal or "
		    "0x-hex, see vmsigctl ps)", s);
	return 0;
}

/*
 * A listing whose walk ended early: say where and why on stderr.  The
 * items printed were read before that point and are valid.
 */
void
vmsigctl_win_listing_warn(const char *what, int status, uint64_t fault_va)
{
	const char *why;

	switch (status) {
	case -ELOOP:
		why = "its links loop";
		break;
	case -EBADMSG:
		why = "a link does not point back";
		break;
	case -EFAULT:
		why = "a link cannot be read";
		break;
	case -E2BIG:
		why = "it is longer than the walk's bound";
		break;
	default:
		why = strerror(-status);
		break;
	}
	vmsigctl_warnx("warning: %s ends early at 0x%" PRIx64 ": %s; the "
	    "entries shown were read before it", what, fault_va, why);
}

/* ,"error":"...","fault_va":"0x..." or both null. */
static void
json_err(int err, uint64_t fault_va)
{
	if (err == 0) {
		printf(",\"error\":null,\"fault_va\":null");
		return;
	}
	printf(",\"error\":");
	vmsigctl_json_str(stdout, strerror(-err));
	if (err == -EFAULT)
		printf(",\"fault_va\":\"0x%" PRIx64 "\"", fault_va);
	else
		printf(",\"fault_va\":null");
}

/* The text-mode note of a failed item: "! Bad address at 0x...". */
static void
text_err(struct vmsigctl_table *t, const char *what, int err,
    uint64_t fault_va)
{
	if (err == -EFAULT)
		vmsigctl_table_cell(t, "! %s: %s at 0x%" PRIx64, what,
		    strerror(-err), fault_va);
	else
		vmsigctl_table_cell(t, "! %s: %s", what, strerror(-err));
}

/*
 * A write error anywhere in the output (ferror is sticky) fails: CTL_OK,
 * or CTL_FAIL after a message.
 */
int
vmsigctl_win_stdout_ok(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		vmsigctl_warnx("writing standard output: %s", strerror(errno));
		return CTL_FAIL;
	}
	return CTL_OK;
}

/*
 * Opens item i of a --json listing, one object a line: the separator and
 * `{"key":`.  The caller prints the value, the other members and `}`.
 */
void
vmsigctl_win_json_item(size_t i, const char *key)
{
	printf("%s{\"%s\":", i ? ",\n" : "\n", key);
}

/*
 * The options (--json only) and operands of a Windows command: nargs
 * operands named by `names` ("ENDPOINT PID MODULE"), of which the first is
 * ENDPOINT and, when nargs > 1, the second PID (else *ret_pid is 0).
 * Returns 0 with the endpoint, pid and index of the first operand, or
 * -EINVAL after the reason (vmsigctl_bad).
 */
int
vmsigctl_win_operands(int argc, char **argv, int nargs, const char *names,
    struct vmsigctl_memopt *o, uint32_t *ret_ep, uint32_t *ret_pid,
    int *ret_first)
{
	uint32_t ep, pid = 0;
	int first;

	if (vmsigctl_mem_opts(argc, argv, CTL_MO_JSON, o, &first) < 0 ||
	    vmsigctl_mem_nargs(argc - first, nargs, names) < 0 ||
	    vmsigctl_mem_endpoint(argv[first], &ep) < 0 ||
	    (nargs > 1 && vmsigctl_win_pid_arg(argv[first + 1], &pid) < 0))
		return -EINVAL;
	*ret_ep = ep;
	*ret_pid = pid;
	*ret_first = first;
	return 0;
}

/*
 * The frame of ps, modules and winfo: options, ENDPOINT, and PID when
 * with_pid; attach, fn, detach.  Bad usage returns the usage of cmd.
 */
static int
win_main(const char *socket, int argc, char **argv, const char *cmd,
    int with_pid, int (*fn)(struct vmsigctl_win *, uint32_t, int))
{
	struct vmsigctl_memopt o;
	struct vmsigctl_win w;
	uint32_t ep, pid;
	int first, r;

	if (vmsigctl_win_operands(argc, argv, with_pid ? 2 : 1, with_pid ?
	    "ENDPOINT PID" : "ENDPOINT", &o, &ep, &pid, &first) < 0)
		return vmsigctl_usage(cmd);
	if ((r = vmsigctl_win_attach(socket, ep, o.timeout_ms, &w)) != CTL_OK)
		return r;
	r = fn(&w, pid, o.json);
	vmsigctl_win_detach(&w);
	return r;
}

static void
ps_json(const struct vmsig_win_procs *ps)
{
	const struct vmsig_win_proc *p;
	size_t i;

	printf("[");
	for (i = 0; i < ps->n; i++) {
		p = &ps->v[i];
		vmsigctl_win_json_item(i, "pid");
		printf("%" PRIu32 ",\"ppid\":%" PRIu32 ",\"name\":", p->pid,
		    p->ppid);
		vmsigctl_json_str(stdout, p->name);
		printf(",\"path\":");
		vmsigctl_json_strn(stdout, p->path);
		printf(",\"eprocess\":\"0x%" PRIx64 "\",\"dtb\":\"0x%" PRIx64
		    "\",\"user_dtb\":\"0x%" PRIx64 "\",\"peb\":\"0x%" PRIx64
		    "\",\"exited\":%s,\"wow64\":%s,\"name_truncated\":%s",
		    p->eprocess, p->dtb, p->user_dtb, p->peb,
		    p->flags & VMSIG_WIN_PROC_EXITED ? "true" : "false",
		    p->flags & VMSIG_WIN_PROC_WOW64 ? "true" : "false",
		    p->flags & VMSIG_WIN_PROC_NAME_TRUNC ? "true" : "false");
		json_err(p->err, p->fault_va);
		printf("}");
	}
	printf("\n]\n");
}

static int
ps_text(const struct vmsigctl_win *w, const struct vmsig_win_procs *ps)
{
	static const char *const head[] = { "PID", "PPID", "NAME", "FLAGS",
	    "EPROCESS", "DTB", "USER_DTB", "PEB", "PATH" };
	const struct vmsig_win_proc *p;
	struct vmsigctl_table t;
	size_t i;

	printf("endpoint %" PRIu32 " epoch %" PRIu32 ": %zu processes\n",
	    w->m.endpoint, w->m.epoch, ps->n);
	vmsigctl_table_init(&t, head, 9, 0x3);
	for (i = 0; i < ps->n; i++) {
		p = &ps->v[i];
		vmsigctl_table_cell(&t, "%" PRIu32, p->pid);
		vmsigctl_table_cell(&t, "%" PRIu32, p->ppid);
		vmsigctl_table_guest(&t, "", p->name);
		vmsigctl_table_cell(&t, "%s%s%s%s",
		    p->flags & VMSIG_WIN_PROC_EXITED ? "X" : "",
		    p->flags & VMSIG_WIN_PROC_WOW64 ? "W" : "",
		    p->flags & VMSIG_WIN_PROC_NAME_TRUNC ? "T" : "",
		    p->err != 0 ? "!" : p->flags & 0x7 ? "" : "-");
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->eprocess);
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->dtb);
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->user_dtb);
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->peb);
		if (p->err != 0)
			text_err(&t, "path", p->err, p->fault_va);
		else
			vmsigctl_table_guest(&t, "", p->path);
	}
	return vmsigctl_table_print(stdout, &t);
}

static int
do_ps(struct vmsigctl_win *w, uint32_t pid, int json)
{
	struct vmsig_win_procs *ps;
	char what[64];
	int r;

	(void)pid;		/* ps takes no PID */
	if ((r = vmsig_win_proc_list(w->win, &ps)) < 0) {
		vmsigctl_warnx("ps: endpoint %" PRIu32 ": %s", w->m.endpoint,
		    r == -EFAULT ? "the System process cannot be read" :
		    strerror(-r));
		return CTL_FAIL;
	}
	if (json) {
		ps_json(ps);
		r = CTL_OK;
	} else
		r = ps_text(w, ps);
	if (r == CTL_OK)
		r = vmsigctl_win_stdout_ok();
	if (ps->status != 0) {
		snprintf(what, sizeof(what), "ps: endpoint %" PRIu32 ": the "
		    "process list", w->m.endpoint);
		vmsigctl_win_listing_warn(what, ps->status, ps->fault_va);
	}
	vmsig_win_procs_free(ps);
	return r;
}

int
vmsigctl_win_ps_main(const char *socket, int argc, char **argv)
{
	return win_main(socket, argc, argv, "ps", 0, do_ps);
}

static void
mods_json(const struct vmsig_win_modules *ms)
{
	const struct vmsig_win_module *p;
	size_t i;

	printf("[");
	for (i = 0; i < ms->n; i++) {
		p = &ms->v[i];
		vmsigctl_win_json_item(i, "name");
		vmsigctl_json_strn(stdout, p->name);
		printf(",\"path\":");
		vmsigctl_json_strn(stdout, p->path);
		printf(",\"base\":\"0x%" PRIx64 "\",\"size\":\"0x%" PRIx64
		    "\",\"entry\":\"0x%" PRIx64 "\"", p->base, p->size,
		    p->entry);
		json_err(p->err, p->fault_va);
		printf("}");
	}
	printf("\n]\n");
}

static int
mods_text(const struct vmsigctl_win *w, uint32_t pid,
    const struct vmsig_win_modules *ms)
{
	static const char *const head[] = { "BASE", "SIZE", "ENTRY", "NAME",
	    "PATH" };
	const struct vmsig_win_module *p;
	struct vmsigctl_table t;
	size_t i;

	printf("endpoint %" PRIu32 " epoch %" PRIu32 " pid %" PRIu32
	    ": %zu modules\n", w->m.endpoint, w->m.epoch, pid, ms->n);
	vmsigctl_table_init(&t, head, 5, 0);
	for (i = 0; i < ms->n; i++) {
		p = &ms->v[i];
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->base);
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->size);
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->entry);
		vmsigctl_table_guest(&t, "", p->name);
		if (p->err != 0)
			text_err(&t, "name", p->err, p->fault_va);
		else
			vmsigctl_table_guest(&t, "", p->path);
	}
	return vmsigctl_table_print(stdout, &t);
}

static void
mods_warn(const struct vmsigctl_win *w, uint32_t pid, int r)
{
	uint32_t ep = w->m.endpoint;

	if (r == -ENOENT)
		no_pid_warn("modules", ep, pid);
	else if (r == -ENODATA)
		vmsigctl_warnx("modules: endpoint %" PRIu32 ": process %" PRIu32
		    " has no PEB, so no loader list (the kernel's modules are "
		    "those of pid 4)", ep, pid);
	else if (r == -EFAULT)
		vmsigctl_warnx("modules: endpoint %" PRIu32 ": the PEB or the "
		    "loader data of process %" PRIu32 " is not present (paged "
		    "out, or the process is starting or exiting)", ep, pid);
	else
		vmsigctl_warnx("modules: endpoint %" PRIu32 ": pid %" PRIu32
		    ": %s", ep, pid, strerror(-r));
}

static int
do_modules(struct vmsigctl_win *w, uint32_t pid, int json)
{
	struct vmsig_win_modules *ms;
	char what[80];
	int r;

	if ((r = vmsig_win_mod_list(w->win, pid, &ms)) < 0) {
		mods_warn(w, pid, r);
		return CTL_FAIL;
	}
	if (json) {
		mods_json(ms);
		r = CTL_OK;
	} else
		r = mods_text(w, pid, ms);
	if (r == CTL_OK)
		r = vmsigctl_win_stdout_ok();
	if (ms->status != 0) {
		snprintf(what, sizeof(what), "modules: endpoint %" PRIu32
		    ": the module list of pid %" PRIu32, w->m.endpoint, pid);
		vmsigctl_win_listing_warn(what, ms->status, ms->fault_va);
	}
	vmsig_win_modules_free(ms);
	return r;
}

int
vmsigctl_win_modules_main(const char *socket, int argc, char **argv)
{
	return win_main(socket, argc, argv, "modules", 1, do_modules);
}

static void
winfo_json(const struct vmsigctl_win *w, const struct vmsig_win_info *in)
{
	struct vmsig_win_offset off;
	unsigned int i;

	printf("{\"endpoint\":%" PRIu32 ",\"epoch\":%" PRIu32 ",\"build\":%"
	    PRIu32 ",\"build_raw\":\"0x%" PRIx32 "\",\"kcr3\":\"0x%" PRIx64
	    "\",\"kernel_base\":\"0x%" PRIx64 "\",\"kernel_size\":\"0x%" PRIx64
	    "\",\"system_eprocess\":\"0x%" PRIx64 "\",\"ps_active_process_"
	    "head\":\"0x%" PRIx64 "\",\"ps_loaded_module_list\":\"0x%" PRIx64
	    "\",\"offsets\":[", w->m.endpoint, w->m.epoch, in->build,
	    in->build_raw, in->kcr3, in->kernel_base, in->kernel_size,
	    in->system_eprocess, in->ps_active_process_head,
	    in->ps_loaded_module_list);
	for (i = 0; i < CTL_MAX_OFFSETS &&
	    vmsig_win_offset(w->win, i, &off) == 0; i++) {
		vmsigctl_win_json_item(i, "name");
		vmsigctl_json_strn(stdout, off.name);
		if (off.offset < 0)
			printf(",\"offset\":null");
		else
			printf(",\"offset\":\"0x%" PRIx32 "\"",
			    (uint32_t)off.offset);
		printf(",\"how\":");
		vmsigctl_json_strn(stdout, off.how);
		printf("}");
	}
	printf("\n]}\n");
}

static int
winfo_text(const struct vmsigctl_win *w, const struct vmsig_win_info *in)
{
	static const char *const head[] = { "FIELD", "OFFSET", "HOW" };
	struct vmsig_win_offset off;
	struct vmsigctl_table t;
	unsigned int i;

	printf("endpoint %" PRIu32 " epoch %" PRIu32 "\n"
	    "build                  %" PRIu32 " (NtBuildNumber 0x%" PRIx32 ")\n"
	    "kcr3                   0x%" PRIx64 "\n"
	    "kernel base            0x%" PRIx64 " (size 0x%" PRIx64 ")\n"
	    "System EPROCESS        0x%" PRIx64 "\n"
	    "PsActiveProcessHead    0x%" PRIx64 "\n"
	    "PsLoadedModuleList     0x%" PRIx64 "\n",
	    w->m.endpoint, w->m.epoch, in->build, in->build_raw, in->kcr3,
	    in->kernel_base, in->kernel_size, in->system_eprocess,
	    in->ps_active_process_head, in->ps_loaded_module_list);
	vmsigctl_table_init(&t, head, 3, 0x2);
	for (i = 0; i < CTL_MAX_OFFSETS &&
	    vmsig_win_offset(w->win, i, &off) == 0; i++) {
		vmsigctl_table_cell(&t, "%s", off.name != NULL ? off.name :
		    "?");
		if (off.offset < 0)
			vmsigctl_table_cell(&t, "-");
		else
			vmsigctl_table_cell(&t, "0x%" PRIx32,
			    (uint32_t)off.offset);
		vmsigctl_table_cell(&t, "%s", off.how != NULL ? off.how : "-");
	}
	return vmsigctl_table_print(stdout, &t);
}

static int
do_winfo(struct vmsigctl_win *w, uint32_t pid, int json)
{
	struct vmsig_win_info in;
	int r;

	(void)pid;		/* winfo takes no PID */
	if ((r = vmsig_win_info(w->win, &in)) < 0) {
		vmsigctl_warnx("winfo: endpoint %" PRIu32 ": %s", w->m.endpoint,
		    strerror(-r));
		return CTL_FAIL;
	}
	if (json) {
		winfo_json(w, &in);
		r = CTL_OK;
	} else
		r = winfo_text(w, &in);
	return r == CTL_OK ? vmsigctl_win_stdout_ok() : r;
}

int
vmsigctl_win_winfo_main(const char *socket, int argc, char **argv)
{
	return win_main(socket, argc, argv, "winfo", 0, do_winfo);
}
