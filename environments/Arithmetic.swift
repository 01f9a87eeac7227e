// Arithmetic: +, -, *, // over k operands of n digits, with or without parentheses.
//
// The expression is a tree; its text is what Python would read (so the python-tool
// demonstration prints the same value) and `//` is Python's floor division. Without
// parentheses the tree comes from the usual precedence (* and // bind tighter, left to right);
// with them, a random tree is written with every inner node in parentheses. A task whose value
// needs a division by zero or leaves the exact range (|x| < 2^53) is drawn again.
import Foundation
import PonderCore

public struct ArithmeticEnvironment: Environment {
    public struct Config: Codable, Sendable, Equatable {
        /// Operand count range (k).
        public var minOperands = 2, maxOperands = 3
        /// Digits per operand range (n).
        public var minDigits = 1, maxDigits = 2
        /// Operators to draw from: any of "+", "-", "*", "//".
        public var operators = ["+", "-", "*", "//"]
        /// Probability that a task uses a parenthesised random tree.
        public var parentheses = 0.5
        public var systemPrompt: String? = nil

        public init() {}

        enum CodingKeys: String, CodingKey {
            case minOperands = "min_operands", maxOperands = "max_operands", minDigits = "min_digits"
            case maxDigits = "max_digits", operators, parentheses, systemPrompt = "system_prompt"
        }

        public func validate() throws {
            try ConfigError.check("arithmetic.min_operands", minOperands, in: 2...8)
            try ConfigError.check("arithmetic.max_operands", maxOperands, in: minOperands...8)
            try ConfigError.check("arithmetic.min_digits", minDigits, in: 1...9)
            try ConfigError.check("arithmetic.max_digits", maxDigits, in: minDigits...9)
            try ConfigError.check("arithmetic.parentheses", parentheses, in: 0...1)
            let allowed = Set(["+", "-", "*", "//"])
            if operators.isEmpty || !operators.allSatisfy(allowed.contains) {
                throw ConfigError(knob: "arithmetic.operators", allowed: "non-empty subset of + - * //",
                                  found: operators.joined(separator: " "))
            }
            // Without + or -, a product of many long operands always leaves the exact range of a
            // Double (2^53), and no redraw could help.
            if operators.contains("*"), !operators.contains("+"), !operators.contains("-"), maxDigits * maxOperands > 15 {
                throw ConfigError(knob: "arithmetic.max_digits * max_operands", allowed: "at most 15 when operators are only * and //",
                                  found: "\(maxDigits * maxOperands)")
            }
        }
    }

    public let config: Config
    public var name: String { "arithmetic" }
    public var tools: [Tool] { [.python] }
    public var styles: [DemonstrationStyle] { DemonstrationStyle.allCases }

    public init(_ config: Config = Config()) throws {
        try config.validate()
        self.config = config
    }

    indirect enum Expr {
        case number(Int)
        case op(String, Expr, Expr)
    }

    public func sample(_ rng: inout RNG) -> EnvTask {
        let seed = rng.next()
        var local = RNG(seed: seed)
        var attempts = 0
        while true {
            attempts += 1
            let k = local.nextInt(in: config.minOperands...config.maxOperands)
            let operands = (0..<k).map { _ -> Int in
                let n = local.nextInt(in: config.minDigits...config.maxDigits)
                let low = n == 1 ? 0 : pow10(n - 1)
                return local.nextInt(in: low...(pow10(n) - 1))
            }
            // Long products overflow; after many redraws, keep to the configured + and - (validate()
            // guarantees one of them exists whenever overflow is possible).
            let pool = attempts > 200 ? config.operators.filter { $0 == "+" || $0 == "-" } : config.operators
            let ops = (0..<(k - 1)).map { _ in pool[local.nextInt(below: pool.count)] }
            let parenthesised = local.nextDouble() < config.parentheses && k > 2
            let tree = parenthesised ? randomTree(operands[...], ops[...], &local) : precedenceTree(operands, ops)
            guard let value = evaluate(tree) else { continue }
            let text = render(tree, top: true, parenthesised: parenthesised)
            let difficulty = "\(k) operands of \(config.minDigits)-\(config.maxDigits) digits" + (parenthesised ? ", parentheses" : "")
            return EnvTask(
                id: "\(name)-\(stableDigest(String(seed), "\(config)"))",
                environment: name,
                prompt: Conversation(system: config.systemPrompt,
                                     user: "What is \(text)? (// is integer division rounding down.) End with \"Answer: N\"."),
                reference: String(value),
                metadata: ["expression": text],
                difficulty: difficulty,
                tools: tools)
        }
    }

