"""Write the README's results table from the JSON summaries `make results` leaves in results/.

    python3 scripts/results_table.py RESULTS_DIR README.md

Reads RESULTS_DIR/EXPERIMENT.json (written by `ponder run --summary-json`) and the one-thread
rerun of quickstart, and replaces the text between the README's
`<!-- results:begin -->` and `<!-- results:end -->` markers. Every figure in the table comes from
those files; nothing is typed by hand.

A results directory that holds only some experiments (EXPERIMENTS="..." make results) replaces
only their rows: the rows of the others stay as the README has them, with the paragraph of the
earlier run that measured them, so every row keeps the commit, date and machine it came from.
"""
import glob
import json
import math
import os
import platform
import sqlite3
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


def t975(df):
    """Student's t 0.975 quantile; the Cornish-Fisher series is within 1e-4 for df >= 30, and
    eval sets here have 100 items or more."""
    z = 1.959963984540054
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def seed_changes(results):
    """The paired change of each seed on its own: {(experiment, seed, environment): +1, -1 or 0},
    +1 when the t-interval of after - before over the same test items lies above 0, -1 below,
    0 when it holds 0. Read from the eval items in the stores under RESULTS_DIR."""
    verdicts = {}
    for path in glob.glob(os.path.join(results, "*.sqlite")):
        if os.path.basename(path) == "threads1.sqlite":  # the one-thread rerun of a seed reported elsewhere
            continue
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        query = ("select r.name, r.seed, e.suite, i.task_id, i.verdict = 'correct' from runs r "
                 "join evals e on e.run_id = r.id "
                 "and e.id = (select max(id) from evals e2 where e2.run_id = r.id and e2.suite = e.suite) "
                 "join eval_items i on i.eval_id = e.id "
                 "where r.status = 'completed' and i.sample_index = -1 and i.failure is null")
        for name, seed, suite, task, correct in db.execute(query):
            verdicts.setdefault((name, seed, suite), {})[task] = float(correct)
        db.close()
    signs = {}
    for (name, seed, suite), after in verdicts.items():
        experiment, stage = name.split("/", 1)
        if stage != "after_rl" or (experiment + "/before_rl", seed, suite) not in verdicts:
            continue
        before = verdicts[(experiment + "/before_rl", seed, suite)]
        d = [after[t] - before[t] for t in after if t in before]
        if len(d) < 2:
            continue
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
        half = t975(len(d) - 1) * sd / math.sqrt(len(d))
        signs[(experiment, seed, suite)] = 1 if mean - half > 0 else -1 if mean + half < 0 else 0
    return signs


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def keep_earlier(old, lines, measured, threads_note):
    """`lines` (the new block) with the old block's rows of experiments not measured now put back
    in EXPERIMENTS order, and the old paragraphs that name one of those experiments appended."""
    old_lines = old.strip().splitlines()
    old_rows = [l for l in old_lines if l.startswith("| ") and not l.startswith("| experiment ")]
    kept = [r for r in old_rows if r.split("|")[1].strip() not in measured]
    if not kept:
        return lines
    kept_names = {r.split("|")[1].strip() for r in kept}
    header, new_rows = lines[:2], [l for l in lines[2:] if l.startswith("| ")]
    notes = lines[2 + len(new_rows):]
    order = {n: i for i, n in enumerate(EXPERIMENTS)}
    rows = sorted(new_rows + kept, key=lambda r: order.get(r.split("|")[1].strip(), len(order)))  # stable within an experiment
    paragraphs = [p for p in "\n".join(old_lines).split("\n\n") if not p.startswith("|")]
    earlier = []
    for p in paragraphs:
        if p.startswith("Thread counts:") and (threads_note or "quickstart" not in kept_names):
            continue  # remeasured now, or about rows no longer shown
        if any(name in p for name in kept_names):
            earlier.append(p if p.startswith(("Earlier rows", "Thread counts:")) else
                           f"Earlier rows ({', '.join(sorted(kept_names, key=order.get))}): " + p)
    return header + rows + notes + [x for p in earlier for x in ("", p)]


def main(results, readme):
    rows, seeds_used, tasks, threads = [], {}, set(), {}
    signs = seed_changes(results)
    marks = {1: " ↑", -1: " ↓", 0: ""}
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
                                 f"{marks[signs.get((name, seed, after['environment']), 0)]}"
                                 for seed, b, a in zip(summary["seeds"], before["per_seed"], after["per_seed"]))
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
    by_threads = {}
    for n, t in threads.items():
        by_threads.setdefault(t, []).append(n)
    threads_text = "".join(f" {', '.join(ns)} ran with `THREADS={t}` (PONDER_THREADS and OPENBLAS_NUM_THREADS {t})."
                           for t, ns in by_threads.items())
    if threads and len(threads) < len(seeds_used):
        threads_text += " The others ran with the defaults (both cores)."
    seeds_text = "; ".join(f"{n} {','.join(map(str, s))}" for n, s in seeds_used.items())
    lines = [
        "| experiment | environment | before RL (test) | after RL (test) | change, paired | per seed, before → after |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Measured as `make results` measures (scripts/results.sh) and written by scripts/results_table.py on {date} "
        f"(commit {commit}) on {cpu_model()}, {cores} cores: "
        f"{'every shipped experiment' if not missing else ', '.join(seeds_used)} with three seeds ({seeds_text}), each graded on {', '.join(map(str, sorted(tasks)))} tasks of each environment's "
        "test split, which no training stream touches and which was not looked at while choosing settings. "
        "Accuracies are the mean over the seeds with a 95% t-interval across them (t = 4.30 for three seeds); a change is "
        "the mean of the seeds' paired differences (same tasks before and after RL) with its t-interval, called a change "
        "only when the interval excludes 0. In the per-seed column, ↑ (↓) marks a seed whose own paired change on the "
        "test items (t-interval over the items) lies above (below) 0; interval bounds are cut to what the quantity can take (0-100%)." + threads_text + not_run,
    ]
    if threads_note:
        lines += ["", threads_note]

    text = open(readme).read()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        sys.exit(f"{readme}: no {begin} ... {end} markers to write the table between")
    head, rest = text.split(begin, 1)
    old, tail = rest.split(end, 1)
    lines = keep_earlier(old, lines, measured=set(seeds_used), threads_note=bool(threads_note))
    block = "\n".join(lines)
    open(readme, "w").write(head + begin + "\n" + block + "\n" + end + tail)
    print(block)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: results_table.py RESULTS_DIR README.md")
    main(sys.argv[1], sys.argv[2])
