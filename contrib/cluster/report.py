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
"""
import json
import re
import statistics
import subprocess
import sys
from datetime import datetime

DEVICES_PER_NODE = 8
KINDS = ["h100", "h200", "910b", "910c"]
# Fractional requests (ACCELPACK_FRACTIONAL=1): the kind whose devices they use and
# the share of one device per unit requested (4 shards per H200; MIG: seven 1g.10gb
# or two 3g.40gb slices per H100).
SHARES = {"shard": ("h200", 1 / 4), "1g.10gb": ("h100", 1 / 7), "3g.40gb": ("h100", 1 / 2)}
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
    return jobs


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
        used = {k: 0.0 for k in KINDS}
        for r in done:
            kind, share = SHARES.get(r["kind"], (r["kind"], 1.0))
            used[kind] = used.get(kind, 0.0) + share * r["devices"] * r["nodes"] * (r["end"] - r["start"])
        capacity = DEVICES_PER_NODE * NODES_PER_KIND
        summary["makespan_s"] = makespan
        summary["utilization"] = sum(used.values()) / (capacity * len(KINDS) * makespan)
        summary["utilization_by_kind"] = {k: used[k] / (capacity * makespan) for k in KINDS}
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


def main(argv):
    if len(argv) >= 4 and argv[1] == "run":
        label = "run"
        if "--label" in argv:
            label = argv[argv.index("--label") + 1]
        return run(argv[2], argv[3], label, "--quiet" in argv)
    if len(argv) >= 3 and argv[1] == "compare":
        compare(argv[2:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
