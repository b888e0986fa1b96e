/* SPDX-License-Identifier: MIT */
/*
 * A bounded stand-in for libFuzzer, linked with each tests/fuzz/fuzz_X.c
 * for `make check`: it runs the target's LLVMFuzzerTestOneInput on every
 * file named on the command line, then on a fixed number of seeded
 * pseudo-random inputs, each either fresh bytes or a mutation of the one
 * before (bit flips, byte stores, truncation, growth).  The same seed gives
 * the same inputs, so a failure here replays.  A target that crashes never
 * reaches the summary line, which is how the test runner counts it red.
 * Under `make fuzz` this file is left out and libFuzzer provides main().
 *
 * Optional hooks a target may define: LLVMFuzzerInitialize (as libFuzzer
 * calls it) and `const size_t driver_max_len` (default 64 KiB).
 * Environment: FUZZ_ITERS (default 2000), FUZZ_SEED (default 1).
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
extern const size_t driver_max_len __attribute__((weak));

#define DEFAULT_MAX	(64u << 10)
#define DEFAULT_ITERS	2000ul
#define FILE_MAX	(16u << 20)

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: small, fixed, good enough to spread inputs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned long
env_ul(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtoul(s, &end, 0);
	return errno != 0 || *end != '\0' ? def : v;
}

static int
run_file(const char *path, uint8_t *buf)
{
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (len < FILE_MAX &&
	    (n = read(fd, buf + len, FILE_MAX - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	(void)LLVMFuzzerTestOneInput(buf, len);
	return 0;
}

/* One mutation of buf[0..*len) in place, staying within max bytes. */
static void
mutate(uint8_t *buf, size_t *len, size_t max)
{
	size_t i, n = *len;

	switch (rng() % 5) {
	case 0:		/* fresh random bytes */
		n = (size_t)(rng() % (max + 1));
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)rng();
		break;
	case 1:		/* flip a few bits */
		for (i = 0; n > 0 && i < 1 + rng() % 8; i++)
			buf[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
		break;
	case 2:		/* store interesting bytes */
		for (i = 0; n > 0 && i < 1 + rng() % 4; i++)
			buf[rng() % n] = (uint8_t[]){ 0, 0xff, 0x7f, 0x80,
			    1 }[rng() % 5];
		break;
	case 3:		/* truncate */
		n = n > 0 ? (size_t)(rng() % n) : 0;
		break;
	default:	/* grow with random bytes */
		for (i = 0; n < max && i < 1 + rng() % 64; i++)
			buf[n++] = (uint8_t)rng();
		break;
	}
	*len = n;
}

int
main(int argc, char **argv)
{
	size_t max = &driver_max_len != NULL ? driver_max_len : DEFAULT_MAX;
	unsigned long iters = env_ul("FUZZ_ITERS", DEFAULT_ITERS), it;
	uint8_t *buf, *in;
	size_t len = 0;
	int i;

	if (LLVMFuzzerInitialize != NULL)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	rng_state = env_ul("FUZZ_SEED", 1) * 0x9e3779b97f4a7c15ull | 1;
	buf = malloc(max > FILE_MAX ? max : FILE_MAX);
	if (buf == NULL) {
		fprintf(stderr, "driver: out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++)
		if (run_file(argv[i], buf) < 0)
			return 1;
	for (it = 0; it < iters; it++) {
		mutate(buf, &len, max);
		/* A copy of exactly len bytes: ASan sees reads past the end. */
		if ((in = malloc(len > 0 ? len : 1)) == NULL)
			return 1;
		memcpy(in, buf, len);
		(void)LLVMFuzzerTestOneInput(in, len);
		free(in);
	}
	free(buf);
	printf("[==========] %lu input(s) run.\n", iters + (unsigned long)argc - 1);
	printf("[  PASSED  ] 1 test(s).\n");
	return 0;
}
