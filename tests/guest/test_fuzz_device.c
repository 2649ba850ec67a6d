// SPDX-License-Identifier: GPL-2.0
/*
 * A short, fixed-seed run of the device fuzzer (tests/fuzz/fuzz_device.c,
 * `make fuzz-kernel` is the long one) in `make test`: 2 processes (one as
 * uid 65534) of 2 threads for 20 s, then every /sys/kernel/mm/mktme counter
 * and MemFree back where they were. Its own checks (page contents, KeyIDs in
 * the PTEs, documented refusals) must all hold; its output is shown if not.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#define FUZZ_SECONDS	"20"
#define FUZZ_SEED	"1"

/* The settle below, times the factor, plus the run and the workers' grace. */
TestSuite(fuzz_device, .init = guest_settle, .timeout = GUEST_TIMEOUT(400));

Test(fuzz_device, a_short_run_keeps_every_promise_and_gives_everything_back)
{
	const char *bin = guest_build_path("fuzz/fuzz_device");
	char settle[16], cmd[4096], line[512];
	FILE *out;
	int status;

	cr_assert_eq(access(bin, X_OK), 0, "%s: %s (built with the userspace: mk/fuzz.mk)", bin,
		     strerror(errno));
	snprintf(settle, sizeof(settle), "%d", 60 * guest_timeout_factor());
	snprintf(cmd, sizeof(cmd), "%s --seed " FUZZ_SEED " --seconds " FUZZ_SECONDS
		 " --procs 2 --threads 2 --settle %s 2>&1", bin, settle);
	out = popen(cmd, "r");
	cr_assert_not_null(out, "popen %s: %s", cmd, strerror(errno));
	/* Everything on stderr: cr_log goes to the TAP file's log only on failure. */
	while (fgets(line, sizeof(line), out))
		fputs(line, stderr);
	status = pclose(out);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "fuzz_device --seed " FUZZ_SEED " failed (status %#x): its output is above", status);
}
