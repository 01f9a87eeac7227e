"""Measure data-parallel GRPO on this machine and project it to a cluster: the README's scaling section.

    python3 scripts/scaling.py [--ponder .build/release/ponder] [--out scaling] [--configs small,medium]
                               [--reuse] [--readme README.md]

For each model config it runs experiments/scaling.yaml twice on this machine's two cores, as one
rank with two threads and as `mpirun -np 2` ranks with one thread each (into OUT/CONFIG-1x2 and
OUT/CONFIG-2x1; --reuse reads stores already there), and prints the median GRPO step split into
generation, reward, training (its all-reduce included) and communication (time inside MPI
collectives, and bytes this rank sent into them), over steps 2..N (step 1 warms up).

The cost model then projects one step of `GLOBAL_GROUPS` groups of 8 samples (strong scaling)
onto N nodes like this one (one rank of two threads each), from the one-node measurement:

    T(N) = (gen + reward + train) * ceil(GLOBAL_GROUPS / N) / GLOBAL_GROUPS    busiest rank's share
         + rest                                                                not divided
         + 2 (N - 1) / N * 4 P / bandwidth + 2 (N - 1) * latency              ring all-reduce of the gradient
         + (N - 1) / N * rollout_bytes / bandwidth + ceil(log2 N) * latency    the ranks exchange rollouts

plus, for N > 1, the waiting measured with two ranks (uneven generation, the exchange). P is the
parameter count; rollout_bytes is what one step's rollouts weigh on the wire (measured: a rank's
communication bytes minus its gradient all-reduce, times the ranks); gen and train of the 135M
model scale with its parameter count from the largest measured config (compute per token ~ 6 P),
reward does not. Efficiency is T(1) / (N T(N)). Assumptions are printed with the
table. With --readme the section between `<!-- scaling:begin -->` and `<!-- scaling:end -->` is
replaced by what was printed.
"""
import argparse
import json
import math
import os
import sqlite3
import statistics
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readme_section import write_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT = os.path.join(ROOT, "experiments", "scaling.yaml")
GLOBAL_GROUPS = 64
MEASURED_GROUPS = 8  # prompts_per_step of experiments/scaling.yaml
NODES = [1, 2, 4, 8, 16, 32, 64]
NETWORKS = [  # name, bandwidth in bytes/s, latency in s
    ("10 Gb/s Ethernet (1.1 GB/s, 50 us)", 1.1e9, 50e-6),
    ("100 Gb/s InfiniBand (11 GB/s, 2 us)", 11e9, 2e-6),
]
# Parameters of a SmolLM2-135M-like model (d 576, 30 layers, 9 / 3 heads, vocabulary 49,152, tied).
PARAMS_135M = 134_515_008


def run(ponder, config, layout, directory):
    os.makedirs(directory, exist_ok=True)
    args = [ponder, "run", EXPERIMENT, "--db", os.path.join(directory, "ponder.sqlite"),
            "--runs", os.path.join(directory, "runs"), "--set", f"model.preset={config}"]
    env = dict(os.environ)
    if layout == "1x2":
        env.update(PONDER_THREADS="2", OPENBLAS_NUM_THREADS="2")
        command = args
    else:
        env.update(PONDER_THREADS="1", OPENBLAS_NUM_THREADS="1")
        command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
                   "-x", "PONDER_THREADS", "-x", "OPENBLAS_NUM_THREADS"] + args
    print("$", " ".join(command), file=sys.stderr)
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def grpo_steps(directory):
    db = sqlite3.connect(os.path.join(directory, "ponder.sqlite"))
    rows = db.execute("""SELECT m.step, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id
                         WHERE r.stage = 'grpo' AND r.status = 'completed'""").fetchall()
    steps = {}
    for step, name, value in rows:
        steps.setdefault(step, {})[name] = value
    return [steps[s] for s in sorted(steps) if s > 1]


def parameters(directory):
    path = os.path.join(directory, "runs", "scaling", "grpo", "model.safetensors")
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    return sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")


def median(steps, name):
    values = [s.get(name, 0.0) for s in steps]
    return statistics.median(values) if values else 0.0


def split(steps):
    """Medians over the steps; `rest` is the median of each step's time outside generation, reward
    and training (with two ranks: waiting for the other rank's groups, and the rollout exchange)."""
    out = {name: median(steps, "time/" + name) for name in ("step", "generation", "reward", "training", "communication")}
    out["bytes"] = median(steps, "communication_bytes")
    out["rest"] = statistics.median(
        max(0.0, s["time/step"] - s["time/generation"] - s["time/reward"] - s["time/training"]) for s in steps)
    return out


