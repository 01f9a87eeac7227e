"""Reference values for StatisticsTests.swift and SplitTests.swift (run: python3 statistics_reference.py).

Student's t quantiles and CDF and the regularised incomplete beta come from scipy.special /
scipy.stats; the Wilson interval is written out from its formula; the split hash is
reimplemented from Split.swift (FNV-1a, then the SplitMix64 finaliser) so its Swift version
is checked against an independent one. Needs numpy and scipy (not needed by the tests, which
hold the printed values).
"""
import math
from scipy import special, stats

print("// t quantiles (p, nu, value)")
for p, nu in [(0.975, 1), (0.975, 2), (0.975, 4), (0.975, 9), (0.975, 29), (0.975, 199), (0.9, 3), (0.995, 5), (0.6, 12)]:
    print(f"({p}, {nu}, {float(stats.t.ppf(p, nu))!r}),")
print("// t CDF (t, nu, value)")
for t, nu in [(0.0, 3), (1.5, 2), (-2.0, 7), (4.303, 2), (0.3, 50)]:
    print(f"({t}, {nu}, {float(stats.t.cdf(t, nu))!r}),")
print("// regularised incomplete beta (a, b, x, value)")
for a, b, x in [(0.5, 0.5, 0.3), (2.0, 3.0, 0.4), (10.0, 0.5, 0.9), (0.5, 15.0, 0.02), (50.0, 50.0, 0.55)]:
    print(f"({a}, {b}, {x}, {float(special.betainc(a, b, x))!r}),")

def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)

print("// Wilson (k, n, lower, upper)")
for k, n in [(0, 10), (10, 10), (19, 100), (87, 200), (1, 3)]:
    lo, hi = wilson(k, n)
    print(f"({k}, {n}, {lo!r}, {hi!r}),")

M = (1 << 64) - 1
def unit_hash(key):
    h = 0xCBF29CE484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001B3) & M
    h ^= h >> 30; h = (h * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 27; h = (h * 0x94D049BB133111EB) & M
    h ^= h >> 31
    return (h >> 11) / 9007199254740992.0

print("// split hash (key, unit hash)")
for key in ["", "12 + 7", "letter|banana|a", "spec|count_greater|count_greater|return how many integers", "Capital of France?"]:
    print(f"({key!r}, {unit_hash(key)!r}),")
