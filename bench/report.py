#!/usr/bin/env python3
"""make bench, the host side: medians, min-max and ratios from the guest's raw
samples (bench/mktme_bench.c). Writes OUT/results.json, OUT/results.md and
OUT/chart.gp (gnuplot: OUT/chart.svg, OUT/chart.png)."""
import json
import statistics
import sys

raw = json.load(open(sys.argv[1]))
out = sys.argv[2]
size = raw["size_bytes"]
pages = size // 4096
mib = size / (1 << 20)


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


variants = {}
for name, v in raw["variants"].items():
    variants[name] = {
        "fault_us_per_4k": stats([x / pages for x in v["fault_us"]]),
        "fault_us_per_mib": stats([x / mib for x in v["fault_us"]]),
        "teardown_us_per_mib": stats([x / mib for x in v["teardown_us"]]),
    }


def med(name, metric):
    return variants[name][metric]["median"]


ratios = {
    # issue 8's targets: <= 1.0, >= 2.0, <= 1.5
    "mktme-4k / memfd_secret, fault-in per 4 KiB page": med("mktme-4k", "fault_us_per_4k") / med("memfd_secret", "fault_us_per_4k"),
    "memfd_secret / mktme-2m, fault-in per byte": med("memfd_secret", "fault_us_per_mib") / med("mktme-2m", "fault_us_per_mib"),
    "mktme-2m / anon-thp, fault-in per byte": med("mktme-2m", "fault_us_per_mib") / med("anon-thp", "fault_us_per_mib"),
    "mktme-4k / anon-4k, fault-in per 4 KiB page": med("mktme-4k", "fault_us_per_4k") / med("anon-4k", "fault_us_per_4k"),
    "mktme-4k / memfd_secret, munmap+close per byte": med("mktme-4k", "teardown_us_per_mib") / med("memfd_secret", "teardown_us_per_mib"),
    "mktme-2m / anon-thp, munmap+close per byte": med("mktme-2m", "teardown_us_per_mib") / med("anon-thp", "teardown_us_per_mib"),
}
targets = {
    "mktme-4k / memfd_secret, fault-in per 4 KiB page": ("<=", 1.0),
    "memfd_secret / mktme-2m, fault-in per byte": (">=", 2.0),
    "mktme-2m / anon-thp, fault-in per byte": ("<=", 1.5),
}

direct = {}
for name in ("memfd_secret", "mktme-4k", "mktme-2m"):
    rows = [r for r in raw["direct_map"] if r["variant"] == name]
    first = [r for r in rows if r["round"] == 0]
    steady = [r for r in rows if r["round"] > 0]
    direct[name] = {
        # Splits happen when memory is first used: round 0 (not timed).
        "level2_splits_per_gib_first_use": first[0]["level2_splits"] * (1 << 30) / size,
        "level2_splits_per_gib": statistics.median(r["level2_splits"] for r in steady) * (1 << 30) / size,
        # Growth while this variant's memory was mapped, worst round: the
        # other variants run in between and move DirectMap4k on their own.
        "directmap4k_kb_growth_max": max(r["directmap4k_kb_during"] - r["directmap4k_kb_before"] for r in rows),
        "directmap4k_kb_growth_first_use": first[0]["directmap4k_kb_during"] - first[0]["directmap4k_kb_before"],
    }

numa = [dict(r, fraction_on_node=r["pages_on_node"] / r["pages"]) for r in raw["numa"]]

result = {"kernel": raw["kernel"], "rounds": raw["rounds"], "size_bytes": size,
          "variants": variants, "ratios": ratios, "direct_map": direct, "numa": numa}
json.dump(result, open(out + "/results.json", "w"), indent=2)

md = []
md.append("| variant | fault-in µs per 4 KiB page | fault-in µs per MiB | munmap+close µs per MiB |")
md.append("| --- | --- | --- | --- |")
for name, v in variants.items():
    cells = ["%.1f (%.1f–%.1f)" % (v[m]["median"], v[m]["min"], v[m]["max"])
             for m in ("fault_us_per_4k", "fault_us_per_mib", "teardown_us_per_mib")]
    md.append("| %s | %s |" % (name, " | ".join(cells)))
md.append("")
md.append("| ratio (medians) | measured | target |")
md.append("| --- | --- | --- |")
for k, r in ratios.items():
    t = targets.get(k)
    if t:
        ok = r <= t[1] if t[0] == "<=" else r >= t[1]
        md.append("| %s | %.2f | %s %.1f: %s |" % (k, r, t[0], t[1], "met" if ok else "NOT met"))
    else:
        md.append("| %s | %.2f | – |" % (k, r))
md.append("")
dm_all = raw["direct_map"]
md.append("| direct map | level-2 splits per GiB mapped: first use, then | DirectMap4k growth while mapped, kB: first use, worst round |")
md.append("| --- | --- | --- |")
for name, d in direct.items():
    md.append("| %s | %.0f, %.0f | %d, %d |" % (name, d["level2_splits_per_gib_first_use"], d["level2_splits_per_gib"],
                                             d["directmap4k_kb_growth_first_use"], d["directmap4k_kb_growth_max"]))
md.append("")
md.append("DirectMap4k over the whole run: %d kB before the first round, %d kB after the last (it never shrinks)."
          % (dm_all[0]["directmap4k_kb_before"], dm_all[-1]["directmap4k_kb_after"]))
md.append("")
md.append("| NUMA (MPOL_BIND) | node | pages on that node | fault-in µs per MiB |")
md.append("| --- | --- | --- | --- |")
for r in numa:
    md.append("| %s | %d | %.0f%% | %.1f |" % (r["variant"], r["node"], 100 * r["fraction_on_node"], r["fault_us"] / mib))
text = "\n".join(md) + "\n"
open(out + "/results.md", "w").write(text)
print("kernel %s, %d rounds of %d MiB per variant" % (raw["kernel"], raw["rounds"], mib))
print(text)

with open(out + "/chart.dat", "w") as f:
    for i, (name, v) in enumerate(variants.items()):
        a, b = v["fault_us_per_mib"], v["teardown_us_per_mib"]
        f.write('%d "%s" %g %g %g %g %g %g\n' % (i, name, a["median"], a["min"], a["max"],
                                                 b["median"], b["min"], b["max"]))
gp = """
set title "fault-in and munmap+close per MiB (median, min-max; %s, %d rounds)"
set ylabel "µs per MiB"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set key top left
set yrange [0:*]
set grid ytics
set xtics nomirror
set terminal svg size 900,500 dynamic noenhanced font "sans,11"
set output "%s/chart.svg"
plot "%s/chart.dat" using 3:4:5:xtic(2) title "fault-in", "" using 6:7:8 title "munmap+close"
set terminal png size 900,500 noenhanced
set output "%s/chart.png"
replot
""" % (raw["kernel"], raw["rounds"], out, out, out)
open(out + "/chart.gp", "w").write(gp)
