#!/bin/sh
# SPDX-License-Identifier: MIT
# Make every function a manual page documents reachable by its own name:
# for each page given, each name in its NAME section (.Nm) and each function
# of its SYNOPSIS (.Fn, .Fo) that has no page of its own becomes a symbolic
# link NAME.SECTION -> PAGE.SECTION next to the installed page.
#
#   dist/man-links.sh MANDIR man/*.3        (MANDIR: .../share/man)
#
# The first page that names a function wins, NAME sections before
# SYNOPSIS mentions.  Prints nothing; exits non-zero when MANDIR is missing.
#
# Runs in: build (make install-deploy)
set -eu
mandir=$1
shift
[ -d "$mandir" ] || { echo "man-links: $mandir is not a directory" >&2; exit 1; }
names() {	# page section-pattern
	awk -v want="$2" '
	    /^\.Sh /	{ sec = $2; next }
	    sec == "NAME" && want == "nm" && /^\.Nm /	{ print $2 }
	    sec == "SYNOPSIS" && want == "fn" && /^\.F[no] /	{ print $2 }' "$1"
}
link() {	# name section page
	dir=$mandir/man$2
	[ -e "$dir/$1.$2" ] || [ -L "$dir/$1.$2" ] && return 0
	ln -s "$3" "$dir/$1.$2"
}
for pass in nm fn; do
	for p in "$@"; do
		b=${p##*/}
		s=${b##*.}
		for n in $(names "$p" $pass); do
			case $n in *[!A-Za-z0-9_]*) continue ;; esac
			[ "$n.$s" = "$b" ] && continue
			link "$n" "$s" "$b"
		done
	done
done
