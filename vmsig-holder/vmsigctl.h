/* SPDX-License-Identifier: MIT */
/*
 * Private to vmsigctl: the command table entry, and what vmsigctl.c lends
 * the command files (connecting with a message a person can act on, JSON
 * and number helpers).  One file per command family: vmsigctl_<family>.c
 * exports vmsigctl_<family>_main and nothing else.
 *
 * Runs in: holder
 */
#ifndef VMSIGCTL_H
#define VMSIGCTL_H

#include <stdint.h>
#include <stdio.h>

#include <vmsig/holder.h>
#include <vmsig/memctx.h>

/* Exit status of every command: 0 done, 1 failed, 2 bad usage. */
#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	2

struct vmsigctl_cmd {
	const char *name;
	const char *usage;	/* options after the command name */
	const char *help;	/* one line */
	/* argv[0] is the command name; socket is the daemon's path. */
	int (*run)(const char *socket, int argc, char **argv);
};

/* vmsigctl.c */
int vmsigctl_connect(const char *socket, struct vmsig_holder **ret_h);
void vmsigctl_warnx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int vmsigctl_parse_u64(const char *s, uint64_t max, uint64_t *ret);
void vmsigctl_json_str(FILE *f, const char *s);
void vmsigctl_json_segs(FILE *f, const vmsig_memseg *segs, uint32_t nseg);
void vmsigctl_text_layout(FILE *f, const vmsig_memctx *mc,
    const vmsig_memseg *segs);
int vmsigctl_usage(const char *cmd);

/* vmsigctl_status.c */
int vmsigctl_status_main(const char *socket, int argc, char **argv);

/* vmsigctl_watch.c */
int vmsigctl_watch_main(const char *socket, int argc, char **argv);

#endif
