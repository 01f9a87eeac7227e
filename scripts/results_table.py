"""Write the README's results table from the JSON summaries `make results` leaves in results/.

    python3 scripts/results_table.py RESULTS_DIR README.md

Reads RESULTS_DIR/EXPERIMENT.json (written by `ponder run --summary-json`) and the one-thread
rerun of quickstart, and replaces the text between the README's
`<!-- results:begin -->` and `<!-- results:end -->` markers. Every figure in the table comes from
those files; nothing is typed by hand.
"""
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

EXPERIMENTS = ["quickstart", "arithmetic-grpo", "counting-grpo", "counting-tool-grpo", "code-grpo"]


def pct(x):
    return f"{100 * x:.1f}%"


def bounds(a, low, high):
    """An interval's bounds cut to the values the quantity can take (a t-interval over three seeds
    can reach past 0% or 100%)."""
    return min(max(a["lower"], low), high), max(min(a["upper"], high), low)


def interval(a):
    if a is None:
        return "n/a"
    lower, upper = bounds(a, 0, 1)
    return f"{100 * a['mean']:.1f}% [{100 * lower:.1f}, {100 * upper:.1f}]"


def change(c):
    if c is None:
        return "n/a"
    lower, upper = bounds(c, -1, 1)
    text = f"{100 * c['mean']:+.1f} points [{100 * lower:.1f}, {100 * upper:.1f}]"
    return text if c["significant"] else text + ", no significant change"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(results, readme):
    rows, seeds_used, tasks, threads = [], {}, set(), {}
    for name in EXPERIMENTS:
        path = os.path.join(results, name + ".json")
        if not os.path.exists(path):
            continue
        summary = json.load(open(path))
        seeds_used[name] = summary["seeds"]
        if summary.get("threads", "default") != "default":
            threads[name] = summary["threads"]
        evals = summary["evaluations"]
        for after in evals:
            if after["stage"] != "after_rl":
                continue
            before = next(e for e in evals if e["stage"] == "before_rl" and e["environment"] == after["environment"])
            tasks.update(p["graded"] for p in after["per_seed"])
            per_seed = ", ".join(f"{100 * b['accuracy']:.0f} → {100 * a['accuracy']:.0f}"
                                 for b, a in zip(before["per_seed"], after["per_seed"]))
            tools = ""
            if before["tool_use"] > 0 or after["tool_use"] > 0:
                tools = f"; a tool in {pct(before['tool_use'])} → {pct(after['tool_use'])} of answers"
            rows.append(f"| {name} | {after['environment']} | {interval(before.get('accuracy'))} | "
                        f"{interval(after.get('accuracy'))} | {change(after.get('change'))} | {per_seed}{tools} |")
            kinds_after = after.get("by_held_out_kind", {})
            kinds_before = before.get("by_held_out_kind", {})
            for kind in sorted(kinds_after):
                rows.append(f"| {name} | {after['environment']}: {kind} | {interval(kinds_before.get(kind))} | "
                            f"{interval(kinds_after.get(kind))} | | |")

    threads_note = ""
    one = os.path.join(results, "quickstart-threads1.json")
    two = os.path.join(results, "quickstart.json")
    if os.path.exists(one) and os.path.exists(two):
        single = json.load(open(one))["evaluations"]
        group = json.load(open(two))["evaluations"]
        parts = []
        for e in single:
            if e["stage"] != "after_rl":
                continue
            g = next(x for x in group if x["stage"] == "after_rl" and x["environment"] == e["environment"])
            parts.append(f"{e['environment']} after RL {pct(e['per_seed'][0]['accuracy'])} with one thread, "
                         f"{pct(g['per_seed'][0]['accuracy'])} with two")
        seed = json.load(open(one))["seeds"][0]
        threads_note = (f"Thread counts: runs are bit-identical whatever `PONDER_THREADS` says (tested), but OpenBLAS's "
                        f"thread count changes the order of its sums; quickstart's seed {seed} rerun with "
                        f"`PONDER_THREADS=1 OPENBLAS_NUM_THREADS=1` gave " + "; ".join(parts) + ".")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    cores = os.cpu_count()
    missing = [n for n in EXPERIMENTS if n not in seeds_used]
    not_run = f" Not measured in this run: {', '.join(missing)}." if missing else ""
    threads_text = "".join(f" {n} ran with `THREADS={t}` (PONDER_THREADS and OPENBLAS_NUM_THREADS {t}); the others with "
                           f"the defaults (both cores)." for n, t in threads.items())
    seeds_text = "; ".join(f"{n} {','.join(map(str, s))}" for n, s in seeds_used.items())
    lines = [
        "| experiment | environment | before RL (test) | after RL (test) | change, paired | per seed, before → after |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Written by `make results` on {date} (commit {commit}) on {cpu_model()}, {cores} cores: "
        f"{'every shipped experiment' if not missing else ', '.join(seeds_used)} with three seeds ({seeds_text}), each graded on {', '.join(map(str, sorted(tasks)))} tasks of each environment's "
        "test split, which no training stream touches and which was not looked at while choosing settings. "
        "Accuracies are the mean over the seeds with a 95% t-interval across them (t = 4.30 for three seeds); a change is "
        "the mean of the seeds' paired differences (same tasks before and after RL) with its t-interval, called a change "
        "only when the interval excludes 0; interval bounds are cut to what the quantity can take (0-100%)." + threads_text + not_run,
    ]
    if threads_note:
        lines += ["", threads_note]
    block = "\n".join(lines)

    text = open(readme).read()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        sys.exit(f"{readme}: no {begin} ... {end} markers to write the table between")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(readme, "w").write(head + begin + "\n" + block + "\n" + end + tail)
    print(block)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: results_table.py RESULTS_DIR README.md")
    main(sys.argv[1], sys.argv[2])
