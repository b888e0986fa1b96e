# SPDX-License-Identifier: MIT
# vmsig: one non-recursive GNU make file.  Everything it builds goes to $(B).
# Each role's object list is the privilege boundary: vmsigd links proto/ and
# sandbox/, vmsig-memctx links proto/ and sandbox/, holders link proto/ only.

CC		?= cc
CFLAGS		?= -O2 -g
LDFLAGS		?=
PREFIX		?= /usr/local
DESTDIR		?=
B		?= build
# SAN=address,undefined builds everything with those sanitizers (.ci/run).
SAN		?=
PKG_CONFIG	?= pkg-config
PROTOC_C	?= protoc-c
MANDOC		?= mandoc

BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
INCDIR		?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
UNITDIR		?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR	?= $(PREFIX)/lib/tmpfiles.d

PKGS		= libprotobuf-c libseccomp libcap json-c
WARN		= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wmissing-prototypes \
		  -Wshadow -Werror
SANFLAGS	= $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer \
		  -fno-sanitize-recover=all)
ALL_CFLAGS	= $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -MMD -MP $(INC) \
		  -DVMSIG_BUILD_DIR='"$(abspath $(B))"' \
		  $(shell $(PKG_CONFIG) --cflags $(PKGS))
ALL_LDFLAGS	= $(LDFLAGS) $(SANFLAGS)
LIBS_PROTO	= $(shell $(PKG_CONFIG) --libs libprotobuf-c)
LIBS_SANDBOX	= $(shell $(PKG_CONFIG) --libs libseccomp libcap)
LIBS_JSON	= $(shell $(PKG_CONFIG) --libs json-c)
LIBS_TEST	= $(shell $(PKG_CONFIG) --libs cmocka) $(LIBS_JSON) \
		  $(LIBS_SANDBOX) $(LIBS_PROTO)

.DEFAULT_GOAL	:= all

obj = $(patsubst %.c,$(B)/%.o,$(1))

# --- generated protobuf-c code ---------------------------------------------
PB_C		= $(B)/proto/vmsig.pb-c.c
PB_H		= $(B)/proto/vmsig.pb-c.h
# One run of protoc-c makes both files: a grouped target (GNU make 4.3).
$(PB_C) $(PB_H) &: proto/vmsig.proto
	@mkdir -p $(@D)
	$(PROTOC_C) --proto_path=proto --c_out=$(B)/proto $<

# --- include paths: each role sees only its own headers ----------------------
# The public headers are everyone's; proto/ is below every role; sandbox/ is
# below both daemons; a role's private headers are its own.  A holder file
# that includes sandbox.h or a daemon's header does not compile.
INC_PROTO	= -Iinclude -I$(B)/proto -Iproto
$(B)/proto/%.o:		INC = $(INC_PROTO)
$(B)/sandbox/%.o:	INC = -Iinclude -Isandbox
$(B)/vmsigd/%.o:	INC = $(INC_PROTO) -Isandbox
$(B)/vmsig-memctx/%.o:	INC = $(INC_PROTO) -Isandbox
$(B)/vmsig-holder/%.o:	INC = $(INC_PROTO)
# vmsigctl is a holder like any other: the public API only.
$(B)/vmsigctl/%.o:	INC = -Iinclude
$(B)/tests/%.o:		INC = $(INC_PROTO) -Isandbox -DVMSIG_SRC_DIR='"$(CURDIR)"'

