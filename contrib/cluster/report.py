#!/usr/bin/env python3
"""Reports on a finished workload run of accelpack's one-machine cluster.

  report.py run JOBLIST SUMMARY.json [--label NAME] [--quiet]
      reads `scontrol show job -d -o` for the jobs in JOBLIST (workload.sh's
      output), prints where each job ran, and writes a summary:
      utilization = allocated device-seconds / available device-seconds over
      the makespan (first submit to last end), queueing delay = start - submit
      (mean, p50, max) per class. Exit 1 if a job did not complete.
  report.py compare A.json B.json
      prints two summaries side by side.
  report.py medians SUMMARY.json...
      groups summaries by label (one per scheduler, several paired runs each)
      and prints each run and the median per label as a Markdown table.

JOBLIST lines: JOBID CLASS KIND DEVICES_PER_NODE NODES SECONDS NAME; an array
task's JOBID is ARRAYID_TASK. KIND "gpu" (untyped --gres=gpu:N) is read off
the node the job ran on. JOBLIST.meta, when present, gives the devices per
kind ({"capacity": {"h100": 16, ...}}, e.g. without a drained node);
otherwise the nodes' configured Gres do (scontrol show node), and if that
fails every kind has 2 nodes x 8 devices.

Fractional accelerators (ACCELPACK_FRACTIONAL=1): a MIG slice counts as its
share of the GPU it is cut from, both in capacity (h100-2's 14 x 1g.10gb and
4 x 3g.40gb are 4 H100s) and in use; shards share GPUs that are counted whole
already, so they add no capacity, and a shard's use is its node's GPUs divided
by its shards (8 GPUs, shard:32: a quarter of a GPU).
"""
import json
import re
import statistics
import subprocess
import sys
from datetime import datetime

DEVICES_PER_NODE = 8
KINDS = ["h100", "h200", "910b", "910c"]
# MIG profiles the cluster uses (ACCELPACK_FRACTIONAL=1): the kind they are cut from
# and the share of one device a slice is (seven 1g.10gb or two 3g.40gb per H100).
MIG_SHARES = {"1g.10gb": ("h100", 1 / 7), "3g.40gb": ("h100", 1 / 2)}
NODES_PER_KIND = 2
PAIR = re.compile(r"(\S+?)=(.*?)(?= \S+?=|$)")


def parse_job_line(line):
    return {k: v.strip() for k, v in PAIR.findall(line.strip())}


def scontrol_jobs():
    out = subprocess.run(["scontrol", "show", "job", "-d", "-o"], check=True,
                         capture_output=True, text=True).stdout
    jobs = {}
    for line in out.splitlines():
        if line.startswith("JobId="):
            rec = parse_job_line(line)
            jobs[rec["JobId"]] = rec
            if rec.get("ArrayTaskId", "N/A") not in ("N/A", "") and "ArrayJobId" in rec:
                jobs[f"{rec['ArrayJobId']}_{rec['ArrayTaskId']}"] = rec
    return jobs


def node_kind(nodelist):
    """Accelerator model of the nodes a job ran on ("h100-[1-2]" -> "h100")."""
    m = re.match(r"a?(h100|h200|910b|910c)", nodelist or "")
    return m.group(1) if m else None


def node_gres(gres):
    """ "gpu:h200:8(S:0-1),shard:32" -> [("gpu", "h200", 8), ("shard", "", 32)]."""
    entries = []
    for entry in gres.split(","):
        parts = entry.split("(")[0].split(":")
        if len(parts) >= 2 and parts[-1].isdigit():
            entries.append((parts[0], parts[1] if len(parts) >= 3 else "", int(parts[-1])))
    return entries


def cluster_nodes():
    """Per node: capacity per kind (whole devices, MIG slices as their share) and,
    for a node with shards, (kind, device share of one shard)."""
    out = subprocess.run(["scontrol", "show", "node", "-o"], check=True,
                         capture_output=True, text=True).stdout
    nodes = {}
    for line in out.splitlines():
        rec = parse_job_line(line)
        if "NodeName" not in rec:
            continue
        capacity, whole, shards = {}, {}, 0
        for name, gres_type, count in node_gres(rec.get("Gres", "")):
            if name == "shard":
                shards += count
            elif gres_type in KINDS:
                capacity[gres_type] = capacity.get(gres_type, 0) + count
                whole[gres_type] = whole.get(gres_type, 0) + count
            elif gres_type in MIG_SHARES:
                kind, share = MIG_SHARES[gres_type]
                capacity[kind] = capacity.get(kind, 0) + count * share
        shard = None
        if shards and len(whole) == 1:
            kind, gpus = next(iter(whole.items()))
            shard = (kind, gpus / shards)
        nodes[rec["NodeName"]] = {"capacity": capacity, "shard": shard}
    return nodes


