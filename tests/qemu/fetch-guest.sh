#!/bin/sh
# SPDX-License-Identifier: MIT
# A real Linux guest for the real-guest tests and `make demo-qemu`: Debian's
# cloud kernel (downloaded with apt-get, unpacked with dpkg -x, never
# installed on this host) and a busybox initramfs whose /init mounts /proc,
# prints VMSIG_GUEST_MARKER on the console and waits; SIGTERM or SIGUSR1
# to init powers the guest off.
#
#   tests/qemu/fetch-guest.sh [DIR]      (DIR defaults to ${B:-build}/qemu)
#
# existing pair is reused.  Exit 0 when both are there, 77 (skip) when a
# tool is missing or the archive cannot be reached, 1 on other failures.
#
# Runs in: tests
set -eu
dir=${1:-${B:-build}/qemu}
marker=${VMSIG_GUEST_MARKER:-VMSIG-GUEST-READY}
skip() { echo "fetch-guest: skip: $*" >&2; exit 77; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.gz" ]; then
	exit 0
fi
for t in qemu-system-x86_64 cpio gzip dpkg apt-get apt-cache; do
	command -v "$t" >/dev/null 2>&1 ||
	    skip "$t is missing; run: VMSIG_DEPS_QEMU=1 scripts/install-deps.sh"
done
bb=/bin/busybox
[ -x "$bb" ] && file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
    skip "a static busybox is missing (package busybox-static)"

# The metapackage names the current ABI (linux-image-6.1.0-NN-cloud-amd64).
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' |
    head -n 1)
[ -n "$pkg" ] || skip "apt-cache does not know linux-image-cloud-amd64 (apt-get update?)"

work=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# -o APT::Sandbox::User=root: _apt cannot write into a build tree.
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg" \
    >/dev/null 2>&1) || skip "cannot download $pkg (no network to the archive?)"
dpkg -x "$work"/"$pkg"_*.deb "$work/root"
cp "$work"/root/boot/vmlinuz-* "$work/vmlinuz"

mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" \
    "$work/initrd/dev"
cp "$bb" "$work/initrd/bin/busybox"
cat >"$work/initrd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
trap 'poweroff -f' TERM USR1
echo "$marker \$(uname -r)"
while :; do sleep 1; done
INIT
chmod 755 "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet) | gzip -9 \
    >"$work/initrd.gz"
mv "$work/initrd.gz" "$dir/initrd.gz"
mv "$work/vmlinuz" "$dir/vmlinuz"
echo "fetch-guest: $pkg and a busybox initramfs in $dir"