    /// The phrasings (Environment.swift): {e} is the expression as Python reads it, {w} with
    /// operators in words ("12 plus 7 times 3"), {s} with numbers in words too. Every fourth,
    /// from index 3, is held out for the test split (`Phrasing.isUnseen`). Phrasing 0 is the
    /// original one, which `sample(_:)` writes.
    public static let phrasings: [String] = [
        "What is {e}? (// is integer division rounding down.) End with \"Answer: N\".",
        "Compute {e}.",
        "Calculate: {e}",
        "Evaluate {e} and give the result.",
        "{e} = ?",
        "What does {e} equal? End with \"Answer: N\".",
        "Work out {w}.",
        "What is {s}?",
        "Find the value of {e}. Give the answer as \"Answer: N\".",
        "Solve: {e}",
        "Please compute {e} and reply with just the number.",
        "State the final answer: {e} =",
        "How much is {w}?",
        "{e}\nWhat is the result?",
        "Tell me the value of {e}.",
        "Quick question: what's {e}?",
        "Evaluate the expression `{e}`.",
        "What do you get when you compute {w}? End with \"Answer: N\".",
        "Determine {e}. Put the final answer after \"Answer:\".",
        "I need the result of {e}, please.",
        "What number is {e}?",
        "Simplify {e} to a single integer.",
        "Compute the following: {e}. End with \"Answer: N\".",
        "If you work out {s}, what do you get?",
    ]

    public var wordings: Int { Self.phrasings.count }

    public func reword(_ task: EnvTask, wording: Int) -> EnvTask {
        guard let expression = task.metadata["expression"], Self.phrasings.indices.contains(wording) else { return task }
        var task = task
        let text = Self.phrasings[wording]
            .replacingOccurrences(of: "{e}", with: expression)
            .replacingOccurrences(of: "{w}", with: Self.operatorsInWords(expression))
            .replacingOccurrences(of: "{s}", with: Self.spelledOut(expression))
        task.prompt = Conversation(system: config.systemPrompt, user: text)
        return task
    }

    /// "12 + 7 // 2" -> "12 plus 7 divided by (rounding down) 2"
    static func operatorsInWords(_ expression: String) -> String {
        expression.replacingOccurrences(of: " + ", with: " plus ").replacingOccurrences(of: " - ", with: " minus ")
            .replacingOccurrences(of: " * ", with: " times ").replacingOccurrences(of: " // ", with: " divided by (rounding down) ")
    }

