// The code-test harness: runs a model's solution against hidden tests, unforgeably.
//
// Reward hacking this must defeat (DESIGN.md §5): exiting before the tests run, printing a fake
// success marker, patching the harness. The defences:
//   - Expected outputs never enter the sandbox. The harness only calls the function on each input
//     and reports the result as canonical JSON; we compare it here, outside. Forging a passing
//     report needs the right answers, which is solving the task.
//   - Reports go to fd 3, not stdout, each line prefixed with a per-run random nonce read from
//     fd 4 (and fd 4 closed) before the solution runs; lines without it are ignored.
//   - A test counts as passed only with exactly one report line for it; a missing report (the
//     program exited, crashed or timed out first) or a duplicate (someone else wrote one) fails.
//   - Results are serialised by the harness's own encoder, which accepts only exact built-in
//     types (a subclass of int or list with a lying `__eq__` or `__repr__` is rejected).
import Foundation
import PonderCore

struct CodeTestReport: Sendable {
    var passed: Int
    var total: Int
    var outcome: SandboxOutcome
    /// One line per test: "0 pass", "1 fail: got [2] want [4]", "2 missing".
    var lines: [String]
    var stdout: String
    var stderr: String

    var score: Double { total == 0 ? 0 : Double(passed) / Double(total) }
}

enum CodeHarness {
    static let source = #"""
    import os, sys
    _write, _read, _close, _type, _len, _str = os.write, os.read, os.close, type, len, str
    _int, _bool, _list, _tuple, _ord, _int_repr = int, bool, list, tuple, ord, int.__repr__
    nonce = _read(4, 64).decode()
    _close(4)

    def _enc(v):
        t = _type(v)
        if v is None: return "null"
        if t is _bool: return "true" if v else "false"
        if t is _int: return _int_repr(v)
        if t is _str:
            out = ['"']
            for ch in v:
                o = _ord(ch)
                if ch == '"': out.append('\\"')
                elif ch == '\\': out.append('\\\\')
                elif ch == '\n': out.append('\\n')
                elif ch == '\t': out.append('\\t')
                elif ch == '\r': out.append('\\r')
                elif o < 0x20 or o > 0x7e:
                    if o > 0xFFFF:
                        o -= 0x10000
                        out.append('\\u%04x\\u%04x' % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
                    else:
                        out.append('\\u%04x' % o)
                else: out.append(ch)
            out.append('"')
            return "".join(out)
        if t is _list or t is _tuple:
            return "[" + ",".join([_enc(x) for x in v]) + "]"
        raise TypeError("unsupported result type " + t.__name__)

    def _report(line):
        _write(3, (nonce + " " + line + "\n").encode())

    import json
    _loads = json.loads
    with open("/sandbox/tests.json") as f:
        spec = _loads(f.read())
    cases = [json.dumps(c) for c in spec["inputs"]]
    with open("/sandbox/solution.py") as f:
        code = f.read()
    namespace = {"__name__": "solution"}
    try:
        exec(compile(code, "solution.py", "exec"), namespace)
        fn = namespace[spec["function"]]
    except BaseException as e:
        _report("load " + _type(e).__name__)
        raise
    for i, case in enumerate(cases):
        try:
            line = _str(i) + " ok " + _enc(fn(*_loads(case)))
        except BaseException as e:
            line = _str(i) + " raised " + _type(e).__name__
        _report(line)
    _report("done")
    """#

    /// A random nonce from the system generator (not the seeded RNG: it must be unpredictable).
    static func nonce() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(g.next(), radix: 16) }.joined()
    }

    /// The sandbox program that tests `solution` on `inputs` (each a list of arguments).
    static func program(solution: String, function: String, inputs: [[PyValue]], nonce: String,
                        limits: SandboxLimits) -> SandboxProgram {
        let tests = "{\"function\":\(jsonString(function)),\"inputs\":["
            + inputs.map { "[" + $0.map(\.json).joined(separator: ",") + "]" }.joined(separator: ",") + "]}"
        return SandboxProgram(source, files: ["solution.py": solution, "tests.json": tests], limits: limits,
                              wantsReport: true, secret: nonce)
    }

    /// Grade a finished run: count tests with exactly one authentic report equal to the expectation.
    static func grade(_ result: SandboxResult, nonce: String, expected: [PyValue]) -> CodeTestReport {
        var reports: [Int: [String]] = [:]
        for line in result.report.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0] == nonce, let i = Int(parts[1]) else { continue }
            reports[i, default: []].append(parts.count > 2 ? String(parts[2]) : "")
        }
        var passed = 0
        var lines: [String] = []
        for (i, want) in expected.enumerated() {
            guard let got = reports[i] else { lines.append("\(i) missing"); continue }
            guard got.count == 1 else { lines.append("\(i) fail: \(got.count) reports"); continue }
            if got[0] == "ok " + want.json {
                passed += 1
                lines.append("\(i) pass")
            } else {
                lines.append("\(i) fail: got \(got[0].prefix(80)) want \(want.json.prefix(80))")
            }
        }
        return CodeTestReport(passed: passed, total: expected.count, outcome: result.outcome, lines: lines,
                              stdout: result.stdout, stderr: result.stderr)
    }

    static func run(_ sandbox: Sandbox, solution: String, function: String, inputs: [[PyValue]],
                    expected: [PyValue], limits: SandboxLimits) -> CodeTestReport {
        let nonce = nonce()
        let result = sandbox.run(program(solution: solution, function: function, inputs: inputs, nonce: nonce, limits: limits))
        return grade(result, nonce: nonce, expected: expected)
    }
}
