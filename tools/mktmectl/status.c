// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl status: is anything protected, and how. Says plainly when it is
 * not: the emulated backend encrypts nothing, and BPF LSM programs attached
 * while bpf is not an active LSM never run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpfobj.h"
#include "json.h"
#include "main.h"
#include "names.h"
#include "owner.h"

/*
 * The program's tag (kernel/bpf/core.c, bpf_prog_calc_tag(): a SHA-1 of its
 * instructions, map references zeroed) as 16 hex digits, and its load time.
 * The tag tells builds apart: the same source and compiler give the same tag.
 */
static bool prog_tag(unsigned int id, char tag[17])
{
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ok;

	tag[0] = '\0';
	if (fd < 0)
		return false;
	memset(&pi, 0, sizeof(pi));
	ok = !bpf_obj_get_info_by_fd(fd, &pi, &len);
	close(fd);
	for (int i = 0; ok && i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
	return ok;
}

/* One line of a sysfs file, or NULL. */
static char *read_line(const char *dir, const char *name, char *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (!fgets(buf, len, f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int do_status(int argc, char **argv)
{
	char dir[512], backend[64] = "", encrypts[16] = "", nr[32] = "", used[32] = "", lsm[1024] = "";
	char names[N_PROGS][32], foreign[256] = "", tags[N_PROGS][17];
	char owner_who[512] = "", owner_file[1024] = "", override[512] = "";
	pid_t owner_pid = 0;
	int owned = 0, overridden = 0;
	uint64_t build = programs_build_id(), build_attached = 0;
	char hex[2][17], halfway[512] = "";
	size_t n_halfway = 0;
	unsigned int ids[N_PROGS], links[N_PROGS], in_kernel[64];
	size_t n_kernel = 0, n_foreign = 0;
	bool have_mktme, bpf_lsm = false, privileged = have_caps(NEED_SYS_ADMIN), loaded = false;
	int attached = -1, ret = EXIT_OK;
	struct pins p;
	struct compiled c;
	const struct mktme_pol_meta *meta = NULL;
	struct mktme_pol_stats st = { 0 };
	struct json_object *o = NULL;

	ret = opts_flags(argc, argv, NULL, 0, NULL);
	if (ret)
		return ret;
	snprintf(dir, sizeof(dir), "%s/kernel/mm/mktme", cli.sysfs);
	have_mktme = read_line(dir, "backend", backend, sizeof(backend)) != NULL;
	read_line(dir, "encrypts", encrypts, sizeof(encrypts));
	read_line(dir, "nr_keyids", nr, sizeof(nr));
	read_line(dir, "keyids_in_use", used, sizeof(used));
	snprintf(dir, sizeof(dir), "%s/kernel/security", cli.sysfs);
	if (read_line(dir, "lsm", lsm, sizeof(lsm))) {
		char copy[1024];

		snprintf(copy, sizeof(copy), "%s", lsm);
		for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
			bpf_lsm |= !strcmp(t, "bpf");
	}
	owned = owner_get(&owner_pid, owner_who, sizeof(owner_who), owner_file, sizeof(owner_file));
	overridden = owned > 0 ? owner_override_get(override, sizeof(override)) : 0;
	if (privileged) {
		attached = programs_attached(names, ids, links);
		build_attached = attached ? programs_attached_build() : 0;
		n_halfway = programs_halfway(halfway, sizeof(halfway));
		for (int i = 0; i < N_PROGS; i++)
			if (!ids[i] || !prog_tag(ids[i], tags[i]))
				tags[i][0] = '\0';
		/* Links of ours that no pin here accounts for: a second set. */
		if (!programs_in_kernel(in_kernel, 64, &n_kernel)) {
			for (size_t i = 0; i < n_kernel && i < 64; i++) {
				bool here = false;
				size_t off = strlen(foreign);

				for (int k = 0; k < N_PROGS; k++)
					here |= links[k] == in_kernel[i];
				if (here)
					continue;
				n_foreign++;
				snprintf(foreign + off, sizeof(foreign) - off, "%s%u", off ? ", " : "", in_kernel[i]);
			}
		}
		if (pins_open(&p, false) == 0) {
			if (policy_current(&p, &c) == 0) {
				loaded = true;
				meta = compiled_meta(&c);
			}
			stats_read(&p, &st);
			pins_close(&p);
		}
	}

	if (cli.json) {
		struct json_object *progs = json_object_new_array();

		o = json_object_new_object();
		json_object_object_add(o, "version", json_object_new_string(MKTME_VERSION));
		json_object_object_add(o, "mktme", json_object_new_boolean(have_mktme));
		json_object_object_add(o, "backend", have_mktme ? json_object_new_string(backend) : NULL);
		json_object_object_add(o, "encrypts", json_object_new_boolean(!strcmp(encrypts, "1")));
		json_object_object_add(o, "nr_keyids", have_mktme ? json_object_new_int64(atoll(nr)) : NULL);
		json_object_object_add(o, "keyids_in_use", have_mktme ? json_object_new_int64(atoll(used)) : NULL);
		json_object_object_add(o, "bpf_lsm_active", json_object_new_boolean(bpf_lsm));
		json_object_object_add(o, "lsm", json_object_new_string(lsm));
		for (int i = 0; privileged && i < N_PROGS; i++) {
			struct json_object *po = json_object_new_object();

			json_object_object_add(po, "name", json_object_new_string(prog_names[i]));
			json_object_object_add(po, "attached", json_object_new_boolean(ids[i] != 0));
			json_object_object_add(po, "prog_id", ids[i] ? json_object_new_int64(ids[i]) : NULL);
			json_object_object_add(po, "link_id", links[i] ? json_object_new_int64(links[i]) : NULL);
			json_object_object_add(po, "tag", tags[i][0] ? json_object_new_string(tags[i]) : NULL);
			json_object_array_add(progs, po);
		}
		json_object_object_add(o, "programs", privileged ? progs : NULL);
		snprintf(hex[0], sizeof(hex[0]), "%016llx", (unsigned long long)build);
		snprintf(hex[1], sizeof(hex[1]), "%016llx", (unsigned long long)build_attached);
		json_object_object_add(o, "build", json_object_new_string(hex[0]));
		json_object_object_add(o, "build_attached",
				       privileged && attached ? json_object_new_string(hex[1]) : NULL);
		json_object_object_add(o, "programs_complete",
				       privileged ? json_object_new_boolean(attached == N_PROGS || attached == 0) : NULL);
		json_object_object_add(o, "links_not_pinned_here",
				       privileged ? json_object_new_int64((int64_t)n_foreign) : NULL);
		json_object_object_add(o, "upgrade_unfinished",
				       privileged ? json_object_new_int64((int64_t)n_halfway) : NULL);
		if (!privileged)
			json_object_put(progs);
		json_object_object_add(o, "policy_loaded", privileged ? json_object_new_boolean(loaded) : NULL);
		json_object_object_add(o, "generation", meta ? json_object_new_int64(meta->generation) : NULL);
		json_object_object_add(o, "policy_without_metadata",
				       privileged ? json_object_new_boolean(loaded && !meta) : NULL);
		json_object_object_add(o, "mode", meta ? json_object_new_string(name_of(mode_names, meta->mode)) : NULL);
		json_object_object_add(o, "default", meta ? json_object_new_string(name_of(verdict_names, meta->dflt)) : NULL);
		json_object_object_add(o, "decisions", json_u64(st.decisions));
		json_object_object_add(o, "audit", meta ? json_object_new_string(name_of(audit_names, meta->audit)) : NULL);
		json_object_object_add(o, "denials", json_u64(st.denials));
		json_object_object_add(o, "denials_lost", json_u64(st.denials_lost));
		json_object_object_add(o, "denials_suppressed", json_u64(st.denials_suppressed));
		json_object_object_add(o, "allows_lost", json_u64(st.allows_lost));
		json_object_object_add(o, "keys_untracked", json_u64(st.keys_untracked));
		json_object_object_add(o, "daemon_pid", owned > 0 ? json_object_new_int64(owner_pid) : NULL);
		json_object_object_add(o, "daemon_policy", owned > 0 ? json_object_new_string(owner_file) : NULL);
		json_object_object_add(o, "daemon_overridden_by", overridden > 0 ? json_object_new_string(override) : NULL);
	} else {
		printf("mktmectl:  %s\n", MKTME_VERSION);
		if (!have_mktme)
			printf("mktme:     NOT AVAILABLE (no %s/kernel/mm/mktme: not an mktme kernel)\n", cli.sysfs);
		else if (!strcmp(backend, "off"))
			printf("mktme:     off (no keys, no /dev/mktme)\n");
		else
			printf("backend:   %s%s\n", backend,
			       !strcmp(encrypts, "1") ? ": memory is encrypted by the CPU (TME-MK)"
			       : !strcmp(backend, "hw") ? ": memory is NOT encrypted (TME-MK under a hypervisor is a model: keys are programmed into it, and whatever it does to the pages, the hypervisor holds the keys)"
			       : ": memory is NOT encrypted (emulated backend: KeyIDs are tracked and mapped, pages are plain DRAM, only out of the kernel's direct map)");
		if (have_mktme)
			printf("KeyIDs:    %s in use of %s\n", used[0] ? used : "?", nr[0] ? nr : "?");
		if (bpf_lsm)
			printf("BPF LSM:   active (%s)\n", lsm);
		else
			printf("BPF LSM:   NOT ACTIVE (%s): policy programs attach but NEVER RUN; boot with lsm=...,bpf\n",
			       lsm[0] ? lsm : "no securityfs");
		if (!privileged) {
			printf("programs:  unknown (reading them and the policy needs CAP_SYS_ADMIN)\n");
		} else {
			printf("programs:  %d of %d attached%s", attached, N_PROGS,
			       attached && attached < N_PROGS ? " (INCOMPLETE: enforcement cannot be trusted; load again to attach the rest)" : "");
			for (int i = 0; i < N_PROGS; i++)
				if (ids[i])
					printf("%s %s (id %u, tag %s)", i ? "," : ":", names[i], ids[i],
					       tags[i][0] ? tags[i] : "?");
			printf("\n");
			if (attached && build_attached == build)
				printf("build:     %016llx, this mktmectl's\n", (unsigned long long)build);
			else if (attached)
				printf("build:     %016llx attached, this mktmectl's is %016llx: policy load (or restarting the daemon) replaces them, keeping every map\n",
				       (unsigned long long)build_attached, (unsigned long long)build);
			if (n_halfway)
				printf("WARNING:   an upgrade stopped half-way: %s pinned beside the set (both builds decide on those hooks; policy load, or the daemon's start, finishes it)\n",
				       halfway);
			if (n_foreign > n_halfway)
				printf("WARNING:   %zu mktme program link(s) attached but not pinned under %s (link ids %s): a second set decides too\n",
				       n_foreign, cli.pin_dir, foreign);
			if (meta)
				printf("policy:    generation %u, mode %s%s, default %s, audit %s\n",
				       meta->generation, name_of(mode_names, meta->mode),
				       meta->mode == MKTME_MODE_AUDIT ? " (logs, never denies)" : "",
				       name_of(verdict_names, meta->dflt), name_of(audit_names, meta->audit));
			else if (loaded)
				/* The programs fail closed on it (bpf/mktme_policy.bpf.c). */
				printf("policy:    a generation WITHOUT its metadata (not one mktmectl makes): every decision denied; load a policy again\n");
			else
				printf("policy:    none loaded%s\n", attached > 0 ? " (everything allowed)" : "");
			if (owned > 0 && overridden > 0)
				printf("daemon:    %s owns the policy (%s) but STANDS BACK: overridden by %s, until its file changes or SIGHUP\n",
				       owner_who, owner_file, override);
			else if (owned > 0)
				printf("daemon:    %s keeps %s in force (policy load/unload by hand are refused)\n",
				       owner_who, owner_file);
			else
				printf("daemon:    none owns the policy\n");
			printf("decisions: %llu, of them denials: %llu\n", (unsigned long long)st.decisions,
			       (unsigned long long)st.denials);
			if (st.denials_lost)
				printf("WARNING:   %llu DENIAL RECORDS LOST (the denial ring buffer mktme_denials was full: no reader, or one too slow)\n",
				       (unsigned long long)st.denials_lost);
			if (st.denials_suppressed)
				printf("audit:     %llu denials not logged: over their cgroup's denial_records_per_second (counted in that cgroup's next record)\n",
				       (unsigned long long)st.denials_suppressed);
			if (st.allows_lost)
				printf("audit:     %llu allow records lost (mktme_events was full; audit: all)\n",
				       (unsigned long long)st.allows_lost);
		}
	}
	if (!bpf_lsm || !have_mktme)
		ret = EXIT_NO_LSM;
	else if (privileged && ((attached > 0 && attached < N_PROGS) || n_foreign))
		ret = EXIT_RUNTIME;	/* enforcement is not what the pins say */
	if (o) {
		json_object_object_add(o, "exit_code", json_object_new_int(ret));
		json_emit(o, stdout, cli.pretty);
	}
	if (!bpf_lsm)
		fprintf(stderr, "mktmectl status: BPF LSM is NOT active: nothing is enforced\n");
	if (loaded)
		compiled_free(&c);
	return ret;
}
