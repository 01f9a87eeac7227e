// Code task families: a short spec, a reference solution, and inputs with expected outputs.
//
// Each family is parameterised by the RNG (a threshold, a divisor, a letter), so one family yields
// many distinct specs. Expected outputs are computed by the Swift twin of the reference solution;
// tests in EnvironmentsTests run each Python reference in the sandbox against them.
import PonderCore

struct CodeFamily: Sendable {
    let id: String
    /// Builds (function name, parameter list, spec sentence, reference body, Swift reference,
    /// input generator) from the RNG.
    let make: @Sendable (inout RNG) -> CodeSpec
}

struct CodeSpec: Sendable {
    var function: String
    var parameters: String
    var spec: String
    var solution: String
    var reference: @Sendable ([PyValue]) -> PyValue
    var inputs: @Sendable (inout RNG) -> [PyValue]
    /// A classic bug for this spec, or nil: what a careless demonstrator writes instead.
    var pitfall: CodePitfall? = nil

    /// The whole function around a body: "def f(xs):\n    return xs\n".
    func definition(_ body: String) -> String { "def \(function)(\(parameters)):\n    \(body)\n" }
}

/// A plausible wrong solution (off by one, a forgotten bound, a wrong start value) and its Swift
/// twin, which says what the buggy code prints; the hidden tests catch it on some inputs.
struct CodePitfall: Sendable {
    var solution: String
    var reference: @Sendable ([PyValue]) -> PyValue
}

private func intList(_ r: inout RNG, count: ClosedRange<Int> = 0...8, values: ClosedRange<Int> = -20...20) -> PyValue {
    .list((0..<r.nextInt(in: count)).map { _ in .int(r.nextInt(in: values)) })
}

private func lowerWord(_ r: inout RNG) -> PyValue { .str(Words.word(&r, syllables: r.nextInt(in: 1...4))) }

