"""Write the README's refusal and hallucination tables (a)-(d) from what
scripts/knowledge_results.sh leaves in its directory.

    python3 scripts/knowledge_table.py RESULTS_DIR/knowledge README.md

Reads evals/LABEL-seedS.json (each `ponder eval CHECKPOINT --split test --json`) and, for the
known-fact columns of table (c), the eval items in the chains' stores (main-S.sqlite), and replaces
the text between the README's `<!-- knowledge:begin -->` and `<!-- knowledge:end -->` markers.
Every figure comes from those files. A figure is the mean over seeds with a 95% t-interval across
them; a change is the mean of the per-seed changes (every seed answers the same test questions)
with its t-interval, and is called a change only when that interval leaves out 0.
"""
import glob
import json
import math
import os
import platform
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readme_section import write_section  # noqa: E402

# Student's t 0.975 quantiles by degrees of freedom (seeds - 1).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def load(directory):
    """{label: {seed: eval JSON}}"""
    evals = {}
    for path in glob.glob(os.path.join(directory, "evals", "*-seed*.json")):
        match = re.fullmatch(r"(.+)-seed(\d+)\.json", os.path.basename(path))
        with open(path) as f:
            evals.setdefault(match.group(1), {})[int(match.group(2))] = json.load(f)
    return evals


def rate(d, group, name):
    """A rate of the abstention report as a fraction, None when its denominator is 0."""
    m = d["abstention"].get(group, {}).get(name)
    if m is None or m.get("value") is None or m.get("of", 1) == 0:
        return None
    return m["value"]


def error_rate(d, group="corpus"):
    """Wrong answers over all answerable questions (not over attempted ones)."""
    a = d["abstention"].get(group, {})
    wrong, of = a.get("hallucination", {}).get("count"), a.get("accuracy", {}).get("of")
    return None if not of else wrong / of


def summary(values):
    """(mean, half-width or None) over the seeds' values; None when no seed has the figure."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return mean, T975.get(len(values) - 1, 1.96) * sd / math.sqrt(len(values))


def pct(s, signed=False):
    if s is None:
        return "n/a"
    mean, half = s
    head = f"{100 * mean:+.1f}" if signed else f"{100 * mean:.1f}%"
    if half is None:
        return head
    low, high = mean - half, mean + half
    if not signed:
        low, high = max(low, 0), min(high, 1)
    return f"{head} [{100 * low:.1f}, {100 * high:.1f}]"


def figure(evals, label, fn):
    return summary([fn(d) for d in evals.get(label, {}).values()])


def paired(evals, label, base, fn):
    """The per-seed change label - base over the seeds that have both."""
    a, b = evals.get(label, {}), evals.get(base, {})
    values = [fn(a[s]) - fn(b[s]) for s in sorted(set(a) & set(b)) if fn(a[s]) is not None and fn(b[s]) is not None]
    return summary(values)


def change_text(s):
    if s is None:
        return "n/a"
    text = pct(s, signed=True) + " points"
    mean, half = s
    if half is not None and not (mean - half > 0 or mean + half < 0):
        text += " (no change by the interval)"
    return text


def seeds_of(evals, label):
    return ",".join(str(s) for s in sorted(evals.get(label, {}))) or "none"


ACC = lambda d: rate(d, "all", "accuracy")  # noqa: E731
REFUSE = lambda d: rate(d, "all", "over_refusal")  # noqa: E731
INVENTED = lambda d: rate(d, "all", "invented")  # noqa: E731
HALLU = lambda d: rate(d, "all", "hallucination")  # noqa: E731
F = lambda d: rate(d, "all", "f")  # noqa: E731


def suite_row(evals, name, label):
    return (f"| {name} | {pct(figure(evals, label, ACC))} | {pct(figure(evals, label, REFUSE))} | "
            f"{pct(figure(evals, label, INVENTED))} | {pct(figure(evals, label, HALLU))} | {pct(figure(evals, label, F))} | "
            f"{seeds_of(evals, label)} |")


SUITE_HEAD = ("| checkpoint | accuracy (answerable) | over-refusal | invented (unanswerable, false premise) | "
              "hallucination (wrong of attempted) | SimpleQA F | seeds |\n|---|---|---|---|---|---|---|")


def suite_table(evals, rows):
    """The suite's figures for (name, label) rows, under SUITE_HEAD."""
    return [SUITE_HEAD] + [suite_row(evals, name, label) for name, label in rows]


