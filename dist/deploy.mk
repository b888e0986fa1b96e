# SPDX-License-Identifier: MIT
# vmsig deployment: the parts of installing that the Makefile's install
# target leaves to this fragment, the Debian package and the end-to-end
# tests.  Included by the Makefile, or read next to it
# (make -f Makefile -f dist/deploy.mk ...); the guard makes both safe.
#
#   make install install-deploy PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu
#   make deb                    dpkg-buildpackage -us -uc -b, then lintian
#   make check-e2e              tests/e2e/*.sh (each skips with a message
#                               when its tools are missing)
#   make deps-e2e               install those tools (Debian 12, as root)
ifndef VMSIG_DEPLOY_MK
VMSIG_DEPLOY_MK	:= 1

# /etc for a system install (PREFIX=/usr), PREFIX/etc otherwise.
SYSCONFDIR	?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
LIBVIRTHOOKDIR	?= $(SYSCONFDIR)/libvirt/hooks/qemu.d
DEPLOY_LIBDIR	= $(or $(LIBDIR),$(PREFIX)/lib)
DEPLOY_INCDIR	= $(or $(INCDIR),$(PREFIX)/include)
DEPLOY_MANDIR	= $(or $(MANDIR),$(PREFIX)/share/man)
DEPLOY_SBINDIR	= $(or $(SBINDIR),$(PREFIX)/sbin)

.PHONY: install-deploy deb check-e2e check-e2e-libvirt check-e2e-systemd \
	deps-e2e

# After `install`: the pkg-config file with the real libdir (multiarch),
# the example policy, the libvirt hook, one man page link per function, and
# installed man pages naming installed paths.
install-deploy:
	install -d $(DESTDIR)$(DEPLOY_LIBDIR)/pkgconfig \
	  $(DESTDIR)$(SYSCONFDIR)/vmsig $(DESTDIR)$(LIBVIRTHOOKDIR) \
	  $(DESTDIR)$(DEPLOY_MANDIR)/man3
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(DEPLOY_LIBDIR)|g' \
	  -e 's|@INCDIR@|$(DEPLOY_INCDIR)|g' dist/libvmsig-holder.pc.in \
	  > $(DESTDIR)$(DEPLOY_LIBDIR)/pkgconfig/libvmsig-holder.pc
	install -m 644 dist/vmsigd.conf $(DESTDIR)$(SYSCONFDIR)/vmsig/vmsigd.conf
	sed -e 's|@SBINDIR@|$(DEPLOY_SBINDIR)|g' dist/libvirt/vmsig \
	  > $(DESTDIR)$(LIBVIRTHOOKDIR)/vmsig
	chmod 755 $(DESTDIR)$(LIBVIRTHOOKDIR)/vmsig
	for m in $(DESTDIR)$(DEPLOY_MANDIR)/man[1-8]/*; do \
	  [ -f "$$m" ] && [ ! -L "$$m" ] || continue; \
	  sed -i -e 's|/usr/local/|$(PREFIX)/|g' \
	    -e 's|/etc/vmsig/|$(SYSCONFDIR)/vmsig/|g' "$$m"; done
	dist/man-links.sh $(DESTDIR)$(DEPLOY_MANDIR) $(wildcard man/*.3)

# The Debian packages, into the parent directory as dpkg-buildpackage does.
deb:
	dpkg-buildpackage -us -uc -b
	lintian --fail-on error ../vmsig_*_$$(dpkg --print-architecture).changes

# End-to-end tests: real libvirt, real systemd.  Each script exits 77 when
# its tools are missing (scripts/install-deps.sh with VMSIG_DEPS_E2E=1).
E2E_TESTS	= tests/e2e/libvirt.sh tests/e2e/systemd.sh
check-e2e: all
	@rc=0; for t in $(E2E_TESTS); do echo "== $$t"; B=$(B) $$t; r=$$?; \
	  case $$r in 0) ;; 77) echo "$$t: skipped" ;; *) rc=1 ;; esac; done; \
	  exit $$rc
check-e2e-libvirt: all
	B=$(B) tests/e2e/libvirt.sh
check-e2e-systemd: all
	B=$(B) tests/e2e/systemd.sh
deps-e2e:
	@VMSIG_DEPS_QEMU=1 VMSIG_DEPS_E2E=1 scripts/install-deps.sh

endif
