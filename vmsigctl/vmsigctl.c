/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl: look at a running vmsigd from the holder side.  main() takes
 * the global options (--socket), then hands the rest of the command line to
 * one entry of the command table (or prints its usage for `CMD --help`);
 * each command family lives in its own vmsigctl_<family>.c.  Also here:
 * the wording every command shares -- the rejected argument and why above
 * the usage, a refusal in the daemon's words once, an endpoint the daemon
 * does not know --, connecting with a message that says what to do when
 * the daemon is not there, and the small printing helpers the commands
 * share (JSON strings, hex segment lists).
 *
 * Runs in: holder
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsig/version.h>

#include "vmsigctl.h"

/* Every command needs an answer quickly or not at all. */
#define CTL_OPEN_MS	5000

static const struct vmsigctl_cmd cmds[] = {
	{ "status", "[--json]",
	    "endpoints, peers and counters of the daemon",
	    vmsigctl_status_main },
	{ "watch", "[--endpoint N]... [--count N] [--timeout SECONDS] [--json]",
	    "print events as they arrive", vmsigctl_watch_main },
	{ "read", "ENDPOINT pa|va ADDR LEN [--cr3 HEX | --pid PID] "
	    "[-o FILE | --json] [--timeout S]",
	    "read guest memory: a hex dump, raw bytes or JSON",
	    vmsigctl_memread_read_main },
	{ "translate", "ENDPOINT ADDR [--cr3 HEX | --pid PID] [--json] "
	    "[--timeout S]",
	    "translate a virtual address: gpa, page size, rights",
	    vmsigctl_memread_translate_main },
	{ "pmap", "ENDPOINT [--cr3 HEX | --pid PID] [--json] [--timeout S]",
	    "list the mapped runs of an address space",
	    vmsigctl_memmap_pmap_main },
	{ "scan", "ENDPOINT HEXPATTERN [--cr3 HEX | --pid PID | --physical] "
	    "[--max N] [--json] [--timeout S]",
	    "find a byte pattern (?? is any byte)", vmsigctl_memmap_scan_main },
	{ "write", "ENDPOINT pa|va ADDR HEXBYTES [--cr3 HEX | --pid PID] "
	    "[--ttl MS]", "take the write lease, write guest RAM, release it", vmsigctl_write_main },
	{ "lease", "ENDPOINT [--ttl MS] [--hold SECONDS]", "take the write lease, optionally keep it renewed, release it", vmsigctl_lease_main },
	{ "ps", "ENDPOINT [--json] [--timeout S]",
	    "the processes of a Windows guest", vmsigctl_win_ps_main },
	{ "modules", "ENDPOINT PID [--json] [--timeout S]",
	    "a process's modules (pid 4: the kernel's)",
	    vmsigctl_win_modules_main },
	{ "exports", "ENDPOINT PID MODULE [--json] [--timeout S]",
	    "the exports of a module (MODULE: name or 0xBASE)",
	    vmsigctl_winpe_exports_main },
	{ "sections", "ENDPOINT PID MODULE [--json] [--timeout S]",
	    "the section headers of a module", vmsigctl_winpe_sections_main },
	{ "imports", "ENDPOINT PID MODULE [--json] [--timeout S]",
	    "the imports of a module", vmsigctl_winpe_imports_main },
	{ "winfo", "ENDPOINT [--json] [--timeout S]",
	    "the Windows build, kernel and structure offsets found, for bug "
	    "reports", vmsigctl_win_winfo_main },
};

