# SPDX-License-Identifier: MIT
# python/python.mk: the vmsig Python package (python/vmsig, ctypes over
# libvmsig-holder.so.0), included by the top Makefile.  Uses Debian's
# python3 (/usr/bin/python3 when present: a python3 earlier in PATH, such
# as pyenv's, may lack python3-pytest) and python3-pytest; nothing from PyPI.
#   check-python    pytest suite against the real daemons of $(B)
#   bench-python    Python read benchmarks with their baselines
#   install-python  the package into PREFIX/lib/python3/dist-packages

PYTHON		?= $(firstword $(wildcard /usr/bin/python3) python3)
PYTHONDIR	?= $(PREFIX)/lib/python3/dist-packages
PY_PKG_SRCS	= $(wildcard python/vmsig/*.py)
# What the tests and the benchmark run against: this build tree only.
PY_ENV		= VMSIG_BUILD_DIR=$(abspath $(B)) \
		  VMSIG_LIBRARY=$(abspath $(B))/libvmsig-holder.so.0
# A sanitizer build's library needs its runtime loaded first into python3.
PY_ENV		+= $(if $(findstring address,$(SAN)),\
		  LD_PRELOAD="$(shell $(CC) -print-file-name=libasan.so) \
		  $(shell $(CC) -print-file-name=libubsan.so)" \
		  ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0)

.PHONY: check-python bench-python install-python uninstall-python

# pytest exits 5 when it collected nothing: that is a failure here too.
check-python: $(LIBHOLDER_SO) $(PROGS) $(GUESTGEN)
	@$(PYTHON) -c 'import pytest' 2>/dev/null || { echo \
	    "check-python: $(PYTHON) has no pytest (apt-get install python3-pytest)"; \
	    exit 1; }
	@$(PY_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider tests/python; \
	rc=$$?; if [ $$rc -eq 5 ]; then \
	    echo "check-python: pytest collected no tests"; exit 1; fi; \
	exit $$rc

bench-python: $(LIBHOLDER_SO) $(PROGS) $(GUESTGEN)
	$(PY_ENV) $(PYTHON) python/bench/bench_py.py

install-python: $(PY_PKG_SRCS)
	install -d $(DESTDIR)$(PYTHONDIR)/vmsig
	install -m 644 $(PY_PKG_SRCS) $(DESTDIR)$(PYTHONDIR)/vmsig/

uninstall-python:
	rm -rf $(DESTDIR)$(PYTHONDIR)/vmsig