def capacity_per_kind(joblist, nodes):
    try:
        with open(joblist + ".meta") as f:
            return {k: int(v) for k, v in json.load(f)["capacity"].items()}
    except FileNotFoundError:
        pass
    capacity = {k: 0 for k in KINDS}
    for node in nodes.values():
        for kind, count in node["capacity"].items():
            capacity[kind] += count
    if not any(capacity.values()):
        return {k: DEVICES_PER_NODE * NODES_PER_KIND for k in KINDS}
    return capacity


def device_share(row, nodes):
    """(kind, devices per unit requested) of a finished job."""
    if row["kind"] == "shard":
        node = nodes.get(row["nodelist"], {})
        if node.get("shard"):
            return node["shard"]
        return (node_kind(row["nodelist"]) or "shard", 0.0)
    return MIG_SHARES.get(row["kind"], (row["kind"], 1.0))


def ts(value):
    if not value or value in ("Unknown", "None", "N/A"):
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").timestamp()


def stats(values):
    if not values:
        return {"n": 0, "mean": None, "p50": None, "max": None}
    return {"n": len(values), "mean": statistics.fmean(values),
            "p50": statistics.median(values), "max": max(values)}


def run(joblist, summary_path, label, quiet):
    wanted = []
    with open(joblist) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 7:
                jid, cls, kind, dev, nodes, secs, name = parts[:7]
                wanted.append({"id": jid, "class": cls, "kind": kind, "devices": int(dev),
                               "nodes": int(nodes), "seconds": int(secs), "name": name})
    records = scontrol_jobs()
    rows, problems = [], []
    for w in wanted:
        rec = records.get(w["id"])
        if rec is None:
            problems.append(f"job {w['id']} ({w['name']}) unknown to slurmctld: lost")
            continue
        state = rec.get("JobState", "?")
        submit, start, end = ts(rec.get("SubmitTime")), ts(rec.get("StartTime")), ts(rec.get("EndTime"))
        if state != "COMPLETED":
            problems.append(f"job {w['id']} ({w['name']}) is {state} ({rec.get('Reason', '')})")
        if w["kind"] in ("gpu", "npu"):  # untyped: the kind of the node it ran on
            w = dict(w, kind=node_kind(rec.get("NodeList")) or w["kind"])
        rows.append(dict(w, state=state, submit=submit, start=start, end=end,
                         nodelist=rec.get("NodeList", "?"), partition=rec.get("Partition", "?"),
                         gres=rec.get("TresPerNode", "?")))
    if not quiet:
        print(f"{'JOBID':>6} {'NAME':<22} {'PARTITION':<9} {'GRES/NODE':<22} {'NODES':<16} {'WAIT s':>6} {'RAN s':>5}  STATE")
        for r in rows:
            wait = r["start"] - r["submit"] if r["start"] and r["submit"] else None
            ran = r["end"] - r["start"] if r["end"] and r["start"] else None
            print(f"{r['id']:>6} {r['name']:<22} {r['partition']:<9} {r['gres']:<22} {r['nodelist']:<16} "
                  f"{'-' if wait is None else int(wait):>6} {'-' if ran is None else int(ran):>5}  {r['state']}")
    done = [r for r in rows if r["start"] and r["end"] and r["submit"]]
    summary = {"label": label, "jobs": len(wanted), "completed": sum(r["state"] == "COMPLETED" for r in rows),
               "problems": problems}
    if done:
        t0 = min(r["submit"] for r in done)
        t1 = max(r["end"] for r in done)
        makespan = max(t1 - t0, 1.0)
        try:
            nodes = cluster_nodes()
        except (OSError, subprocess.CalledProcessError):
            nodes = {}
        capacity = capacity_per_kind(joblist, nodes)
        used = {k: 0.0 for k in capacity}
        for r in done:
            kind, share = device_share(r, nodes)
            used[kind] = used.get(kind, 0.0) + share * r["devices"] * r["nodes"] * (r["end"] - r["start"])
        summary["capacity"] = capacity
        summary["makespan_s"] = makespan
        summary["utilization"] = sum(used.values()) / (sum(capacity.values()) * makespan)
        summary["utilization_by_kind"] = {k: used[k] / (capacity[k] * makespan) for k in capacity}
        summary["delay"] = {}
        for cls in ("inference", "training"):
            summary["delay"][cls] = stats([r["start"] - r["submit"] for r in done if r["class"] == cls])
        summary["delay"]["all"] = stats([r["start"] - r["submit"] for r in done])
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1)
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 0 if not problems and len(rows) == len(wanted) else 1


def fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.1f} %" if pct else f"{v:.1f}"


def compare(paths):
    sums = [json.load(open(p)) for p in paths]
    lines = [("", [s["label"] for s in sums])]
    lines.append(("jobs completed", [f"{s['completed']}/{s['jobs']}" for s in sums]))
    lines.append(("makespan (s)", [fmt(s.get("makespan_s")) for s in sums]))
    lines.append(("accelerator utilization", [fmt(s.get("utilization"), True) for s in sums]))
    for k in KINDS:
        lines.append((f"  {k}", [fmt(s.get("utilization_by_kind", {}).get(k), True) for s in sums]))
    for cls in ("inference", "training", "all"):
        lines.append((f"queueing delay {cls} (s)", ["mean / p50 / max"] * len(sums)))
        lines.append(("", [" / ".join(fmt(s.get("delay", {}).get(cls, {}).get(m)) for m in ("mean", "p50", "max"))
                           for s in sums]))
    if any(s.get("latency") for s in sums):
        lines.append(("submit-to-start latency (s)", ["mean / p50 / max"] * len(sums)))
        lines.append(("", [" / ".join(f"{s['latency'][m]:.2f}" for m in ("mean", "p50", "max"))
                           if s.get("latency") else "-" for s in sums]))
    for name, vals in lines:
        print(f"{name:<30}" + "".join(f"{v:>22}" for v in vals))


def medians(paths):
    by_label = {}
    for p in paths:
        s = json.load(open(p))
        by_label.setdefault(s["label"], []).append(s)
    labels = sorted(by_label)
    runs = max(len(v) for v in by_label.values())

    def cell(s, key):
        if key == "utilization":
            return fmt(s.get("utilization"), True)
        if key == "makespan":
            return fmt(s.get("makespan_s"))
        if key == "completed":
            return f"{s['completed']}/{s['jobs']}"
        return fmt(s.get("delay", {}).get(key, {}).get("mean"))

    keys = ["utilization", "makespan", "inference", "training", "completed"]
    heads = ["utilization", "makespan (s)", "inference wait mean (s)", "training wait mean (s)", "completed"]
    print("| run | " + " | ".join(f"{h}: {' / '.join(labels)}" for h in heads) + " |")
    print("|---" * (len(heads) + 1) + "|")
    for i in range(runs):
        row = [" / ".join(cell(by_label[l][i], k) if i < len(by_label[l]) else "-" for l in labels) for k in keys]
        print(f"| {i + 1} | " + " | ".join(row) + " |")

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    row = []
    for k in keys[:-1]:
        vals = []
        for l in labels:
            ss = by_label[l]
            if k == "utilization":
                vals.append(fmt(med([s.get("utilization") for s in ss]), True))
            elif k == "makespan":
                vals.append(fmt(med([s.get("makespan_s") for s in ss])))
            else:
                vals.append(fmt(med([s.get("delay", {}).get(k, {}).get("mean") for s in ss])))
        row.append(" / ".join(vals))
    ok = sum(s["completed"] == s["jobs"] for ss in by_label.values() for s in ss)
    row.append(f"{ok}/{sum(len(v) for v in by_label.values())} runs complete")
    print("| **median** | " + " | ".join(row) + " |")


def main(argv):
    if len(argv) >= 4 and argv[1] == "run":
        label = "run"
        if "--label" in argv:
            label = argv[argv.index("--label") + 1]
        return run(argv[2], argv[3], label, "--quiet" in argv)
    if len(argv) >= 3 and argv[1] == "compare":
        compare(argv[2:])
        return 0
    if len(argv) >= 3 and argv[1] == "medians":
        medians(argv[2:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