void
vmsigctl_warnx(const char *fmt, ...)
{
	va_list ap;

	(void)fflush(stdout);
	fprintf(stderr, "vmsigctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage_all(FILE *f)
{
	size_t i;

	fprintf(f, "usage: vmsigctl [--socket PATH] COMMAND [OPTIONS]\n"
	    "       vmsigctl --help | COMMAND --help\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n            %s\n", cmds[i].name,
		    cmds[i].usage, cmds[i].help);
	fprintf(f, "\nThe socket defaults to $VMSIG_SOCKET, else %s.\n",
	    VMSIG_HOLDER_SOCKET);
}

/* The first reason an argument was rejected, printed above the usage. */
static char ctl_bad[256];
/* ctl_bad is a failure found while parsing (an endpoint name vmsigd does
 * not know), not a usage error: no usage lines, exit CTL_FAIL. */
static int ctl_bad_fail;
const char *vmsigctl_socket;

/*
 * Note why an argument is rejected (only the first reason is kept: it is
 * the one the person typed first).  Returns -EINVAL, for `return
 * vmsigctl_bad(...)` in parsers.
 */
int
vmsigctl_bad(const char *fmt, ...)
{
	va_list ap;

	if (ctl_bad[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(ctl_bad, sizeof(ctl_bad), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int
vmsigctl_bad_fail(const char *fmt, ...)
{
	va_list ap;

	if (ctl_bad[0] == '\0' && !ctl_bad_fail) {
		va_start(ap, fmt);
		(void)vsnprintf(ctl_bad, sizeof(ctl_bad), fmt, ap);
		va_end(ap);
	}
	ctl_bad_fail = 1;
	return -EINVAL;
}

/*
 * getopt_long() returned '?' or ':' (the option strings start with ':' and
 * opterr is 0): name the option.  glibc leaves optopt 0 for an unknown long
 * option and sets it to the option's value for "--json=1"; optind is past
 * a long option's element.  Returns -EINVAL.
 */
int
vmsigctl_bad_opt(int c, char **argv)
{
	const char *el = optind > 0 ? argv[optind - 1] : "";
	int len;

	if (strncmp(el, "--", 2) != 0 || (c == '?' && optopt != 0 &&
	    strchr(el, '=') == NULL)) {
		if (c == ':')
			return vmsigctl_bad("option '-%c' needs a value", optopt);
		return vmsigctl_bad("unknown option '-%c'", optopt);
	}
	len = (int)strcspn(el, "=");
	if (c == ':')
		return vmsigctl_bad("option '%.*s' needs a value", len, el);
	if (optopt != 0)
		return vmsigctl_bad("option '%.*s' takes no value", len, el);
	return vmsigctl_bad("unknown option '%.*s'", len, el);
}

static const struct vmsigctl_cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/*
 * Print why the command line was rejected (vmsigctl_bad) and the
 * command's usage to stderr; returns the usage exit status.
 */
int
vmsigctl_usage(const char *cmd)
{
	const struct vmsigctl_cmd *c = cmd_find(cmd);

	(void)fflush(stdout);
	if (ctl_bad_fail) {
		if (ctl_bad[0] != '\0')
			fprintf(stderr, "vmsigctl: %s\n", ctl_bad);
		return CTL_FAIL;
	}
	if (ctl_bad[0] != '\0')
		fprintf(stderr, "vmsigctl: %s: %s\n", cmd, ctl_bad);
	if (c != NULL)
		fprintf(stderr, "usage: vmsigctl [--socket PATH] %s %s\n"
		    "       vmsigctl %s --help\n", cmd, c->usage, cmd);
	return CTL_USAGE;
}

/* `vmsigctl CMD --help`: the command's usage and purpose on stdout. */
static int
usage_cmd(const struct vmsigctl_cmd *c)
{
	printf("usage: vmsigctl [--socket PATH] %s %s\n\n%s.\n"
	    "See vmsigctl(1).\n", c->name, c->usage, c->help);
	return fflush(stdout) == 0 ? CTL_OK : CTL_FAIL;
}

/* Is --help (or -h) among a command's arguments, before any "--"? */
static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/*
 * A request failed: say what failed and why, once.  The daemon's message
 * (it names the operation and the object: "lease: endpoint 9 has no
 * context now; ...") replaces strerror; `what` is not repeated when the
 * message already starts with it.
 */
void
vmsigctl_fail(struct vmsig_holder *h, int r, const char *fmt, ...)
{
	const char *msg = h != NULL ? vmsig_holder_error(h) : "";
	char what[256];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (msg[0] == '\0')
		msg = r == -EPIPE ? "vmsigd closed the connection" :
		    r == -ETIMEDOUT ? "no answer from vmsigd in time" :
		    r == -EPROTO ? "vmsigd's answer breaks the protocol" :
		    strerror(-r);
	n = strlen(what);
	if (strncmp(msg, what, n) == 0 && msg[n] == ':')
		vmsigctl_warnx("%s", msg);
	else
		vmsigctl_warnx("%s: %s", what, msg);
}

/*
 * Does vmsigd know `endpoint` (a helper registered it)?  Asked before
 * waiting for its context, so that a mistyped endpoint is reported at once
 * instead of after --timeout.  CTL_OK, or CTL_FAIL after a message.
 */
int
vmsigctl_endpoint_known(struct vmsig_holder *h, uint32_t endpoint)
{
	struct vmsig_status *st;
	size_t i;
	int r;

	if ((r = vmsig_holder_status(h, -1, &st)) < 0) {
		vmsigctl_fail(h, r, "status");
		return CTL_FAIL;
	}
	for (i = 0; i < st->nendpoints; i++)
		if (st->endpoints[i].endpoint == endpoint)
			break;
	r = i < st->nendpoints ? CTL_OK : CTL_FAIL;
	vmsig_status_free(st);
	if (r != CTL_OK)
		vmsigctl_warnx("endpoint %" PRIu32 " is not known to vmsigd "
		    "(see vmsigctl status)", endpoint);
	return r;
}

int
vmsigctl_connect(const char *socket, struct vmsig_holder **ret_h)
{
	int r;

	r = vmsig_holder_open(socket, "vmsigctl", CTL_OPEN_MS, ret_h);
	if (r == 0)
		return CTL_OK;
	if (r == -ENOENT || r == -ECONNREFUSED)
		vmsigctl_warnx("cannot connect to %s: %s (is vmsigd running? "
		    "try --socket PATH)", socket, strerror(-r));
	else if (r == -EACCES)
		vmsigctl_warnx("cannot connect to %s: %s (is this user allowed "
		    "to use vmsigd?)", socket, strerror(-r));
	else if (r == -ETIMEDOUT)
		vmsigctl_warnx("%s: no answer from vmsigd within %d ms", socket,
		    CTL_OPEN_MS);
	else if (vmsig_holder_error(NULL)[0] != '\0')
		vmsigctl_warnx("%s: vmsigd refused this holder: %s", socket,
		    vmsig_holder_error(NULL));
	else
		vmsigctl_warnx("%s: %s", socket, strerror(-r));
	return CTL_FAIL;
}

/* Decimal or 0x-hex, at most max.  Returns 0 or -EINVAL. */
int
vmsigctl_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/*
 * Length of the UTF-8 sequence at p (1..4) and its code point, or 0 when
 * the bytes there are not well-formed UTF-8 (overlong forms, surrogates and
 * values past U+10FFFF included).  Guest strings reach us already decoded,
 * but a name such as ImageFileName is raw guest bytes: trust none.
 */
static size_t
utf8_seq(const unsigned char *p, uint32_t *ret_cp)
{
	uint32_t cp, min;
	size_t n, i;

	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	/* A NUL ends the loop here too: it is not a continuation byte. */
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

/*
 * A JSON string: quotes, backslashes and control characters escaped,
 * bytes that are not well-formed UTF-8 replaced by U+FFFD, so the output
 * parses whatever the guest put in the string.
 */
void
vmsigctl_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	fputc('"', f);
	while (*p != '\0') {
		n = utf8_seq(p, &cp);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (int)cp);
		else if (cp < 0x20 || cp == 0x7f)
			fprintf(f, "\\u%04x", (unsigned int)cp);
		else
			(void)fwrite(p, 1, n, f);
		p += n;
	}
	fputc('"', f);
}

/* A string or null. */
void
vmsigctl_json_strn(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("null", f);
	else
		vmsigctl_json_str(f, s);
}

/*
 * A guest string for a terminal, left-aligned in `width` columns (0: no
 * padding): C0 and C1 control characters and DEL (an escape sequence
 * could rewrite the screen) and bytes that are not UTF-8 become '?'.
 * NULL prints as "-".  Counts one column per code point.
 */
void
vmsigctl_text_str(FILE *f, const char *s, size_t width)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "-");
	size_t n, cols = 0;
	uint32_t cp;

	while (*p != '\0') {
		n = utf8_seq(p, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			fputc('?', f);
			p += n == 0 ? 1 : n;
		} else {
			(void)fwrite(p, 1, n, f);
			p += n;
		}
		cols++;
	}
	for (; cols < width; cols++)
		fputc(' ', f);
}

/* Columns vmsigctl_text_str() takes for s. */
size_t
vmsigctl_text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "-");
	size_t n, cols = 0;
	uint32_t cp;

	for (; *p != '\0'; p += n == 0 ? 1 : n, cols++)
		n = utf8_seq(p, &cp);
	return cols;
}

/* [["0xgpa","0xlen","0xfile_off"], ...] */
void
vmsigctl_json_segs(FILE *f, const vmsig_memseg *segs, uint32_t nseg)
{
	uint32_t i;

	fputc('[', f);
	for (i = 0; segs != NULL && i < nseg; i++)
		fprintf(f, "%s[\"0x%llx\",\"0x%llx\",\"0x%llx\"]",
		    i ? "," : "", (unsigned long long)segs[i].gpa,
		    (unsigned long long)segs[i].len,
		    (unsigned long long)segs[i].file_off);
	fputc(']', f);
}

/* "low 0x..." or "segs 0xgpa+0xlen@0xoff,..." */
void
vmsigctl_text_layout(FILE *f, const vmsig_memctx *mc,
    const vmsig_memseg *segs)
{
	uint32_t i;

	if (mc->nseg == 0 || segs == NULL) {
		fprintf(f, "low 0x%llx", (unsigned long long)mc->low);
		return;
	}
	fprintf(f, "segs ");
	for (i = 0; i < mc->nseg; i++)
		fprintf(f, "%s0x%llx+0x%llx@0x%llx", i ? "," : "",
		    (unsigned long long)segs[i].gpa,
		    (unsigned long long)segs[i].len,
		    (unsigned long long)segs[i].file_off);
}

static const char *
default_socket(void)
{
	const char *s = getenv("VMSIG_SOCKET");

	return s != NULL && *s != '\0' ? s : VMSIG_HOLDER_SOCKET;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = default_socket();
	const struct vmsigctl_cmd *cmd;
	int c;

	/* '+': stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket = optarg;
			break;
		case 'h':
			usage_all(stdout);
			return CTL_OK;
		case 'V':
			printf("vmsigctl %s\n", VMSIG_VERSION);
			return CTL_OK;
		default:
			usage_all(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage_all(stderr);
		return CTL_USAGE;
	}
	if ((cmd = cmd_find(argv[optind])) == NULL) {
		vmsigctl_warnx("unknown command '%s' (try --help)",
		    argv[optind]);
		return CTL_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (wants_help(argc, argv))
		return usage_cmd(cmd);
	optind = 0;	/* glibc: 0 re-initialises getopt */
	/* The commands name a rejected option themselves (vmsigctl_bad_opt). */
	opterr = 0;
	vmsigctl_socket = socket;	/* for endpoint names (vmsigctl_mem.c) */
	return cmd->run(socket, argc, argv);
}
