// SPDX-License-Identifier: GPL-2.0
/*
 * make demo, checked: tools/demo/guest.sh runs in a boot of its own, as
 * `make demo` runs it, and shows every case it claims to, with its tenants as
 * real tenants are (issue 10, "Done when"): each its own uid, no capabilities.
 *
 * The demo already fails (exit 1) when a case it expects to be denied is
 * allowed or the other way round; this test also checks that each decision
 * was made by the policy for the tenant it names (the audit stream's uid,
 * cgroup, key and verdict), so that a demo whose tenant quietly ran as root,
 * or was refused by something other than the policy, fails here.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define CG_TENANTS "/sys/fs/cgroup/tenants"

static char *out;

static bool matches(const char *text, const char *pattern)
{
	regex_t re;
	int rc;

	cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0,
		     "bad pattern %s", pattern);
	rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	return rc == 0;
}

#define EXPECT(pattern, what)                                                           \
	cr_expect(matches(out, pattern), "the demo's output does not show %s (/%s/)", what, \
		  pattern)

static void cleanup(void)
{
	/* The demo leaves its policy attached and its tenants' cgroups, as a
	 * demo should; nothing else runs in this boot, but leave it clean. */
	guest_sh(NULL, "%s policy unload --detach >&2", guest_ctl());
	guest_sh(NULL, "rmdir " CG_TENANTS "/a " CG_TENANTS "/b " CG_TENANTS " >&2");
	free(out);
}

TestSuite(demo, .fini = cleanup, .timeout = GUEST_TIMEOUT(600));

Test(demo, shows_every_case_with_unprivileged_tenants)
{
	int rc = guest_sh_all(&out, "cd %s && tools/demo/guest.sh", guest_src_path("."));

	cr_assert_eq(rc, 0, "tools/demo/guest.sh: exit %d", rc);

	/* Who the tenants are: their own uids, no capability at all. */
	EXPECT("tenant a: uid 10001, gid 10001, CapEff:0{16}$", "tenant a as uid 10001 without capabilities");
	EXPECT("tenant b: uid 10002, gid 10002, CapEff:0{16}$", "tenant b as uid 10002 without capabilities");

	/* The allowed path, with the KeyID read back from the page tables. */
	EXPECT("key \"tenant-a\" \\(serial [0-9]+, KeyID [1-9][0-9]*\\): 4 pages mapped, written and read back",
	       "tenant a's 4 pages mapped with a nonzero KeyID");
	EXPECT("page 3 at 0x[0-9a-f]+: (4K|2M) PTE, KeyID [1-9][0-9]*$", "the KeyID in the last page's PTE");

	/* The denied cases, refused where the demo says. */
	EXPECT("bind key \"#[0-9]+\" \\(serial [0-9]+\\): Operation not permitted",
	       "tenant a refused tenant b's shared key at bind");
	EXPECT("key \"tenant-c\": denied", "tenant a refused a key it has no rule for");
	EXPECT("key \"tenant-b\": denied", "tenant a refused a key named after tenant b's");

	/* The audit stream: each decision, for the tenant who asked. */
	EXPECT("allow create +pid [0-9]+ \\([^)]*\\) uid 10002 cgroup /tenants/b key \"tenant-b\"",
	       "tenant b's create allowed, as uid 10002");
	EXPECT("allow create +pid [0-9]+ \\([^)]*\\) uid 10001 cgroup /tenants/a key \"tenant-a\"",
	       "tenant a's create allowed, as uid 10001");
	EXPECT("allow bind +pid [0-9]+ \\([^)]*\\) uid 10001 cgroup /tenants/a key \"tenant-a\"",
	       "tenant a's bind allowed");
	EXPECT("allow mmap +pid [0-9]+ \\([^)]*\\) uid 10001 cgroup /tenants/a key \"tenant-a\"",
	       "tenant a's mmap allowed");
	EXPECT("DENY +bind +pid [0-9]+ \\([^)]*\\) uid 10001 cgroup /tenants/a key \"tenant-b\"",
	       "tenant a's bind of tenant b's key denied by the policy");
	EXPECT("DENY +create +pid [0-9]+ \\([^)]*\\) uid 10001 cgroup /tenants/a key \"tenant-c\"",
	       "tenant a's create of tenant-c denied by the policy");
	EXPECT("DENY +create +pid [0-9]+ \\([^)]*\\) uid 10001 cgroup /tenants/a key \"tenant-b\"",
	       "tenant a's create of its own tenant-b denied by the policy");
	EXPECT("\"hook\": *\"bind\", *\"verdict\": *\"deny\", *\"enforced\": *true.*\"uid\": *10001.*"
	       "\"cgroup\": *\"/tenants/a\", *\"key\": *\"tenant-b\"",
	       "the JSON record of the last denial");

	/* What the demo must say about the backend. */
	EXPECT("the encryption is not\\.", "the reminder that the emulated backend does not encrypt");
}
