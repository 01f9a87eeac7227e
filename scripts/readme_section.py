"""Replace the text between a README's `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers: how
the scripts that measure something (results_table.py, scaling.py, wording.py) write their tables."""
import sys


def write_section(readme, name, text):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = open(readme).read()
    if begin not in content or end not in content:
        sys.exit(f"{readme}: no {begin} ... {end} markers to write between")
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(readme, "w").write(head + begin + "\n" + text + "\n" + end + tail)
