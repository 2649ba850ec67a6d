// SPDX-License-Identifier: GPL-2.0
/*
 * deploy/kubernetes without a cluster: the manifests parse and say what they
 * must (tests/host/check-kubernetes.py, python3-yaml), the ConfigMap's
 * policy checks with mktmectl, and the checker catches the mistakes that
 * would make the daemon useless on a node.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define CHECK "/usr/bin/python3 tests/host/check-kubernetes.py"

static void sh(struct run_result *r, const char *script)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };

	run_cmd(r, argv, NULL, (uid_t)-1);
}

Test(kubernetes, manifests_check)
{
	struct run_result r;

	sh(&r, CHECK " deploy/kubernetes build/mktmectl/mktmectl");
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	run_result_free(&r);
}

/* A copy of the manifests with @sed applied to FILE: the checker must say @what. */
static void broken(const char *file, const char *sed, const char *what)
{
	struct run_result r;
	char script[2048];

	snprintf(script, sizeof(script),
		 "d=$(mktemp -d) && cp deploy/kubernetes/*.yaml $d/ && sed -i -e '%s' $d/%s && "
		 "! cmp -s deploy/kubernetes/%s $d/%s || { echo 'the edit changed nothing' >&2; exit 99; }; "
		 CHECK " $d build/mktmectl/mktmectl; rc=$?; rm -rf $d; exit $rc",
		 sed, file, file, file);
	sh(&r, script);
	cr_assert_eq(r.status, 1, "exit %d for %s\n%s%s", r.status, sed, r.out, r.err);
	cr_assert(strstr(r.out, what), "no \"%s\" for %s:\n%s", what, sed, r.out);
	run_result_free(&r);
}

Test(kubernetes, checker_catches_what_breaks_a_node)
{
	broken("daemonset.yaml", "s|mountPath: /etc/mktme$|mountPath: /etc/mktme\\n              subPath: policy.yaml|",
	       "subPath");
	broken("daemonset.yaml", "s|privileged: true|privileged: false|", "not privileged");
	broken("daemonset.yaml", "s|path: /sys/fs/bpf|path: /tmp/bpf|", "not the host's /sys/fs/bpf");
	broken("daemonset.yaml", "s|- operator: Exists|- key: x\\n          operator: Exists|", "every taint");
	broken("daemonset.yaml", "s|name: mktme-policy|name: other-policy|", "not a ConfigMap");
	broken("configmap.yaml", "s|verdict: allow|verdict: maybe|", "does not check");
	broken("configmap.yaml", "s|  policy.yaml: [|]|  other.yaml: \\||", "no key policy.yaml");
	broken("daemonset.yaml", "s|^    spec:|    spec: [|", "not YAML");
}
