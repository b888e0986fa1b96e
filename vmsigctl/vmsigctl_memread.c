/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl read and translate: read guest memory by physical or virtual
 * address and print it as a hex dump, as JSON, or as raw bytes into a
 * file; translate one virtual address.  A read that faults still delivers
 * the bytes before the fault and names the first address it could not
 * read, saying why (not mapped, frame not RAM, not canonical), so a
 * script can tell a partial read from a failure to connect.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsig/mem.h>

#include "vmsigctl.h"

struct rd {
	int va;			/* 1: ADDR is virtual */
	uint64_t cr3;		/* va only */
	uint64_t addr;
	size_t len;
	size_t done;		/* bytes read before the fault */
	int err;		/* 0, or the read's -errno */
};

static const char hexd[] = "0123456789abcdef";

/* 16 bytes a line: address, two groups of eight, the printable ASCII. */
static void
hexdump(FILE *f, uint64_t base, const uint8_t *p, size_t n)
{
	char line[96];
	size_t off, i, k, w;

	for (off = 0; off < n; off += 16) {
		k = n - off < 16 ? n - off : 16;
		w = (size_t)snprintf(line, sizeof(line), "%016" PRIx64 " ",
		    base + off);
		for (i = 0; i < 16; i++) {
			if (i == 8)
				line[w++] = ' ';
			line[w++] = ' ';
			line[w++] = i < k ? hexd[p[off + i] >> 4] : ' ';
			line[w++] = i < k ? hexd[p[off + i] & 15] : ' ';
		}
		line[w++] = ' ';
		line[w++] = ' ';
		line[w++] = '|';
		for (i = 0; i < k; i++)
			line[w++] = p[off + i] >= 0x20 && p[off + i] < 0x7f ?
			    (char)p[off + i] : '.';
		line[w++] = '|';
		line[w++] = '\n';
		(void)fwrite(line, 1, w, f);
	}
}

static void
json_read(const struct vmsigctl_mem *m, const struct rd *rd,
    const uint8_t *p)
{
	size_t i;

	printf("{\"endpoint\":%" PRIu32 ",\"epoch\":%" PRIu32
	    ",\"space\":\"%s\"", m->endpoint, m->epoch, rd->va ? "va" : "pa");
	if (rd->va)
		printf(",\"cr3\":\"0x%" PRIx64 "\"", rd->cr3);
	printf(",\"addr\":\"0x%" PRIx64 "\",\"len\":\"0x%zx\",\"bytes\":\"",
	    rd->addr, rd->len);
	for (i = 0; i < rd->done; i++) {
		putchar(hexd[p[i] >> 4]);
		putchar(hexd[p[i] & 15]);
	}
	if (rd->err != 0)
		printf("\",\"fault\":\"0x%" PRIx64 "\"}\n", rd->addr + rd->done);
	else
		printf("\",\"fault\":null}\n");
}