enum CodeFamilies {
    static let all: [CodeFamily] = [
        CodeFamily(id: "sum_divisible") { r in
            let k = r.nextInt(in: 2...5)
            let what = k == 2 ? "even numbers" : "numbers divisible by \(k)"
            return CodeSpec(function: k == 2 ? "sum_even" : "sum_divisible_by_\(k)", parameters: "xs",
                            spec: "return the sum of the \(what) in the list of integers xs",
                            solution: "return sum(x for x in xs if x % \(k) == 0)",
                            reference: { .int($0[0].ints.filter { $0 % k == 0 }.reduce(0, +)) },
                            inputs: { r in [intList(&r)] },
                            pitfall: CodePitfall(solution: "return sum(x for x in xs if x % \(k) == 0 and x > 0)",
                                                 reference: { .int($0[0].ints.filter { $0 % k == 0 && $0 > 0 }.reduce(0, +)) }))
        },
        CodeFamily(id: "count_greater") { r in
            let t = r.nextInt(in: -5...10)
            return CodeSpec(function: "count_greater", parameters: "xs",
                            spec: "return how many integers in the list xs are greater than \(t)",
                            solution: "return sum(1 for x in xs if x > \(t))",
                            reference: { .int($0[0].ints.filter { $0 > t }.count) },
                            inputs: { r in [intList(&r)] },
                            pitfall: CodePitfall(solution: "return sum(1 for x in xs if x >= \(t))",
                                                 reference: { .int($0[0].ints.filter { $0 >= t }.count) }))
        },
        CodeFamily(id: "scale") { r in
            let m = r.nextInt(in: 2...9)
            return CodeSpec(function: "times_\(m)", parameters: "xs",
                            spec: "return a new list with every integer of xs multiplied by \(m)",
                            solution: "return [x * \(m) for x in xs]",
                            reference: { .list($0[0].ints.map { .int($0 * m) }) },
                            inputs: { r in [intList(&r)] })
        },
        CodeFamily(id: "reverse") { _ in
            CodeSpec(function: "reverse_word", parameters: "s",
                     spec: "return the string s reversed",
                     solution: "return s[::-1]",
                     reference: { .str(String($0[0].string.reversed())) },
                     inputs: { r in [lowerWord(&r)] })
        },
        CodeFamily(id: "count_letter") { r in
            let letter = Words.vowels.sorted()[r.nextInt(below: 5)]
            return CodeSpec(function: "count_\(letter)", parameters: "s",
                            spec: "return how many times the letter '\(letter)' occurs in the string s",
                            solution: "return s.count('\(letter)')",
                            reference: { .int($0[0].string.filter { $0 == letter }.count) },
                            inputs: { r in [lowerWord(&r)] })
        },
        CodeFamily(id: "largest") { _ in
            CodeSpec(function: "largest", parameters: "xs",
                     spec: "return the largest integer in the non-empty list xs",
                     solution: "return max(xs)",
                     reference: { .int($0[0].ints.max() ?? 0) },
                     inputs: { r in [intList(&r, count: 1...8)] },
                     pitfall: CodePitfall(solution: "best = 0\n    for x in xs:\n        if x > best:\n            best = x\n    return best",
                                          reference: { .int(Swift.max(0, $0[0].ints.max() ?? 0)) }))
        },
        CodeFamily(id: "palindrome") { _ in
            CodeSpec(function: "is_palindrome", parameters: "s",
                     spec: "return True if the string s reads the same backwards, else False",
                     solution: "return s == s[::-1]",
                     reference: { .bool($0[0].string == String($0[0].string.reversed())) },
                     inputs: { r in
                         let w = Words.word(&r, syllables: r.nextInt(in: 1...3))
                         return [.str(r.nextInt(below: 2) == 0 ? w + String(w.reversed()) : w)]
                     },
                     // A str never equals the iterator reversed() returns.
                     pitfall: CodePitfall(solution: "return s == reversed(s)", reference: { _ in .bool(false) }))
        },
        CodeFamily(id: "multiples_below") { r in
            let k = r.nextInt(in: 3...7)
            return CodeSpec(function: "sum_multiples_of_\(k)", parameters: "n",
                            spec: "return the sum of the positive multiples of \(k) that are smaller than n",
                            solution: "return sum(range(\(k), n, \(k)))",
                            reference: { args in
                                guard case .int(let n) = args[0] else { return .int(0) }
                                return .int(stride(from: k, to: max(k, n), by: k).reduce(0, +))
                            },
                            inputs: { r in [.int(r.nextInt(in: 0...60))] },
                            pitfall: CodePitfall(solution: "return sum(range(\(k), n + 1, \(k)))", reference: { args in
                                guard case .int(let n) = args[0] else { return .int(0) }
                                return .int(stride(from: k, through: n, by: k).reduce(0, +))
                            }))
        },
        CodeFamily(id: "running_total") { _ in
            CodeSpec(function: "running_total", parameters: "xs",
                     spec: "return the list of running totals of xs (element i is the sum of xs[0..i])",
                     solution: "out, total = [], 0\n    for x in xs:\n        total += x\n        out.append(total)\n    return out",
                     reference: { args in
                         var total = 0
                         return .list(args[0].ints.map { total += $0; return .int(total) })
                     },
                     inputs: { r in [intList(&r)] },
                     pitfall: CodePitfall(solution: "return [sum(xs[:i]) for i in range(len(xs))]", reference: { args in
                         var total = 0
                         return .list(args[0].ints.map { x in defer { total += x }; return .int(total) })
                     }))
        },
        CodeFamily(id: "clip") { r in
            let lo = r.nextInt(in: -10...0), hi = r.nextInt(in: 1...10)
            return CodeSpec(function: "clip_values", parameters: "xs",
                            spec: "return a new list where each integer of xs below \(lo) becomes \(lo) and each above \(hi) becomes \(hi)",
                            solution: "return [min(max(x, \(lo)), \(hi)) for x in xs]",
                            reference: { .list($0[0].ints.map { .int(Swift.min(Swift.max($0, lo), hi)) }) },
                            inputs: { r in [intList(&r)] },
                            pitfall: CodePitfall(solution: "return [min(x, \(hi)) for x in xs]",
                                                 reference: { .list($0[0].ints.map { .int(Swift.min($0, hi)) }) }))
        },
    ]
}