def model_step(one, P, rollout_bytes, N, bandwidth, latency):
    compute = one["generation"] + one["reward"] + one["training"]
    rest = one["rest"]
    share = math.ceil(GLOBAL_GROUPS / N) / GLOBAL_GROUPS
    t = compute * share + rest
    if N > 1:
        t += 2 * (N - 1) / N * 4 * P / bandwidth + 2 * (N - 1) * latency
        t += (N - 1) / N * rollout_bytes / bandwidth + math.ceil(math.log2(N)) * latency
    return t


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ponder", default=os.path.join(ROOT, ".build", "release", "ponder"))
    parser.add_argument("--out", default="scaling")
    parser.add_argument("--configs", default="small")
    parser.add_argument("--reuse", action="store_true", help="read the stores already in OUT instead of running")
    parser.add_argument("--readme", help="write the section into this README between its scaling markers")
    args = parser.parse_args()

    lines = []
    measured = {}
    lines.append("GRPO step on this machine (2 cores), median over steps 2-8 of experiments/scaling.yaml "
                 f"({MEASURED_GROUPS} prompts x 8 samples, 48 new tokens at most), seconds:")
    lines.append("")
    lines.append("| model | layout | step | generation | reward | training | rest | in MPI | bytes sent per step |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for config in args.configs.split(","):
        for layout in ("1x2", "2x1"):
            directory = os.path.join(args.out, f"{config}-{layout}")
            if not args.reuse:
                run(args.ponder, config, layout, directory)
            s = split(grpo_steps(directory))
            measured[(config, layout)] = (s, parameters(directory))
            label = "1 rank x 2 threads" if layout == "1x2" else "2 ranks x 1 thread"
            lines.append(f"| {config} | {label} | {s['step']:.2f} | {s['generation']:.2f} | {s['reward']:.3f} | "
                         f"{s['training']:.2f} | {s['rest']:.3f} | {s['communication']:.3f} | {s['bytes'] / 1e6:.2f} MB |")
    lines.append("")
    for config in args.configs.split(","):
        one, two = measured[(config, "1x2")][0], measured[(config, "2x1")][0]
        lines.append(f"- {config}: 2 ranks x 1 thread take {two['step'] / one['step']:.2f}x the step time of 1 rank x 2 threads.")

    configs = args.configs.split(",")
    largest = configs[-1]
    one, P = measured[(largest, "1x2")]
    two, _ = measured[(largest, "2x1")]
    # A rank's bytes: its all-reduces (gradient, statistics), the weight fingerprints, and its share
    # of the rollouts; what is left after the gradient, times two ranks, is one step's rollouts.
    rollout_bytes = max(0.0, two["bytes"] - 4 * P) * 2
    # (name, parameters, one node's split, its 2-rank waiting): measured configs use their own
    # figures; the 135M model scales the largest measured one by parameter count.
    models = [(c, measured[(c, "1x2")][1], measured[(c, "1x2")][0], measured[(c, "2x1")][0]["rest"]) for c in configs]
    factor = PARAMS_135M / P
    models.append(("135M", PARAMS_135M, {"generation": one["generation"] * factor, "reward": one["reward"],
                                         "training": one["training"] * factor, "rest": one["rest"]}, two["rest"] * factor))
    scale = GLOBAL_GROUPS / MEASURED_GROUPS
    lines.append("")
    lines.append(f"Cost model (scripts/scaling.py): one GRPO step of {GLOBAL_GROUPS} groups x 8 samples (strong scaling) on N nodes "
                 "like this one, one rank of 2 threads each. Per node: generation, reward and training measured above for "
                 f"{MEASURED_GROUPS} groups, times {GLOBAL_GROUPS // MEASURED_GROUPS} for {GLOBAL_GROUPS} groups, divided by "
                 "the busiest node's share of the groups; the 135M model's generation and training are the "
                 f"{largest} figures times the ratio of parameters (compute per token ~ 6P), its reward unchanged. "
                 "Added for N > 1: the waiting measured with 2 ranks (uneven generation, the rollout exchange), "
                 "a ring all-reduce of the gradient (2 (N-1)/N 4P bytes, 2 (N-1) latencies), and the exchange of "
                 f"the step's rollouts ({rollout_bytes / 1e6:.3f} MB per {MEASURED_GROUPS} groups, measured). No overlap of "
                 "communication with compute; every node as fast as this one; the store and checkpoints on rank 0 "
                 "are not counted.")
    for network, bandwidth, latency in NETWORKS:
        lines.append("")
        lines.append(f"{network}: step seconds (efficiency)")
        lines.append("")
        lines.append("| model | params | " + " | ".join(f"N={n}" for n in NODES) + " |")
        lines.append("|---|---|" + "---|" * len(NODES))
        for name, params, node, waiting in models:
            node = {"generation": node["generation"] * scale, "reward": node["reward"] * scale,
                    "training": node["training"] * scale, "rest": node["rest"]}
            t1 = model_step(node, params, rollout_bytes * scale, 1, bandwidth, latency)
            cells = []
            for n in NODES:
                t = model_step(node, params, rollout_bytes * scale, n, bandwidth, latency) + (waiting if n > 1 else 0)
                cells.append(f"{t:.2f} ({100 * t1 / (n * t):.0f}%)")
            lines.append(f"| {name} | {params / 1e6:.1f}M | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_section(args.readme, "scaling", text)


if __name__ == "__main__":
    main()
