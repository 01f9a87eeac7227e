"""Skills or templates? Accuracy on seen phrasings, held-out phrasings and hand-written questions,
before and after RL, over three seeds: the README's wording table.

    python3 scripts/wording.py [--ponder .build/release/ponder] [--out wording] [--seeds 0,1,2]
                               [--reuse] [--readme README.md]

Runs experiments/quickstart.yaml once per seed (`ponder run --seeds`, into OUT/), then grades its
SFT and GRPO checkpoints of every seed on
  - the test split of arithmetic and counting (`ponder eval CKPT --env E --split test --tasks 400`):
    half the test tasks are asked in a phrasing training used ("seen"), half in one held out of
    every training stream ("unseen", Environment.swift);
  - experiments/data/{arithmetic,counting}-handwritten.jsonl (`ponder eval CKPT --data FILE`, with
    `--tools python` for arithmetic as quickstart allows it): wordings written by hand, none of
    them the environments' phrasings.
Each cell is the mean over seeds with a 95% t-interval (the per-seed values after it); "unseen -
seen" is the mean of the per-seed differences, with its t-interval: a change only when the
interval excludes 0. With --readme the text between `<!-- wording:begin -->` and
`<!-- wording:end -->` is replaced.
"""
import argparse
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readme_section import write_section  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
EXPERIMENT = os.path.join(ROOT, "experiments", "quickstart.yaml")
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def ponder(args, command):
    print("$", " ".join(command), file=sys.stderr)
    out = subprocess.run([args.ponder] + command, check=True, capture_output=True, text=True)
    return out.stdout


def mean_interval(values):
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, m, m
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    h = T975.get(n - 1, 1.96) * sd / math.sqrt(n)
    return m, m - h, m + h


def cell(values):
    m, lo, hi = mean_interval(values)
    lo, hi = max(lo, 0.0), min(hi, 1.0)  # a share's interval stays within 0-100%
    return f"{100 * m:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] ({', '.join(f'{100 * v:.0f}' for v in values)})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ponder", default=os.path.join(ROOT, ".build", "release", "ponder"))
    parser.add_argument("--out", default="wording")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--reuse", action="store_true", help="grade the checkpoints already in OUT instead of training")
    parser.add_argument("--readme")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = os.path.join(args.out, "runs")
    db = os.path.join(args.out, "ponder.sqlite")
    os.makedirs(args.out, exist_ok=True)
    if not args.reuse:
        ponder(args, ["run", EXPERIMENT, "--seeds", args.seeds, "--runs", runs, "--db", db])

    results = {}  # (skill, stage, column) -> [per-seed accuracy]
    saved = os.path.join(args.out, "wording.json")
    for seed in seeds:
        for stage in ("sft", "grpo"):
            checkpoint = os.path.join(runs, "quickstart", f"seed-{seed}", stage)
            for skill in ("arithmetic", "counting"):
                report = json.loads(ponder(args, ["eval", checkpoint, "--env", skill, "--split", "test", "--tasks", "400",
                                                  "--db", db, "--json"]))
                for phrasing in ("seen", "unseen"):
                    results.setdefault((skill, stage, phrasing), []).append(report["phrasing"][phrasing]["accuracy"])
                data = os.path.join(ROOT, "experiments", "data", f"{skill}-handwritten.jsonl")
                # The same tools the experiment gives the skill: arithmetic may call python, counting may not.
                tools = ["--tools", "python"] if skill == "arithmetic" else []
                report = json.loads(ponder(args, ["eval", checkpoint, "--data", data, "--db", db, "--json"] + tools))
                results.setdefault((skill, stage, "handwritten"), []).append(report["greedy_accuracy"])

    with open(saved, "w") as f:
        json.dump({" ".join(k): v for k, v in results.items()}, f, indent=1, sort_keys=True)
    lines = [f"Greedy accuracy in percent, mean over seeds {args.seeds} with a 95% t-interval clipped to 0-100 (per-seed values), "
             "`experiments/quickstart.yaml`; test split, 400 tasks per skill (about half in seen phrasings, half in "
             "held-out ones); hand-written: every line of `experiments/data/SKILL-handwritten.jsonl` (arithmetic with the python tool, as in training).", "",
             "| skill | checkpoint | seen phrasings | unseen phrasings | hand-written | unseen - seen (points) |",
             "|---|---|---|---|---|---|"]
    for skill in ("arithmetic", "counting"):
        for stage, label in (("sft", "after SFT"), ("grpo", "after GRPO")):
            seen, unseen, hand = (results[(skill, stage, c)] for c in ("seen", "unseen", "handwritten"))
            gap = mean_interval([u - s for u, s in zip(unseen, seen)])
            lines.append(f"| {skill} | {label} | {cell(seen)} | {cell(unseen)} | {cell(hand)} | "
                         f"{100 * gap[0]:+.1f} [{100 * gap[1]:.1f}, {100 * gap[2]:.1f}] |")
    text = "\n".join(lines)
    print(text)
    if args.readme:
        write_section(args.readme, "wording", text)


if __name__ == "__main__":
    main()
