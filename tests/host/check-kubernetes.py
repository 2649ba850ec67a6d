#!/usr/bin/python3
"""Check the Kubernetes manifests in DIR without a cluster: each document
parses (python3-yaml) and has what the API needs, and the DaemonSet really
does what deploy/kubernetes says: mktmectl daemon privileged on every node,
bpffs, the host's cgroupfs and securityfs mounted, its policy from the
ConfigMap mounted as a directory (no subPath: the kubelet never updates
one), and the ConfigMap's policy checks with mktmectl.

    check-kubernetes.py DIR [MKTMECTL]

Prints one line per problem and exits 1 if there is any."""
import os
import subprocess
import sys
import tempfile

import yaml

problems = []


def need(cond, what):
    if not cond:
        problems.append(what)
    return cond


def main():
    d = sys.argv[1]
    mktmectl = sys.argv[2] if len(sys.argv) > 2 else None
    docs = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(d, name)) as f:
            try:
                loaded = [x for x in yaml.safe_load_all(f) if x is not None]
            except yaml.YAMLError as e:
                need(False, "%s: not YAML: %s" % (name, e))
                continue
        for doc in loaded:
            if not need(isinstance(doc, dict), "%s: a document is not a mapping" % name):
                continue
            need(doc.get("apiVersion"), "%s: no apiVersion" % name)
            kind = doc.get("kind")
            need(kind, "%s: no kind" % name)
            if kind != "Kustomization":
                need((doc.get("metadata") or {}).get("name"), "%s: %s without metadata.name" % (name, kind))
            docs.setdefault(kind, []).append((name, doc))

    for name, k in docs.get("Kustomization", []):
        for r in k.get("resources", []):
            need(os.path.exists(os.path.join(d, r)), "%s: resource %s does not exist" % (name, r))

    ns = [doc["metadata"]["name"] for _, doc in docs.get("Namespace", [])]
    cms = {doc["metadata"]["name"]: doc for _, doc in docs.get("ConfigMap", [])}
    dss = docs.get("DaemonSet", [])
    if not need(len(dss) == 1, "want exactly one DaemonSet, found %d" % len(dss)):
        return
    name, ds = dss[0]
    need(ds["apiVersion"] == "apps/v1", "%s: DaemonSet apiVersion %s, not apps/v1" % (name, ds["apiVersion"]))
    need(ds["metadata"].get("namespace") in ns, "%s: namespace %s is not one of the manifests' %s"
         % (name, ds["metadata"].get("namespace"), ns))
    spec = ds.get("spec", {})
    tmpl = spec.get("template", {})
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    need(sel and all(labels.get(k) == v for k, v in sel.items()),
         "%s: selector %s does not match the pod labels %s" % (name, sel, labels))
    pod = tmpl.get("spec", {})
    need(any(t.get("operator") == "Exists" and "key" not in t for t in pod.get("tolerations", [])),
         "%s: no toleration for every taint (operator: Exists): not every node" % name)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    ctrs = pod.get("containers", [])
    if not need(len(ctrs) == 1, "%s: want one container" % name):
        return
    c = ctrs[0]
    need((c.get("securityContext") or {}).get("privileged") is True, "%s: the container is not privileged" % name)
    need(c.get("image"), "%s: no image" % name)
    argv = list(c.get("command", [])) + list(c.get("args", []))
    need(argv and os.path.basename(argv[0]) == "mktmectl", "%s: the command is not mktmectl: %s" % (name, argv))
    need("daemon" in argv, "%s: mktmectl is not run as daemon: %s" % (name, argv))
    policy = argv[argv.index("--policy") + 1] if "--policy" in argv[:-1] else None
    croot = argv[argv.index("--cgroup-root") + 1] if "--cgroup-root" in argv[:-1] else "/sys/fs/cgroup"
    need(policy, "%s: no --policy FILE" % name)
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}

    def host_mount(host, where):
        m = mounts.get(where)
        if not need(m, "%s: nothing mounted at %s (the host's %s)" % (name, where, host)):
            return
        v = volumes.get(m["name"], {})
        need((v.get("hostPath") or {}).get("path") == host,
             "%s: %s is not the host's %s: %s" % (name, where, host, v))
        need("subPath" not in m, "%s: %s mounted with subPath" % (name, where))

    host_mount("/sys/fs/bpf", "/sys/fs/bpf")
    need(not mounts.get("/sys/fs/bpf", {}).get("readOnly"), "%s: bpffs read-only: nothing can be pinned" % name)
    host_mount("/sys/fs/cgroup", croot)
    host_mount("/sys/kernel/security", "/sys/kernel/security")
    # One audit reader per ring buffer: the lock must be the host's too.
    host_mount("/run/mktme", "/run/mktme")
    if policy:
        m = mounts.get(os.path.dirname(policy))
        if need(m, "%s: nothing mounted at %s, the policy's directory" % (name, os.path.dirname(policy))):
            need("subPath" not in m, "%s: the policy is mounted with subPath: the kubelet never updates it" % name)
            cmname = (volumes.get(m["name"], {}).get("configMap") or {}).get("name")
            if need(cmname in cms, "%s: %s is not a ConfigMap of the manifests (%s)" % (name, cmname, list(cms))):
                cm = cms[cmname]
                need(cm["metadata"].get("namespace") == ds["metadata"].get("namespace"),
                     "ConfigMap %s is not in the DaemonSet's namespace" % cmname)
                text = (cm.get("data") or {}).get(os.path.basename(policy))
                if need(text, "ConfigMap %s has no key %s" % (cmname, os.path.basename(policy))) and mktmectl:
                    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                        f.write(text)
                        f.flush()
                        r = subprocess.run([mktmectl, "policy", "check", f.name],
                                           capture_output=True, text=True)
                        need(r.returncode == 0, "ConfigMap %s: the policy does not check: %s" % (cmname, r.stderr.strip()))


main()
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
