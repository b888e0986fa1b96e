/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl: look at a running vmsigd from the holder side.  main() takes
 * the global options (--socket), then hands the rest of the command line to
 * one entry of the command table; each command family lives in its own
 * vmsigctl_<family>.c.  Also here: connecting with a message that says what
 * to do when the daemon is not there, and the small printing helpers the
 * commands share (JSON strings, hex segment lists).
 *
 * Runs in: holder
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	    "       vmsigctl --help\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n            %s\n", cmds[i].name,
		    cmds[i].usage, cmds[i].help);
	fprintf(f, "\nThe socket defaults to $VMSIG_SOCKET, else %s.\n",
	    VMSIG_HOLDER_SOCKET);
}

/* Print a command's usage to stderr; returns the usage exit status. */
int
vmsigctl_usage(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, cmd) == 0)
			fprintf(stderr, "usage: vmsigctl [--socket PATH] %s %s\n",
			    cmd, cmds[i].usage);
	return CTL_USAGE;
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
		vmsigctl_warnx("%s: vmsigd refused this holder: %s (%s)", socket,
		    vmsig_holder_error(NULL), strerror(-r));
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
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = default_socket();
	size_t i;
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
		default:
			usage_all(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage_all(stderr);
		return CTL_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, argv[optind]) != 0)
			continue;
		argc -= optind;
		argv += optind;
		optind = 0;	/* glibc: 0 re-initialises getopt */
		return cmds[i].run(socket, argc, argv);
	}
	vmsigctl_warnx("unknown command '%s' (try --help)", argv[optind]);
	return CTL_USAGE;
}
