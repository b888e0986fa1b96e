/* SPDX-License-Identifier: MIT */
/*
 * Private to vmsigctl: the command table entry, and what vmsigctl.c lends
 * the command files (connecting with a message a person can act on, JSON
 * and number helpers).  One file per command family: vmsigctl_<family>.c
 * exports its vmsigctl_<family>_..._main entry points, and a family's
 * common-ground file also what the family's other files share (listed
 * below under each file).  The guest-memory family (read, translate, pmap,
 * scan) is split over three files that share vmsigctl_mem.c: attaching to
 * an endpoint's context and the options every memory command takes.  The
 * Windows family's vmsigctl_winpe.c shares vmsigctl_win.c: attaching to
 * the Windows context, the operands, and the --json listing layout.
 *
 * Runs in: holder
 */
#ifndef VMSIGCTL_H
#define VMSIGCTL_H

#include <stddef.h>
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
void vmsigctl_json_strn(FILE *f, const char *s);
void vmsigctl_text_str(FILE *f, const char *s, size_t width);
size_t vmsigctl_text_width(const char *s);
void vmsigctl_json_segs(FILE *f, const vmsig_memseg *segs, uint32_t nseg);
void vmsigctl_text_layout(FILE *f, const vmsig_memctx *mc,
    const vmsig_memseg *segs);
int vmsigctl_usage(const char *cmd);
int vmsigctl_bad(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* As vmsigctl_bad, for a failure found while parsing (an unknown endpoint
 * name): vmsigctl_usage() then prints only the message (fmt may be "" when
 * one was printed already) and returns CTL_FAIL. */
int vmsigctl_bad_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The daemon's socket, set before a command runs (endpoint names). */
extern const char *vmsigctl_socket;
int vmsigctl_bad_opt(int c, char **argv);
void vmsigctl_fail(struct vmsig_holder *h, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vmsigctl_endpoint_known(struct vmsig_holder *h, uint32_t endpoint);

/* vmsigctl_table.c: aligned text tables. */
#define CTL_TABLE_MAXCOL	16

struct vmsigctl_table {
	const char *const *head;	/* ncol column titles */
	size_t ncol;
	unsigned int right;	/* bit c: column c is right-aligned */
	char **cell;		/* row-major, n cells */
	size_t n, cap;
	int err;		/* sticky -ENOMEM */
};

void vmsigctl_table_init(struct vmsigctl_table *t, const char *const *head,
    size_t ncol, unsigned int right);
void vmsigctl_table_cell(struct vmsigctl_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vmsigctl_table_guest(struct vmsigctl_table *t, const char *prefix,
    const char *s);
int vmsigctl_table_print(FILE *f, struct vmsigctl_table *t);
void vmsigctl_table_free(struct vmsigctl_table *t);

/* vmsigctl_status.c */
int vmsigctl_status_main(const char *socket, int argc, char **argv);

/* vmsigctl_watch.c */
int vmsigctl_watch_main(const char *socket, int argc, char **argv);

/* vmsigctl_mem.c: the guest-memory commands' common ground. */
#define CTL_LEN_MAX	(64ull << 20)	/* largest read LEN */

/* Options a memory command accepts (the `allowed` mask of _opts). */
#define CTL_MO_CR3	0x01u
#define CTL_MO_JSON	0x02u
#define CTL_MO_OUT	0x04u
#define CTL_MO_PHYS	0x08u
#define CTL_MO_MAX	0x10u
#define CTL_MO_PID	0x20u

struct vmsigctl_memopt {
	uint64_t cr3;
	int has_cr3;
	uint32_t pid;		/* --pid: cr3 is that process's DTB */
	int has_pid;
	int json;
	int physical;
	int timeout_ms;		/* waiting for the context; default 5 s */
	uint64_t max;		/* scan hits; 0: no limit */
	const char *out;	/* -o FILE */
};

/* An endpoint's live context, as the tracker holds it. */
struct vmsigctl_mem {
	struct vmsig_holder *h;
	struct vmsig_mem *mem;	/* owned by h */
	uint32_t endpoint, epoch;
	uint64_t kcr3;
};

int vmsigctl_mem_opts(int argc, char **argv, unsigned int allowed,
    struct vmsigctl_memopt *o, int *ret_first);
int vmsigctl_mem_nargs(int have, int want, const char *names);
int vmsigctl_mem_addr(const char *s, uint64_t *ret);
int vmsigctl_mem_endpoint(const char *s, uint32_t *ret);
int vmsigctl_mem_attach(const char *socket, uint32_t endpoint,
    int timeout_ms, struct vmsigctl_mem *m);
void vmsigctl_mem_detach(struct vmsigctl_mem *m);
int vmsigctl_mem_cr3(const struct vmsigctl_mem *m,
    const struct vmsigctl_memopt *o, uint64_t *ret);
const char *vmsigctl_mem_rights(uint32_t flags, char *buf, size_t cap);
const char *vmsigctl_mem_pgsz(uint64_t page_size);

/* vmsigctl_memread.c */
int vmsigctl_memread_space(const char *s, int *ret_va);
int vmsigctl_memread_read_main(const char *socket, int argc, char **argv);
int vmsigctl_memread_translate_main(const char *socket, int argc,
    char **argv);

/* vmsigctl_memmap.c */
int vmsigctl_memmap_pmap_main(const char *socket, int argc, char **argv);
int vmsigctl_memmap_scan_main(const char *socket, int argc, char **argv);

/* vmsigctl_win.c: the Windows commands and their common ground. */
struct vmsig_win;
struct vmsigctl_win {
	struct vmsigctl_mem m;
	struct vmsig_win *win;
};

int vmsigctl_win_attach(const char *socket, uint32_t endpoint,
    int timeout_ms, struct vmsigctl_win *w);
void vmsigctl_win_detach(struct vmsigctl_win *w);
int vmsigctl_win_dtb(struct vmsigctl_win *w, uint32_t pid, uint64_t *ret);
int vmsigctl_win_pid_cr3(const struct vmsigctl_mem *m, uint32_t pid,
    uint64_t *ret);
int vmsigctl_win_parse_pid(const char *s, uint32_t *ret);
int vmsigctl_win_pid_arg(const char *s, uint32_t *ret);
void vmsigctl_win_listing_warn(const char *what, int status,
    uint64_t fault_va);
int vmsigctl_win_operands(int argc, char **argv, int nargs, const char *names,
    struct vmsigctl_memopt *o, uint32_t *ret_ep, uint32_t *ret_pid,
    int *ret_first);
int vmsigctl_win_stdout_ok(void);
void vmsigctl_win_json_item(size_t i, const char *key);
int vmsigctl_win_ps_main(const char *socket, int argc, char **argv);
int vmsigctl_win_modules_main(const char *socket, int argc, char **argv);
int vmsigctl_win_winfo_main(const char *socket, int argc, char **argv);

/* vmsigctl_winpe.c: PE images in guest memory. */
int vmsigctl_winpe_exports_main(const char *socket, int argc, char **argv);
int vmsigctl_winpe_sections_main(const char *socket, int argc, char **argv);
int vmsigctl_winpe_imports_main(const char *socket, int argc, char **argv);

/* vmsigctl_write.c */
int vmsigctl_write_main(const char *socket, int argc, char **argv);
int vmsigctl_lease_main(const char *socket, int argc, char **argv);

#endif
