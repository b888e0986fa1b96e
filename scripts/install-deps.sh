#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages vmsig builds, tests and demonstrates with.
# As root it runs apt-get; otherwise it prints the command to run.
# VMSIG_DEPS_QEMU=1 adds what the real-guest tests need; VMSIG_DEPS_E2E=1
# what the end-to-end tests (tests/e2e/) and the Debian package need:
# libvirt (libvirtd and virtlogd, started by the test), the root file
# system and container of the systemd test, the packaging tools.
set -eu
need="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev
libseccomp-dev libcap-dev libjson-c-dev libcmocka-dev mandoc systemd
python3 python3-pytest"
[ "${VMSIG_DEPS_QEMU:-0}" = 1 ] && need="$need qemu-system-x86 busybox-static cpio python3"
[ "${VMSIG_DEPS_E2E:-0}" = 1 ] && need="$need qemu-system-x86 busybox-static cpio
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients acl mmdebstrap
systemd-container dpkg-dev debhelper dh-python python3 fakeroot lintian
util-linux"
missing=""
for p in $need; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "vmsig needs these Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