/* A write error anywhere in the output (ferror is sticky) fails. */
static int
stdout_ok(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		vmsigctl_warnx("writing standard output: %s", strerror(errno));
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* The bytes read, raw, into `path` (created or truncated). */
static int
write_out(const char *path, const uint8_t *p, size_t n)
{
	ssize_t w;
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd == -1) {
		vmsigctl_warnx("read: %s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w == -1 ? errno : EIO;
			vmsigctl_warnx("read: writing %s: %s", path, strerror(r));
			(void)close(fd);
			return CTL_FAIL;
		}
		p += w;
		n -= (size_t)w;
	}
	if (close(fd) == -1) {
		vmsigctl_warnx("read: closing %s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* Why the byte at the fault could not be read, as a person wants it. */
static void
fault_warn(const struct vmsigctl_mem *m, const struct rd *rd)
{
	uint64_t at = rd->addr + rd->done;
	struct vmsig_xlat x;
	char why[80];
	int r;

	if (rd->err == -EINVAL)
		snprintf(why, sizeof(why), "not canonical");
	else if (rd->err != -EFAULT)
		snprintf(why, sizeof(why), "%s", strerror(-rd->err));
	else if (!rd->va)
		snprintf(why, sizeof(why), "not RAM");
	else if ((r = vmsig_mem_translate(m->mem, rd->cr3, at, &x)) == -EINVAL)
		snprintf(why, sizeof(why), "not canonical");
	else if (r < 0)
		snprintf(why, sizeof(why), "not mapped");
	else
		snprintf(why, sizeof(why), "its frame 0x%" PRIx64
		    " is not RAM", x.gpa);
	vmsigctl_warnx("read: fault at %s 0x%" PRIx64 ": %s (0x%zx of 0x%zx "
	    "bytes read)", rd->va ? "va" : "pa", at, why, rd->done, rd->len);
}

/* "pa" or "va" into *ret_va; else the reason. */
int
vmsigctl_memread_space(const char *s, int *ret_va)
{
	if (strcmp(s, "va") == 0 || strcmp(s, "pa") == 0) {
		*ret_va = s[0] == 'v';
		return 0;
	}
	return vmsigctl_bad("'%.64s': the address space is pa (guest-physical) "
	    "or va (virtual)", s);
}

/* ENDPOINT pa|va ADDR LEN into *rd and the endpoint. */
static int
read_operands(int argc, char **argv, uint32_t *ret_ep, struct rd *rd)
{
	uint64_t len;

	if (vmsigctl_mem_nargs(argc, 4, "ENDPOINT pa|va ADDR LEN") < 0 ||
	    vmsigctl_mem_endpoint(argv[0], ret_ep) < 0 ||
	    vmsigctl_memread_space(argv[1], &rd->va) < 0)
		return -EINVAL;
	if (vmsigctl_mem_addr(argv[2], &rd->addr) < 0)
		return vmsigctl_bad("ADDR '%.64s': not a hexadecimal address",
		    argv[2]);
	if (vmsigctl_parse_u64(argv[3], CTL_LEN_MAX, &len) < 0 || len == 0)
		return vmsigctl_bad("LEN '%.64s': not a length from 1 to 0x%llx "
		    "bytes (decimal or 0x-hex)", argv[3], CTL_LEN_MAX);
	rd->len = (size_t)len;
	return 0;
}

static int
do_read(struct vmsigctl_mem *m, const struct vmsigctl_memopt *o,
    struct rd *rd)
{
	uint8_t *buf;
	int r;

	if (rd->va && vmsigctl_mem_cr3(m, o, &rd->cr3) != CTL_OK)
		return CTL_FAIL;
	if ((buf = malloc(rd->len)) == NULL) {
		vmsigctl_warnx("read: 0x%zx bytes: %s", rd->len,
		    strerror(ENOMEM));
		return CTL_FAIL;
	}
	if (rd->va)
		rd->err = vmsig_mem_read_va(m->mem, rd->cr3, rd->addr, buf,
		    rd->len, &rd->done);
	else
		rd->err = vmsig_mem_read_pa(m->mem, rd->addr, buf, rd->len,
		    &rd->done);
	if (o->out != NULL)
		r = write_out(o->out, buf, rd->done);
	else {
		if (o->json)
			json_read(m, rd, buf);
		else
			hexdump(stdout, rd->addr, buf, rd->done);
		r = stdout_ok();
	}
	free(buf);
	if (rd->err != 0) {
		fault_warn(m, rd);
		return CTL_FAIL;
	}
	return r;
}

int
vmsigctl_memread_read_main(const char *socket, int argc, char **argv)
{
	struct vmsigctl_memopt o;
	struct vmsigctl_mem m;
	struct rd rd;
	uint32_t ep;
	int first, r;

	memset(&rd, 0, sizeof(rd));
	if (vmsigctl_mem_opts(argc, argv, CTL_MO_CR3 | CTL_MO_PID |
	    CTL_MO_JSON | CTL_MO_OUT, &o, &first) < 0 ||
	    read_operands(argc - first, argv + first, &ep, &rd) < 0 ||
	    ((o.has_cr3 || o.has_pid) && !rd.va && vmsigctl_bad("--cr3 and "
	    "--pid name an address space: they go with va, not pa") < 0))
		return vmsigctl_usage("read");
	if ((r = vmsigctl_mem_attach(socket, ep, o.timeout_ms, &m)) != CTL_OK)
		return r;
	r = do_read(&m, &o, &rd);
	vmsigctl_mem_detach(&m);
	return r;
}

static void
print_xlat(const struct vmsigctl_mem *m, int json, uint64_t cr3,
    uint64_t va, const struct vmsig_xlat *x)
{
	char rights[16];

	vmsigctl_mem_rights(x->flags, rights, sizeof(rights));
	if (json)
		printf("{\"endpoint\":%" PRIu32 ",\"epoch\":%" PRIu32
		    ",\"cr3\":\"0x%" PRIx64 "\",\"va\":\"0x%" PRIx64
		    "\",\"gpa\":\"0x%" PRIx64 "\",\"page_size\":\"0x%" PRIx64
		    "\",\"flags\":%" PRIu32 ",\"rights\":\"%s\"}\n",
		    m->endpoint, m->epoch, cr3, va, x->gpa, x->page_size,
		    x->flags, rights);
	else
		printf("va 0x%" PRIx64 " gpa 0x%" PRIx64 " page %s flags %s\n",
		    va, x->gpa, vmsigctl_mem_pgsz(x->page_size), rights);
}

static int
do_translate(struct vmsigctl_mem *m, const struct vmsigctl_memopt *o,
    uint64_t va)
{
	struct vmsig_xlat x;
	uint64_t cr3;
	int r;

	if (vmsigctl_mem_cr3(m, o, &cr3) != CTL_OK)
		return CTL_FAIL;
	r = vmsig_mem_translate(m->mem, cr3, va, &x);
	if (r == -EFAULT) {
		vmsigctl_warnx("translate: va 0x%" PRIx64 " is not mapped "
		    "under cr3 0x%" PRIx64, va, cr3);
		return CTL_FAIL;
	}
	if (r < 0) {
		vmsigctl_warnx("translate: va 0x%" PRIx64 ": %s", va,
		    r == -EINVAL ? "not canonical" : strerror(-r));
		return CTL_FAIL;
	}
	print_xlat(m, o->json, cr3, va, &x);
	return stdout_ok();
}

int
vmsigctl_memread_translate_main(const char *socket, int argc, char **argv)
{
	struct vmsigctl_memopt o;
	struct vmsigctl_mem m;
	uint64_t va;
	uint32_t ep;
	int first, r;

	if (vmsigctl_mem_opts(argc, argv, CTL_MO_CR3 | CTL_MO_PID |
	    CTL_MO_JSON, &o, &first) < 0 ||
	    vmsigctl_mem_nargs(argc - first, 2, "ENDPOINT ADDR") < 0 ||
	    vmsigctl_mem_endpoint(argv[first], &ep) < 0)
		return vmsigctl_usage("translate");
	if (vmsigctl_mem_addr(argv[first + 1], &va) < 0) {
		(void)vmsigctl_bad("ADDR '%.64s': not a hexadecimal address",
		    argv[first + 1]);
		return vmsigctl_usage("translate");
	}
	if ((r = vmsigctl_mem_attach(socket, ep, o.timeout_ms, &m)) != CTL_OK)
		return r;
	r = do_translate(&m, &o, va);
	vmsigctl_mem_detach(&m);
	return r;
}
