#!/usr/bin/env python3
"""Where a finished workload run left devices idle, from its run directory alone.

  idle.py RUN_DIR...

Reads RUN_DIR/workload.jobs (workload.sh / workload-mixed.sh) and Slurm's job
completion log RUN_DIR/log/jobcomp.txt, and prints per run, second by second
from the first job eligible to the last end:
  idle        device-seconds free on the nodes the workload used;
  demanded    of them, seconds a waiting job (eligible: submitted, released,
              dependencies met) of the node's kind asked for no more devices
              than were free on that node, i.e. idleness a scheduler could have
              used by device count alone (it ignores -w, --exclusive, gangs'
              second node, CPUs and holds for reserved jobs, so it is an upper
              bound on what better placement could win).
"""
import re
import sys
from datetime import datetime

PAIR = re.compile(r"(\w+)=(\S*)")
DEVICES_PER_NODE = 8
NVIDIA = ("h100", "h200")


def ts(value):
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").timestamp()


def hosts(nodelist):
    """Slurm host list "h100-[1-2]" or "a,b" -> names (the forms this cluster uses)."""
    names = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", nodelist):
        m = re.match(r"(.*)\[(.*)\]$", part)
        if not m:
            names.append(part)
            continue
        for rng in m.group(2).split(","):
            lo, _, hi = rng.partition("-")
            for i in range(int(lo), int(hi or lo) + 1):
                names.append(f"{m.group(1)}{i}")
    return names


def node_kind(node):
    return re.sub(r"^a", "", node.rsplit("-", 1)[0])


def wants(job_kind, kind):
    return job_kind == kind or (job_kind == "gpu" and kind in NVIDIA)


def load(run_dir):
    by_name = {}
    with open(f"{run_dir}/workload.jobs") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 7:
                by_name[parts[6]] = {"kind": parts[2], "devices": int(parts[3])}
    jobs = []
    with open(f"{run_dir}/log/jobcomp.txt") as f:
        for line in f:
            rec = dict(PAIR.findall(line))
            spec = by_name.get(rec.get("Name"))
            if spec is None or rec.get("JobState") != "COMPLETED":
                continue
            jobs.append(dict(spec, eligible=ts(rec["EligibleTime"]), start=ts(rec["StartTime"]),
                             end=ts(rec["EndTime"]), nodes=hosts(rec["NodeList"])))
    return jobs


def idle(jobs):
    nodes = sorted({n for j in jobs for n in j["nodes"]})
    t, t_end = min(j["eligible"] for j in jobs), max(j["end"] for j in jobs)
    makespan = t_end - t
    total = demanded = 0
    while t < t_end:
        free = {n: DEVICES_PER_NODE for n in nodes}
        for j in jobs:
            if j["start"] <= t < j["end"]:
                for n in j["nodes"]:
                    free[n] -= j["devices"]
        waiting = [j for j in jobs if j["eligible"] <= t < j["start"]]
        for n in nodes:
            total += free[n]
            if any(wants(j["kind"], node_kind(n)) and j["devices"] <= free[n] for j in waiting):
                demanded += free[n]
        t += 1
    return makespan, total, demanded


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{'run':<48} {'makespan s':>10} {'idle dev-s':>10} {'demanded':>9}")
    for run_dir in argv[1:]:
        jobs = load(run_dir)
        if not jobs:
            print(f"{run_dir}: no completed workload jobs", file=sys.stderr)
            continue
        makespan, total, demanded = idle(jobs)
        print(f"{run_dir:<48} {makespan:>10.0f} {total:>10.0f} {demanded:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
