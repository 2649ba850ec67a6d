# make install / make uninstall: mktmectl, its man page, bash completion, the
# systemd unit, the example policy (never over an existing one).
#
#   make install [DESTDIR=...] [PREFIX=/usr/local] [SYSCONFDIR=/etc] ...
#
# install needs a built mktmectl, not a kernel build: it depends on the binary
# alone. With the kernel already built here, the binary is brought up to date
# first (under the kernel tree's lock, as build-userspace does); kernel/build.sh
# never runs. Without it, a binary that is not built is an error that says so.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/mktme
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
# systemd reads /usr/local/lib/systemd/system as well as /lib and /usr/lib.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
STATEDIR ?= /var/lib/mktme

INSTALL ?= install

.PHONY: install uninstall install-files mktmectl-current

mktmectl-current:
ifneq ($(wildcard $(VMLINUX)),)
	@flock -n $(KDIR)/.lock true || echo "make: waiting for the kernel build in $(KDIR) to finish (its lock)"
	@flock $(KDIR)/.lock $(MAKE) -s --no-print-directory $(MKTMECTL)
else
	@test -x $(MKTMECTL) || { echo "make: $(MKTMECTL) is not built: run make first (mktmectl embeds BPF programs built against the kernel's BTF). Nothing was installed." >&2; exit 2; }
endif

install: mktmectl-current
	@$(MAKE) --no-print-directory install-files

# The files only, from what is built (build-deb calls this too).
install-files:
	@test -x $(MKTMECTL) || { echo "make: $(MKTMECTL) is not built. Nothing was installed." >&2; exit 2; }
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPLETIONDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/mktme
	$(INSTALL) -d -m 0700 $(DESTDIR)$(STATEDIR)
	$(INSTALL) -m 0755 $(MKTMECTL) $(DESTDIR)$(SBINDIR)/mktmectl
	$(INSTALL) -m 0644 tools/mktmectl/mktmectl.8 $(DESTDIR)$(MANDIR)/man8/mktmectl.8
	$(INSTALL) -m 0644 packaging/mktmectl.bash-completion $(DESTDIR)$(COMPLETIONDIR)/mktmectl
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		packaging/mktme.service.in >$(DESTDIR)$(UNITDIR)/mktme.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/mktme.service.tmp
	mv $(DESTDIR)$(UNITDIR)/mktme.service.tmp $(DESTDIR)$(UNITDIR)/mktme.service
	$(INSTALL) -m 0644 policy/REFERENCE.md $(DESTDIR)$(DOCDIR)/REFERENCE.md
	$(INSTALL) -m 0644 policy/examples/*.yaml $(DESTDIR)$(DOCDIR)/examples/
	@p=$(DESTDIR)$(SYSCONFDIR)/mktme/policy.yaml; \
	if [ -e "$$p" ] || [ -L "$$p" ]; then \
		echo "make: kept the existing $$p (the example is $(DOCDIR)/examples/policy.yaml)"; \
	else \
		$(INSTALL) -m 0644 packaging/policy.yaml "$$p"; \
	fi
	$(INSTALL) -m 0644 packaging/policy.yaml $(DESTDIR)$(DOCDIR)/examples/policy.yaml

# Takes away what install put there. The policy stays if it is not the
# example as shipped (it is the operator's), the state directory if it holds
# state. The programs and the policy in force stay pinned and enforced until
# `mktmectl policy unload --detach` or a reboot: run that first to remove them.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mktmectl $(DESTDIR)$(MANDIR)/man8/mktmectl.8 \
		$(DESTDIR)$(COMPLETIONDIR)/mktmectl $(DESTDIR)$(UNITDIR)/mktme.service
	rm -rf $(DESTDIR)$(DOCDIR)
	@p=$(DESTDIR)$(SYSCONFDIR)/mktme/policy.yaml; \
	if [ -e "$$p" ] && ! cmp -s packaging/policy.yaml "$$p"; then \
		echo "make: kept $$p: it is not the example as installed"; \
	else \
		rm -f "$$p"; rmdir $(DESTDIR)$(SYSCONFDIR)/mktme 2>/dev/null || true; \
	fi
	@rmdir $(DESTDIR)$(STATEDIR) 2>/dev/null || \
		{ [ ! -d $(DESTDIR)$(STATEDIR) ] || echo "make: kept $(DESTDIR)$(STATEDIR): it holds state"; }
