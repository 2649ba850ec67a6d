// SPDX-License-Identifier: GPL-2.0
/* Notifications to the service manager: notify.h. */
#include "notify.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

/* The prototype from libsystemd's own header, so a mismatch does not build. */
static __typeof__(sd_notify) *sd_notify_fn;

int notify_init(char *err, size_t errlen)
{
	const char *e;
	void *lib;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;	/* no manager listens: sd_notify() would do nothing either */
	lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		e = dlerror();
		snprintf(err, errlen, "cannot load libsystemd.so.0 (package libsystemd0): %s", e ? e : "unknown error");
		return -1;
	}
	sd_notify_fn = (__typeof__(sd_notify) *)dlsym(lib, "sd_notify");
	if (!sd_notify_fn) {
		e = dlerror();
		snprintf(err, errlen, "libsystemd.so.0 has no sd_notify: %s", e ? e : "unknown error");
		return -1;
	}
	return 0;	/* the library stays loaded for the process's life */
}

void notify(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!sd_notify_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notify_fn(0, buf);
}