def known_facts(directory, evals, seed):
    """Table (c)'s known facts for one seed: the answerable test questions the starting model
    (sft-half) answered right, and for each variant the share of them still right and the share
    now answered wrong. Read from the eval items in the seed's store."""
    path = os.path.join(directory, f"main-{seed}.sqlite")
    needed = ["sft-half", "sft-answers", "sft-probe"]
    if not os.path.exists(path) or any(seed not in evals.get(label, {}) for label in needed):
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def verdicts(label):
        eval_id = evals[label][seed]["eval_id"]
        rows = db.execute("select task_id, verdict from eval_items where eval_id = ? and sample_index < 0 and answerable",
                          (eval_id,)).fetchall()
        return dict(rows)

    start = verdicts("sft-half")
    known = [t for t, v in start.items() if v == "correct"]
    out = {"known": len(known)}
    for label in needed[1:]:
        after = verdicts(label)
        kept = sum(after.get(t) == "correct" for t in known)
        wrong = sum(after.get(t) in ("incorrect", "unparseable") for t in known)
        out[label] = (kept / len(known), wrong / len(known)) if known else (None, None)
    db.close()
    return out


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown commit"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(directory, readme):
    evals = load(directory)
    if not evals:
        sys.exit(f"{directory}: no evals/*-seed*.json; run scripts/knowledge_results.sh first")
    any_eval = next(iter(next(iter(evals.values())).values()))
    questions = any_eval["abstention"]["all"]["questions"]
    # scripts/knowledge_results.sh gives each run PONDER_THREADS, 1 unless the caller set it.
    threads = os.environ.get("PONDER_THREADS", "1")
    lines = [
        f"Measured by `make results` (scripts/knowledge_results.sh, then scripts/knowledge_table.py) at commit "
        f"{commit()} on {datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores ({cpu_model()}), "
        f"{threads} thread{'s' if threads != '1' else ''} per run. "
        f"Every checkpoint answers the same {questions} questions of the knowledge test split "
        f"(`ponder eval CHECKPOINT --env knowledge --split test --tasks 400`); a figure is the mean over the seeds "
        f"listed with a 95% t-interval across them (t = 4.30 for three seeds), a change the mean of the per-seed "
        f"changes with its t-interval.",
        "",
        "**(a) Recipes against plain SFT.** Plain SFT is knowledge-exposure's `sft` (every training question). "
        "Both recipes start from knowledge-probe-sft's first SFT (one half of the training questions): probing "
        "(knowledge-probe-sft's `sft_probe`) fine-tunes on every training question with the facts the model got "
        "wrong in 4 samples relabelled \"I don't know\"; GRPO (knowledge-grpo-refusal's `grpo`) draws its prompts "
        "from the other half, +1 for a right answer or for refusing an unanswerable question, 0 otherwise.",
        "",
        *suite_table(evals, [("plain SFT", "sft"), ("first-half SFT (the recipes' start)", "sft-half"),
                             ("SFT with knowledge probing", "sft-probe"), ("GRPO, abstention-aware reward", "grpo-refusal")]),
        "",
    ]
    base = figure(evals, "sft", INVENTED)
    for name, label in [("probing", "sft-probe"), ("GRPO", "grpo-refusal")]:
        recipe = figure(evals, label, INVENTED)
        if base is None or recipe is None:
            lines.append(f"- {name}: not measured yet.")
            continue
        ratio = recipe[0] / base[0] if base[0] > 0 else float("nan")
        halved = "halved" if ratio <= 0.5 else "not halved"
        acc = paired(evals, label, "sft", ACC)
        within = acc is not None and abs(acc[0]) <= 0.03
        lines.append(f"- {name}: invented answers {100 * base[0]:.1f}% -> {100 * recipe[0]:.1f}% of the mean "
                     f"({ratio:.2f} times plain SFT's: {halved}); invented, per-seed change "
                     f"{change_text(paired(evals, label, 'sft', INVENTED))}; answerable accuracy, per-seed change "
                     f"{change_text(acc)} ({'within' if within else 'not within'} 3 points on the mean). Against its "
                     f"start (first-half SFT): invented {change_text(paired(evals, label, 'sft-half', INVENTED))}, "
                     f"answerable accuracy {change_text(paired(evals, label, 'sft-half', ACC))}.")
    lines += [
        "",
        "**(b) Hallucination against the share of facts seen once** (Kalai et al. 2025: a model that always "
        "answers errs on at least about the share of facts seen once). The plain-SFT pipeline with 10%, 30% and "
        "60% of the corpus facts written once (10% never; the rest split between 2-4 and 5-8 times in equal "
        "shares). \"Wrong of answerable\" counts wrong answers over all answerable questions; a refusal is not an error.",
        "",
        "| facts seen once | test questions seen once | accuracy (answerable) | wrong of answerable | wrong of answerable, seen once | hallucination (wrong of attempted) | invented | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for share, label in [("10%", "sft-once10"), ("30%", "sft"), ("60%", "sft-once60")]:
        runs = evals.get(label, {})
        seen_once = next(iter(runs.values()))["abstention"].get("seen 1", {}).get("questions", 0) if runs else "n/a"
        lines.append(f"| {share} | {seen_once} | {pct(figure(evals, label, ACC))} | {pct(figure(evals, label, error_rate))} | "
                     f"{pct(figure(evals, label, lambda d: error_rate(d, 'seen 1')))} | "
                     f"{pct(figure(evals, label, lambda d: rate(d, 'corpus', 'hallucination')))} | "
                     f"{pct(figure(evals, label, INVENTED))} | {seeds_of(evals, label)} |")
    lines.append("")
    floor = []
    for share, label in [(0.1, "sft-once10"), (0.3, "sft"), (0.6, "sft-once60")]:
        wrong = figure(evals, label, error_rate)
        if wrong is None:
            continue
        low = wrong[0] - wrong[1] if wrong[1] is not None else wrong[0]
        where = "above it" if low > share else ("mean above it, interval reaching below" if wrong[0] > share else "below it")
        floor.append(f"{100 * share:.0f}% seen once: wrong of answerable {where}")
    if floor:
        lines.append("- The floor, share by share: " + "; ".join(floor) + ".")
    lines += [
        "",
        "**(c) Fine-tuning on unknown facts** (Gekhman et al. 2024). Both variants start from "
        "knowledge-probe-sft's first SFT (one half of the training questions) and fine-tune on every training "
        "question: knowledge-unknown-sft keeps every answer, the unknown facts' included; knowledge-probe-sft's "
        "`sft_probe` turns the answers the probe found unknown into \"I don't know\". Known facts: the answerable "
        "test questions the starting model answered right (per seed); kept: still right after; now wrong: answered wrongly after.",
        "",
        *suite_table(evals, [("start (first half)", "sft-half"), ("then every answer", "sft-answers"),
                             ("then \"I don't know\" for unknown facts", "sft-probe")]),
        "",
    ]
    known = {s: known_facts(directory, evals, s) for s in sorted(evals.get("sft-half", {}))}
    known = {s: k for s, k in known.items() if k}
    if known:
        counts = ", ".join(f"{k['known']} (seed {s})" for s, k in known.items())
        lines.append(f"| known facts ({counts}) | kept | now wrong |")
        lines.append("|---|---|---|")
        for name, label in [("every answer", "sft-answers"), ("\"I don't know\" for unknown facts", "sft-probe")]:
            kept = summary([k[label][0] for k in known.values()])
            wrong = summary([k[label][1] for k in known.values()])
            lines.append(f"| {name} | {pct(kept)} | {pct(wrong)} |")
        lines.append("")
    lines += [
        "**(d) The abstention tax of reasoning RL.** knowledge-abstention-tax: arithmetic and knowledge learned "
        "together, then GRPO on an even mix of arithmetic and knowledge questions with a "
        "correctness-only reward (a refusal scores 0, like a wrong answer). Arithmetic accuracy is greedy, on "
        "arithmetic's test split.",
        "",
        "| checkpoint | arithmetic accuracy | knowledge accuracy (answerable) | over-refusal | invented | hallucination (wrong of attempted) | SimpleQA F | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in [("before GRPO (sft)", "tax-before"), ("after GRPO", "tax-after")]:
        arithmetic = figure(evals, label + "-arithmetic", lambda d: d["greedy_accuracy"])
        lines.append(f"| {name} | {pct(arithmetic)} | {pct(figure(evals, label, ACC))} | {pct(figure(evals, label, REFUSE))} | "
                     f"{pct(figure(evals, label, INVENTED))} | {pct(figure(evals, label, HALLU))} | {pct(figure(evals, label, F))} | "
                     f"{seeds_of(evals, label)} |")
    lines.append("")
    for name, fn in [("invented", INVENTED), ("over-refusal", REFUSE), ("knowledge accuracy", ACC)]:
        lines.append(f"- {name}, per-seed change over GRPO: {change_text(paired(evals, 'tax-after', 'tax-before', fn))}")
    arith = paired(evals, "tax-after-arithmetic", "tax-before-arithmetic", lambda d: d["greedy_accuracy"])
    lines.append(f"- arithmetic accuracy, per-seed change over GRPO: {change_text(arith)}")
    write_section(readme, "knowledge", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python3 scripts/knowledge_table.py RESULTS_DIR/knowledge README.md")
    main(sys.argv[1], sys.argv[2])
