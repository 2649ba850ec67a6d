/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whose the pin directory is. Pins are what keeps enforcement in force, so
 * whoever can rename or replace them decides the policy: the directory and
 * every directory above it must be root's and writable by nobody else (an
 * ancestor writable by others only with the sticky bit, as bpffs's root,
 * mode 1777, is), and every pin root's, mode 0600. Checked before the
 * programs are attached and on every open of the pins.
 */
#ifndef MKTMECTL_PIN_DIR_H
#define MKTMECTL_PIN_DIR_H

#include <stddef.h>
#include <stdint.h>

#define PIN_GUARD_DIRS 4	/* MKTME_GUARD_DIRS in bpf/mktme_policy.bpf.c */

/* The directories the BPF programs guard: the pin directory first. */
struct pin_guard {
	uint32_t kdev;			/* the kernel's dev_t (MKDEV) of the bpffs */
	uint64_t ino[PIN_GUARD_DIRS];	/* pin dir, parent, ... below the bpffs root */
};

/*
 * 0, with @g filled if non-NULL; else a negative errno and @why says what is
 * wrong with which directory.
 */
int pin_dir_check(const char *dir, struct pin_guard *g, char *why, size_t len);

/* The pin @name in the directory @dir_fd: root's, mode 0600, not a link. */
int pin_check(int dir_fd, const char *name, char *why, size_t len);

#endif
