#!/bin/bash
# Install whatever mktme needs from Debian 12's packages, and nothing else.
# Idempotent: packages already installed are left alone; prints what it installs.
# With no root or no package registry, says exactly what is missing and fails.
#
#   scripts/deps.sh           install what is missing
#   scripts/deps.sh --check   only list what is missing (exit 1 if anything is)
#
# MKTME_DEPS_EXTRA adds package names (the tests use it to name one that
# does not exist).
set -euo pipefail

CHECK=0
case "${1:-}" in
--check) CHECK=1 ;;
'') ;;
*) echo "usage: scripts/deps.sh [--check]" >&2; exit 2 ;;
esac

# One list, grouped by what needs it. Keep it sorted within a group.
PKGS=(
	# kernel build (Documentation/process/changes.rst for 6.12)
	bc bison build-essential cpio dwarves flex kmod libelf-dev libssl-dev
	linux-source-6.12 python3 rsync xz-utils ccache
	# guest
	qemu-system-x86
	# the TME-MK model: qemu-system-x86_64 built from Debian's qemu source
	# (tools/qemu/build.sh; the source itself is fetched there with apt-get
	# source, which needs dpkg-dev, below)
	libcap-ng-dev libfdt-dev libglib2.0-dev libpixman-1-dev meson ninja-build
	# BPF toolchain (DESIGN.md §3: clang, libbpf 1.1.2, bpftool 7.1)
	bpftool clang libbpf-dev llvm
	# userspace libraries and tests
	keyutils libcap-dev libclang-rt-14-dev libcriterion-dev libfyaml-dev libjson-c-dev
	libkeyutils-dev libsystemd-dev pkg-config
	# packaging (make install/deb/kernel-deb) and its tests: dpkg-dev for
	# dpkg-shlibdeps, debhelper for the kernel's bindeb-pkg (its generated
	# debian/control has Build-Depends: debhelper-compat (= 12):
	# scripts/package/mkdebian), Debian's own 6.12 kernel configuration, systemd-analyze,
	# python3-yaml for the Kubernetes manifests, strace for the daemon's
	# system calls (tests/guest/test_daemon.c)
	debhelper dpkg-dev linux-config-6.12 python3-yaml strace systemd
)
# shellcheck disable=SC2206
PKGS+=(${MKTME_DEPS_EXTRA:-})

missing=()
for p in "${PKGS[@]}"; do
	# dpkg-query prints "install ok installed" only for a fully installed package.
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ $CHECK -eq 1 ]; then
	echo "deps: missing: ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing from Debian: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root: cannot install. Run as root, or install by hand:" >&2
	echo "      apt-get install ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# An old or absent package list makes apt-get install fail for new names: refresh once.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
	if ! apt-get update -q; then
		echo "deps: cannot reach the Debian package registry; still missing: ${missing[*]}" >&2
		exit 1
	fi
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		echo "deps: apt-get could not install: ${missing[*]}" >&2
		exit 1
	fi
fi

still=()
for p in "${missing[@]}"; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
	echo "deps: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "deps: installed ${#missing[@]} package(s)"
