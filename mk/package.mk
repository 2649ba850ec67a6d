# make deb: the userspace as a Debian package (packaging/build-deb), from the
# built mktmectl (see mktmectl-current in mk/install.mk: no kernel build).
# make kernel-deb: a kernel package for real machines (packaging/kernel-deb).
.PHONY: deb kernel-deb
deb: mktmectl-current
	@packaging/build-deb $(BUILD)/deb

kernel-deb: deps
	@packaging/kernel-deb build
