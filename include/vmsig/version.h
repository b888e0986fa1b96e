/* SPDX-License-Identifier: MIT */
/*
 * The version of vmsig, printed by every program's --version.  One string
 * for the daemons, vmsigctl and the library; it equals the package version
 * in debian/changelog.
 *
 * Runs in: any
 */
#ifndef VMSIG_VERSION_H
#define VMSIG_VERSION_H

/* "MAJOR.MINOR.PATCH", as in debian/changelog. */
#define VMSIG_VERSION	"0.1.0"

#endif
