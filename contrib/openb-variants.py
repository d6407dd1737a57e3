#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes openb pod lists that go beyond the published ones, for trying a policy on
workloads it was not tuned on (docs/benchmarks-sim.md, "Beyond the lists").

Each variant pushes one property of the FGD artifact's lists past the furthest list
with published figures, the way the artifact's own lists differ from `default`:

  multigpu50   multi-GPU pods (drawn from multigpu40's) added until they ask for 50 %
               of the GPU demand (multigpu40: 40 %)
  gpuspec33    GPU pods pinned to GPU models (pins drawn from gpuspec25's) until 33 %
               of the GPU pods are pinned (gpuspec25: 25 %)
  gpushare100  every whole single-GPU pod of gpushare80 becomes a share (shares drawn
               from gpushare80's): all single-GPU pods share

(CPU-heavy lists beyond cpu200 are in the traces already: cpu235, cpu300.)

And node lists other than the artifact's cluster, for trying a policy on machines it
was not tuned on ("Other machines"), each from openb_node_list_gpu_node.csv:

  half         a seeded half of the nodes
  shuffled     every node, in a seeded order under new names (ties fall elsewhere)
  cpudouble    every node with twice its CPUs
  cpuhalf      every node with half its CPUs (CPUs run out before GPUs)
  split4       every 8-GPU node as two 4-GPU nodes with half its CPUs and memory

Usage: contrib/openb-variants.py TRACES_DIR OUT_DIR [--seed N]
"""
import argparse
import csv
import os
import random
import sys


def read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, [dict(row) for row in reader]


def write_csv(path, fields, rows, name_field, name_prefix, what):
    """Rows renamed in order: a variant copies rows, and names must stay unique."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**row, name_field: f"{name_prefix}-{i:04d}"})
    print(f"{path}: {len(rows)} {what}")


def load(traces, name):
    return read_csv(os.path.join(traces, f"openb_pod_list_{name}.csv"))


def write(out, name, fields, rows):
    path = os.path.join(out, f"openb_pod_list_{name}.csv")
    write_csv(path, fields, rows, "name", "openb-pod", "pods")


def demand(row):
    return int(row["num_gpu"]) * int(row["gpu_milli"])


def gpu_pods(rows):
    return [r for r in rows if int(r["num_gpu"]) > 0]


def multigpu50(traces, rng):
    fields, rows = load(traces, "multigpu40")
    multi = [r for r in rows if int(r["num_gpu"]) > 1]
    total = sum(demand(r) for r in rows)
    multi_demand = sum(demand(r) for r in multi)
    while multi_demand < 0.5 * total:
        pod = dict(rng.choice(multi))
        rows.append(pod)
        total += demand(pod)
        multi_demand += demand(pod)
    return fields, rows


def gpuspec33(traces, rng):
    fields, rows = load(traces, "gpuspec25")
    pins = [r["gpu_spec"] for r in rows if r["gpu_spec"]]
    gpu = gpu_pods(rows)
    portable = [r for r in gpu if not r["gpu_spec"]]
    rng.shuffle(portable)
    pinned = len(gpu) - len(portable)
    while pinned < 0.33 * len(gpu):
        portable.pop()["gpu_spec"] = rng.choice(pins)
        pinned += 1
    return fields, rows


def gpushare100(traces, rng):
    fields, rows = load(traces, "gpushare80")
    shares = [r["gpu_milli"] for r in rows if int(r["num_gpu"]) == 1 and int(r["gpu_milli"]) < 1000]
    for r in rows:
        if int(r["num_gpu"]) == 1 and int(r["gpu_milli"]) == 1000:
            r["gpu_milli"] = rng.choice(shares)
    return fields, rows


VARIANTS = {"multigpu50": multigpu50, "gpuspec33": gpuspec33, "gpushare100": gpushare100}


def load_nodes(traces):
    return read_csv(os.path.join(traces, "openb_node_list_gpu_node.csv"))


def write_nodes(out, name, fields, rows):
    path = os.path.join(out, f"openb_node_list_{name}.csv")
    write_csv(path, fields, rows, "sn", f"{name}-node", "nodes")


def scaled(row, key, factor):
    return {**row, key: str(int(int(row[key]) * factor))}


def split4(row):
    if int(row["gpu"]) != 8:
        return [row]
    half = scaled(scaled(row, "cpu_milli", 0.5), "memory_mib", 0.5)
    return [{**half, "gpu": "4"}, {**half, "gpu": "4"}]


NODE_VARIANTS = {
    "half": lambda rows, rng: [r for r in rows if rng.random() < 0.5],
    "shuffled": lambda rows, rng: rng.sample(rows, len(rows)),
    "cpudouble": lambda rows, rng: [scaled(r, "cpu_milli", 2) for r in rows],
    "cpuhalf": lambda rows, rng: [scaled(r, "cpu_milli", 0.5) for r in rows],
    "split4": lambda rows, rng: [half for r in rows for half in split4(r)],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("traces", help="folder with the openb_pod_list_*.csv files")
    parser.add_argument("out", help="folder to write the variants to")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, make in VARIANTS.items():
        try:
            fields, rows = make(args.traces, random.Random(f"{args.seed}/{name}"))
        except (OSError, KeyError, ValueError) as e:
            sys.exit(f"openb-variants: {name}: {e}")
        write(args.out, name, fields, rows)
    for name, make in NODE_VARIANTS.items():
        try:
            fields, rows = load_nodes(args.traces)
            rows = make(rows, random.Random(f"{args.seed}/{name}"))
        except (OSError, KeyError, ValueError) as e:
            sys.exit(f"openb-variants: {name}: {e}")
        write_nodes(args.out, name, fields, rows)


if __name__ == "__main__":
    main()