# --- libraries ---------------------------------------------------------------
PROTO_SRCS	= $(wildcard proto/*.c)
PROTO_OBJS	= $(call obj,$(PROTO_SRCS)) $(B)/proto/vmsig.pb-c.o
SANDBOX_SRCS	= $(wildcard sandbox/*.c)
SANDBOX_OBJS	= $(call obj,$(SANDBOX_SRCS))
HOLDER_SRCS	= $(wildcard vmsig-holder/*.c)
HOLDER_OBJS	= $(call obj,$(HOLDER_SRCS))
CTL_SRCS	= $(wildcard vmsigctl/*.c)
CORE_SRCS	= $(filter-out vmsigd/main.c,$(wildcard vmsigd/*.c))
MEMCTX_SRCS	= $(filter-out vmsig-memctx/main.c,$(wildcard vmsig-memctx/*.c))
TCOMMON_SRCS	= $(wildcard tests/common/*.c)

LIBPROTO	= $(B)/libvmsigproto.a
LIBSANDBOX	= $(B)/libvmsigsandbox.a
LIBHOLDER	= $(B)/libvmsig-holder.a
LIBHOLDER_SO	= $(B)/libvmsig-holder.so.0
LIBCORE		= $(B)/libvmsigd-core.a
LIBMEMCTX	= $(B)/libvmsig-memctx.a
LIBTCOMMON	= $(B)/libvmsigtest.a

$(LIBPROTO): $(PROTO_OBJS)
$(LIBSANDBOX): $(SANDBOX_OBJS)
# The holder library carries the framing code so holders link one library.
$(LIBHOLDER): $(HOLDER_OBJS) $(PROTO_OBJS)
$(LIBCORE): $(call obj,$(CORE_SRCS))
$(LIBMEMCTX): $(call obj,$(MEMCTX_SRCS))
$(LIBTCOMMON): $(call obj,$(TCOMMON_SRCS))
$(B)/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

# The shared library exports the public API and nothing else: its objects
# are compiled with hidden visibility (the public headers push default
# visibility), and the version script is the second fence.
$(B)/vmsig-holder/%.o $(B)/proto/%.o: VIS = -fvisibility=hidden
$(B)/proto/vmsig.pb-c.o: VIS = -fvisibility=hidden
$(LIBHOLDER_SO): $(HOLDER_OBJS) $(PROTO_OBJS) vmsig-holder/libvmsig-holder.map
	$(CC) -shared -Wl,-soname,libvmsig-holder.so.0 -Wl,--no-undefined \
	  -Wl,--version-script=vmsig-holder/libvmsig-holder.map $(ALL_LDFLAGS) \
	  -o $@ $(HOLDER_OBJS) $(PROTO_OBJS) $(LIBS_PROTO)

# --- programs ----------------------------------------------------------------
VMSIGD		= $(B)/sbin/vmsigd
MEMCTXD		= $(B)/sbin/vmsig-memctx
VMSIGCTL	= $(B)/bin/vmsigctl
GUESTGEN	= $(B)/guestgen
TADAPTER	= $(B)/tests/test-adapter
PROGS		= $(VMSIGD) $(MEMCTXD) $(VMSIGCTL)

$(VMSIGD): $(B)/vmsigd/main.o $(LIBCORE) $(LIBSANDBOX) $(LIBPROTO)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_SANDBOX) $(LIBS_PROTO)
$(MEMCTXD): $(B)/vmsig-memctx/main.o $(LIBMEMCTX) $(LIBSANDBOX) $(LIBPROTO)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_SANDBOX) $(LIBS_JSON) $(LIBS_PROTO)
$(VMSIGCTL): $(call obj,$(CTL_SRCS)) $(LIBHOLDER)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_PROTO)
$(GUESTGEN): $(call obj,$(wildcard tests/guestgen/*.c))
	$(CC) $(ALL_LDFLAGS) -o $@ $^
$(TADAPTER): $(call obj,$(wildcard tests/adapter/*.c)) $(LIBPROTO)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_PROTO)

# Every object waits for the generated header: any file may include it.
$(B)/%.o: %.c | $(PB_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(VIS) -c -o $@ $<
$(B)/proto/vmsig.pb-c.o: $(PB_C)
	$(CC) $(filter-out -Werror,$(ALL_CFLAGS)) $(VIS) -c -o $@ $<

# --- tests -------------------------------------------------------------------
# A unit test links the archives of every role; the archives only contribute
# the objects the test references.
TEST_ARCHIVES	= $(LIBTCOMMON) $(LIBMEMCTX) $(LIBCORE) $(LIBHOLDER) \
		  $(LIBSANDBOX) $(LIBPROTO)
UNIT_TESTS	= $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS	= $(patsubst tests/integ/%.c,$(B)/tests/integ/%,$(wildcard tests/integ/test_*.c))
INTEG_COMMON	= $(call obj,$(filter-out tests/integ/test_%,$(wildcard tests/integ/*.c)))
FUZZ_SRCS	= $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REGR	= $(patsubst tests/fuzz/%.c,$(B)/tests/fuzz/%,$(FUZZ_SRCS))
BENCHES		= $(patsubst tests/bench/%.c,$(B)/tests/bench/%,$(wildcard tests/bench/bench_*.c))
BENCH_COMMON	= $(call obj,$(filter-out tests/bench/bench_%,$(wildcard tests/bench/*.c)))

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(TEST_ARCHIVES)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_ARCHIVES) $(LIBS_TEST)
$(B)/tests/integ/%: $(B)/tests/integ/%.o $(INTEG_COMMON) $(TEST_ARCHIVES)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(INTEG_COMMON) $(TEST_ARCHIVES) $(LIBS_TEST)
# Fuzz targets build twice: here with a bounded random driver for `make check`,
# and with libFuzzer under `make fuzz`.
$(B)/tests/fuzz/%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/driver.o $(TEST_ARCHIVES)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/tests/fuzz/driver.o $(TEST_ARCHIVES) $(LIBS_TEST)
$(B)/tests/bench/%: $(B)/tests/bench/%.o $(BENCH_COMMON) $(TEST_ARCHIVES)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BENCH_COMMON) $(TEST_ARCHIVES) $(LIBS_TEST) -lm

TEST_PROGS	= $(PROGS) $(GUESTGEN) $(TADAPTER)

.PHONY: all check check-build unit integ fuzz-regress bench demo demo-qemu lint install \
	uninstall clean deps check-boundaries check-headers fuzz
all: $(PROGS) $(LIBHOLDER) $(LIBHOLDER_SO) $(GUESTGEN) $(TADAPTER)

deps:
	@scripts/install-deps.sh

# check and demo install what is missing first (the README's two commands
# work on a fresh Debian 12), then build in a second make that sees the
# installed pkg-config files.
# The cmocka summary comes last (it is the run's closing line); a red
# pytest or end-to-end run still fails the target.  The end-to-end tests
# (real libvirt, real systemd; each skips with a message when its tools
# are missing: VMSIG_DEPS_E2E=1 scripts/install-deps.sh) run in the plain
# build only: they install and start the daemons as a host would.
check: deps
	@$(MAKE) --no-print-directory check-build
	@rc=0; $(MAKE) --no-print-directory check-python || rc=1; \
	  $(if $(SAN),,$(MAKE) --no-print-directory check-e2e || rc=1;) \
	  scripts/run-tests.sh $(UNIT_TESTS) $(FUZZ_REGR) $(INTEG_TESTS) || rc=1; \
	  exit $$rc

check-build: all $(UNIT_TESTS) $(INTEG_TESTS) $(FUZZ_REGR) check-boundaries check-headers

unit: all $(UNIT_TESTS)
	@scripts/run-tests.sh $(UNIT_TESTS)
integ: all $(INTEG_TESTS)
	@scripts/run-tests.sh $(INTEG_TESTS)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done
	@echo "== python/bench/bench_py.py"
	@$(MAKE) --no-print-directory bench-python

demo: deps
	@$(MAKE) --no-print-directory all
	@B=$(B) scripts/demo.sh

demo-qemu:
	@VMSIG_DEPS_QEMU=1 scripts/install-deps.sh
	@$(MAKE) --no-print-directory all
	@B=$(B) scripts/demo-qemu.sh

FUZZ_CC		?= clang
fuzz: $(PB_H)
	@mkdir -p $(B)/fuzz
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "FUZZ $$n"; \
	  $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -g -O1 $(filter-out -Werror -MMD -MP,$(WARN)) \
	    -Iinclude -I$(B)/proto -Iproto -Isandbox -DVMSIG_BUILD_DIR='"$(abspath $(B))"' \
	    $(shell $(PKG_CONFIG) --cflags $(PKGS)) -o $(B)/fuzz/$$n \
	    $$f $(PROTO_SRCS) $(PB_C) $(SANDBOX_SRCS) $(HOLDER_SRCS) $(MEMCTX_SRCS) $(TCOMMON_SRCS) \
	    $(LIBS_TEST) || exit 1; done

MANPAGES	= $(wildcard man/*.[1-8])
lint: $(PB_H)
	$(MANDOC) -Tlint -Wwarning $(MANPAGES)
	@scripts/lint-units.sh

# Includes that cross the privilege boundary (see the header of this file).
check-boundaries: all
	@scripts/check-boundaries.sh $(B)

# Every public header compiles alone, as C11 and as C++17 (holders in C++).
PUB_HEADERS	= $(wildcard include/vmsig/*.h)
check-headers:
	@for h in $(PUB_HEADERS); do n=$${h#include/}; \
	  printf '#include <%s>\n' "$$n" | $(CC) -std=c11 -Wall -Wextra -Werror \
	    -Iinclude -fsyntax-only -x c - || exit 1; \
	  printf '#include <%s>\n' "$$n" | $(CXX) -std=c++17 -Wall -Wextra -Werror \
	    -Iinclude -fsyntax-only -x c++ - || exit 1; done; \
	  echo "headers: $(words $(PUB_HEADERS)) compile as C11 and C++17"

install: all install-python
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(INCDIR)/vmsig $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(PREFIX)/share/vmsig
	install -m 755 $(VMSIGD) $(MEMCTXD) $(DESTDIR)$(SBINDIR)/
	install -m 755 $(VMSIGCTL) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIBHOLDER) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBHOLDER_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libvmsig-holder.so.0 $(DESTDIR)$(LIBDIR)/libvmsig-holder.so
	install -m 644 include/vmsig/*.h $(DESTDIR)$(INCDIR)/vmsig/
	install -m 644 proto/vmsig.proto $(DESTDIR)$(PREFIX)/share/vmsig/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	  -e 's|@INCDIR@|$(INCDIR)|g' dist/libvmsig-holder.pc.in \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/libvmsig-holder.pc
	for m in $(MANPAGES); do s=$${m##*.}; \
	  install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	for u in dist/*.service dist/*.socket; do \
	  sed -e 's|/usr/sbin/|$(SBINDIR)/|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	install -m 644 dist/sysusers.d/vmsig.conf $(DESTDIR)$(SYSUSERSDIR)/vmsig.conf
	install -m 644 dist/tmpfiles.d/vmsig.conf $(DESTDIR)$(TMPFILESDIR)/vmsig.conf

uninstall: uninstall-python
	rm -f $(DESTDIR)$(SBINDIR)/vmsigd $(DESTDIR)$(SBINDIR)/vmsig-memctx \
	  $(DESTDIR)$(BINDIR)/vmsigctl $(DESTDIR)$(LIBDIR)/libvmsig-holder.* \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/libvmsig-holder.pc
	rm -rf $(DESTDIR)$(INCDIR)/vmsig $(DESTDIR)$(PREFIX)/share/vmsig
	rm -f $(DESTDIR)$(UNITDIR)/vmsigd.service $(DESTDIR)$(UNITDIR)/vmsigd.socket \
	  $(DESTDIR)$(UNITDIR)/vmsigd-adapter.socket $(DESTDIR)$(UNITDIR)/vmsig-memctx@.service \
	  $(DESTDIR)$(SYSUSERSDIR)/vmsig.conf $(DESTDIR)$(TMPFILESDIR)/vmsig.conf

clean:
	rm -rf $(B)

# The Python package (check-python, bench-python, install-python).
include python/python.mk
# Deployment: install-deploy (multiarch pkg-config, /etc/vmsig, the libvirt
# hook, man page links), deb, check-e2e (real libvirt, real systemd).
include dist/deploy.mk

# Objects of test programs are intermediates of a chain; keep them.
.SECONDARY:

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)
