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
	{ "read", "ENDPOINT pa|va ADDR LEN [--cr3 HEX] [-o FILE | --json] "
	    "[--timeout S]",
	    "read guest memory: a hex dump, raw bytes or JSON",
	    vmsigctl_memread_read_main },
	{ "translate", "ENDPOINT ADDR [--cr3 HEX] [--json] [--timeout S]",
	    "translate a virtual address: gpa, page size, rights",
	    vmsigctl_memread_translate_main },
	{ "pmap", "ENDPOINT [--cr3 HEX] [--json] [--timeout S]",
	    "list the mapped runs of an address space",
	    vmsigctl_memmap_pmap_main },
	{ "scan", "ENDPOINT HEXPATTERN [--cr3 HEX | --physical] [--max N] "
	    "[--json] [--timeout S]",
	    "find a byte pattern (?? is any byte)", vmsigctl_memmap_scan_main },
	{ "write", "ENDPOINT pa|va ADDR HEXBYTES [--cr3 HEX] [--ttl MS]", "take the write lease, write guest RAM, release it", vmsigctl_write_main },
	{ "lease", "ENDPOINT [--ttl MS] [--hold SECONDS]", "take the write lease, optionally keep it renewed, release it", vmsigctl_lease_main },
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
		fprintf(f, "  %-7s %s\n          %s\n", cmds[i].name,
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

void
vmsigctl_json_str(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
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