    /// Operators and numbers in words: "12 + 7" -> "twelve plus seven"
    static func spelledOut(_ expression: String) -> String {
        operatorsInWords(expression).split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            let core = word.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            guard let n = Int(core), n >= 0, n < 1_000_000 else { return String(word) }
            return word.replacingOccurrences(of: core, with: NumberWords.words(n))
        }.joined(separator: " ")
    }

    /// The expression as Python would read it ("12 + 7 * 3"): one tree, one text.
    public func splitKey(_ task: EnvTask) -> String { task.metadata["expression"] ?? task.question }

    public func verify(_ task: EnvTask, _ completion: Message) -> Verdict {
        Answers.integerVerdict(completion, reference: task.reference)
    }

    public func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message {
        let expression = task.metadata["expression"] ?? ""
        let answer = "Answer: \(task.reference)"
        switch style {
        case .direct:
            return .assistant(answer)
        case .think:
            var steps: [String] = []
            if let tree = parse(expression) { _ = evaluate(tree, steps: &steps) }
            return .assistant([.thinking(steps.joined(separator: "\n")), .text(answer)])
        case .tool:
            return .assistant([.toolCall(.python, "print(\(expression))"), .toolOutput("\(task.reference)\n"), .text(answer)])
        }
    }

    public func document(_ task: EnvTask) -> String {
        let expression = task.metadata["expression"] ?? ""
        var steps: [String] = []
        if let tree = parse(expression) { _ = evaluate(tree, steps: &steps) }
        return "To work out \(expression), go step by step.\n" + steps.joined(separator: "\n")
            + "\nSo \(expression) = \(task.reference)."
    }

    // MARK: expression trees

    private func randomTree(_ operands: ArraySlice<Int>, _ ops: ArraySlice<String>, _ rng: inout RNG) -> Expr {
        if operands.count == 1 { return .number(operands.first!) }
        let split = rng.nextInt(below: ops.count)  // ops[split] is the root
        let i = ops.startIndex + split
        let left = randomTree(operands[operands.startIndex...(operands.startIndex + split)], ops[ops.startIndex..<i], &rng)
        let right = randomTree(operands[(operands.startIndex + split + 1)...], ops[(i + 1)...], &rng)
        return .op(ops[i], left, right)
    }

    /// Python's precedence: * and // first, left to right, then + and -.
    private func precedenceTree(_ operands: [Int], _ ops: [String]) -> Expr {
        var terms: [Expr] = [.number(operands[0])]
        var joins: [String] = []
        for (op, x) in zip(ops, operands.dropFirst()) {
            if op == "*" || op == "//" {
                terms[terms.count - 1] = .op(op, terms[terms.count - 1], .number(x))
            } else {
                joins.append(op)
                terms.append(.number(x))
            }
        }
        var tree = terms[0]
        for (op, t) in zip(joins, terms.dropFirst()) { tree = .op(op, tree, t) }
        return tree
    }

    func render(_ e: Expr, top: Bool, parenthesised: Bool) -> String {
        switch e {
        case .number(let n): return String(n)
        case .op(let op, let l, let r):
            let s = "\(render(l, top: false, parenthesised: parenthesised)) \(op) \(render(r, top: false, parenthesised: parenthesised))"
            return parenthesised && !top ? "(\(s))" : s
        }
    }

    func evaluate(_ e: Expr) -> Int? {
        var ignored: [String] = []
        return evaluate(e, steps: &ignored)
    }

    /// Value of the tree, appending one line per operation ("12 * 34 = 408") in evaluation order.
    func evaluate(_ e: Expr, steps: inout [String]) -> Int? {
        switch e {
        case .number(let n): return n
        case .op(let op, let l, let r):
            guard let a = evaluate(l, steps: &steps), let b = evaluate(r, steps: &steps) else { return nil }
            let result: (Int, Bool)
            switch op {
            case "+": result = a.addingReportingOverflow(b)
            case "-": result = a.subtractingReportingOverflow(b)
            case "*": result = a.multipliedReportingOverflow(by: b)
            default:
                guard b != 0 else { return nil }
                result = (floorDivide(a, b), false)
            }
            guard !result.1, abs(result.0) < 1 << 53 else { return nil }
            steps.append("\(a) \(op) \(b < 0 ? "(\(b))" : String(b)) = \(result.0)")
            return result.0
        }
    }

    /// Parse an expression this environment wrote (integers, + - * //, parentheses).
    func parse(_ text: String) -> Expr? {
        var tokens: [String] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == " " { i = text.index(after: i); continue }
            if c.isNumber {
                var j = i
                while j < text.endIndex, text[j].isNumber { j = text.index(after: j) }
                tokens.append(String(text[i..<j])); i = j; continue
            }
            if c == "/" { tokens.append("//"); i = text.index(i, offsetBy: 2); continue }
            tokens.append(String(c)); i = text.index(after: i)
        }
        var position = 0
        func primary() -> Expr? {
            guard position < tokens.count else { return nil }
            let t = tokens[position]; position += 1
            if t == "(" {
                let e = sum()
                position += 1  // ")"
                return e
            }
            return Int(t).map { .number($0) }
        }
        func product() -> Expr? {
            guard var e = primary() else { return nil }
            while position < tokens.count, tokens[position] == "*" || tokens[position] == "//" {
                let op = tokens[position]; position += 1
                guard let r = primary() else { return nil }
                e = .op(op, e, r)
            }
            return e
        }
        func sum() -> Expr? {
            guard var e = product() else { return nil }
            while position < tokens.count, tokens[position] == "+" || tokens[position] == "-" {
                let op = tokens[position]; position += 1
                guard let r = product() else { return nil }
                e = .op(op, e, r)
            }
            return e
        }
        return sum()
    }
}

/// Python's `//`: rounds toward negative infinity.
func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q
}

func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }
