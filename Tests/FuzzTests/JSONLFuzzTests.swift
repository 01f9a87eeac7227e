// Fuzzed JSONL task files: 1,000 mutants of a realistic task file (FuzzFixtures.jsonlTasks)
// through both entries of the loader, `JSONLEnvironment(text:source:)` and
// `JSONLEnvironment(path:)` (the mutant's bytes written to a file, non-UTF-8 included).
//
// A file loads or throws. A thrown error names the file (the source or the path): a JSONLError
// whose first problems are shown with their lines, or, from `init(path:)` and only for bytes
// that are not UTF-8, a ConfigError naming the line of the first invalid byte. Both entries
// agree on UTF-8 text.
//
// Every line is accounted for, the lines being the text split at "\n" (a "\r" before it
// dropped): each non-blank line is either a loaded task, whose metadata "line" names a line
// holding that prompt, answer and (under "fields") exactly its other keys, or a problem with its
// number; a blank line is neither, and no number is past the last line.
//
// What loads is used as users use it: every task listed, verified with four completions (the
// reference as an answer line must be correct where the reference is plain; a refusal is
// refused; an empty answer is never correct), documented, split-keyed, demonstrated, sampled.
// python_tests tasks run the sandbox, so only `pythonVerifications` of them in a whole run, each
// one whose reference or cases a mutant changed, with no verdict required.
//
// Beside the mutants: the original loads whole with Windows line endings too, and a missing
// path, a directory, an empty file and a file of blank lines fail naming the path.
import Environments
import Foundation
import PonderCore
import Testing

@Suite struct JSONLFuzzTests {
    static let mutants = 1_000
    static let seed: UInt64 = 0x15A1
    static let pythonVerifications = 3

    @Test func mutatedTaskFilesLoadOrFailNamingTheFileAndLine() throws {
        let original = FuzzFixtures.jsonlTasks()
        let directory = try FuzzDirectory("jsonl")
        defer { directory.remove() }
        let url = directory.file("tasks.jsonl")
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)
        let audit = Audit(original: try JSONLEnvironment(text: String(decoding: original, as: UTF8.self)))

        let fromText = try FuzzRun.run("JSONL text", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .jsonl)
            let source = "fuzz/tasks-\(index).jsonl"
            let context = "\(mutant.label) (text); rerun it alone with PONDER_FUZZ_SEED=\(seed) PONDER_FUZZ_ONLY=\(index)"
            return FuzzCase(label: mutant.label + " (text)", kinds: mutant.kinds.map(\.rawValue),
                            load: {
                                let environment = try JSONLEnvironment(text: String(decoding: mutant.bytes, as: UTF8.self), source: source)
                                audit.use(environment, of: mutant.bytes, at: context)
                            },
                            check: { Self.problem(with: $0, bytes: mutant.bytes, file: source, fromPath: false) })
        }

        let fromFile = try FuzzRun.run("JSONL file", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .jsonl)
            try FuzzDirectory.write(mutant.bytes, to: url)
            let context = "\(mutant.label) (file); rerun it alone with PONDER_FUZZ_SEED=\(seed) PONDER_FUZZ_ONLY=\(index)"
            return FuzzCase(label: mutant.label + " (file)", kinds: mutant.kinds.map(\.rawValue),
                            load: {
                                let outcome = Result { try JSONLEnvironment(path: url.path) }
                                audit.compare(outcome, withText: mutant.bytes, at: context)
                                let environment = try outcome.get()
                                audit.use(environment, of: mutant.bytes, at: context, python: false)
                            },
                            check: { Self.problem(with: $0, bytes: mutant.bytes, file: url.path, fromPath: true) })
        }

        #expect(fromText.badErrors == 0 && fromFile.badErrors == 0)
        #expect(audit.violations == 0, "mutants that broke the loader's promises (the first 20 are recorded above)")
        print("fuzz JSONL: \(audit.problems) problem lines checked, \(audit.verified) verifications "
              + "(\(audit.python) python_tests), \(audit.violations) violations")
        if FuzzRun.isFullRun {
            #expect(fromText.errors > 0 && fromText.loaded > fromText.mutants / 2,
                    "most mutants damage a line or two, so most load: \(fromText)")
            #expect(fromFile.errors > fromText.errors, "non-UTF-8 files are refused only by init(path:)")
            #expect(audit.problems > 0 && audit.python > 0)
            #expect(fromText.kinds == Set(Mutation.kinds(for: .jsonl).map(\.rawValue)), "every mutation kind should run")
        }
    }

    /// The original loads whole, with its line endings as Windows writes them too.
    @Test func theOriginalLoadsWholeWithEitherLineEnding() throws {
        let original = FuzzFixtures.jsonlTasks()
        let audit = Audit(original: try JSONLEnvironment(text: String(decoding: original, as: UTF8.self)))
        let crlf = Mutator.crlf(original)
        for bytes in [original, crlf] {
            let environment = try JSONLEnvironment(text: String(decoding: bytes, as: UTF8.self), source: "tasks.jsonl")
            #expect(environment.problems.isEmpty, "\(environment.problems)")
            #expect(environment.tasks.map(\.id) == audit.original.tasks.map(\.id))
            #expect(environment.tasks.count == Self.lines(bytes).filter { !Self.isBlank($0) }.count)
            audit.use(environment, of: bytes, at: bytes == crlf ? "the original, CRLF" : "the original", python: false)
        }
        #expect(audit.violations == 0)
        #expect(audit.verified > 0)
    }

    @Test func unreadableAndEmptyFilesFailNamingThePath() throws {
        let directory = try FuzzDirectory("jsonl-unreadable")
        defer { directory.remove() }
        let empty = directory.file("empty.jsonl"), blank = directory.file("blank.jsonl")
        try FuzzDirectory.write([], to: empty)
        try FuzzDirectory.write(Array(" \n\t\r\n\n".utf8), to: blank)
        for (path, kind) in [(directory.file("missing.jsonl").path, "ConfigError"), (directory.url.path, "ConfigError"),
                             (empty.path, "JSONLError"), (blank.path, "JSONLError")] {
            do {
                _ = try JSONLEnvironment(path: path)
                Issue.record("\(path) loaded")
            } catch {
                #expect("\(type(of: error))" == kind && "\(error)".contains(path), "\(error)")
                if let error = error as? JSONLError { #expect(error.problems.isEmpty, "\(error)") }
            }
        }
    }

    // MARK: The loader's promises

    /// Checks what loads and counts what breaks a promise; records the first 20 breaches.
    final class Audit {
        let original: JSONLEnvironment
        private(set) var violations = 0
        private(set) var problems = 0
        private(set) var verified = 0
        private(set) var python = 0
        private var pythonSeen: Set<String> = []

        init(original: JSONLEnvironment) {
            self.original = original
            pythonSeen = Set(original.tasks.map(Self.pythonKey))
        }

        func record(_ what: String, at context: String) {
            violations += 1
            if violations <= 20 { Issue.record("JSONL, \(context): \(what)") }
        }

        static func pythonKey(_ task: EnvTask) -> String {
            [task.reference, task.metadata["function"] ?? "", task.metadata["inputs"] ?? "", task.metadata["expected"] ?? ""]
                .joined(separator: "\u{0}")
        }

        /// Lines and problems accounted for, then every task used as users use it.
        func use(_ environment: JSONLEnvironment, of bytes: [UInt8], at context: String, python: Bool = true) {
            let lines = JSONLFuzzTests.lines(bytes)
            checkProblems(environment.problems, lines: lines, at: context)
            let tasks = environment.tasks
            if tasks.count != environment.count || tasks.isEmpty {
                record("\(tasks.count) tasks listed, count \(environment.count)", at: context)
            }
            if Set(tasks.map(\.id)).count != tasks.count { record("two tasks share an id", at: context) }
            var loadedLines: Set<Int> = []
            for task in tasks {
                guard let line = task.metadata["line"].flatMap({ Int($0) }), (1...lines.count).contains(line) else {
                    record("task \(task.id) names line \(task.metadata["line"] ?? "nil") of \(lines.count)", at: context)
                    continue
                }
                loadedLines.insert(line)
                checkTask(task, of: environment, line: lines[line - 1], number: line, at: context)
                verify(task, of: environment, at: context, python: python)
            }
            let problemLines = Set(environment.problems.map(\.line))
            let nonBlank = Set(lines.indices.filter { !JSONLFuzzTests.isBlank(lines[$0]) }.map { $0 + 1 })
            if !loadedLines.isDisjoint(with: problemLines) {
                record("lines \(loadedLines.intersection(problemLines).sorted()) both loaded and reported", at: context)
            }
            if loadedLines.union(problemLines) != nonBlank {
                record("lines \(nonBlank.subtracting(loadedLines.union(problemLines)).sorted()) neither loaded nor reported; "
                       + "blank lines \(loadedLines.union(problemLines).subtracting(nonBlank).sorted()) used", at: context)
            }
            var rng = RNG(seed: 7)
            let sampled = environment.sample(&rng)
            if !tasks.contains(sampled) { record("sampled a task that is not listed: \(sampled.id)", at: context) }
        }

        func checkProblems(_ reported: [JSONLProblem], lines: [String], at context: String) {
            problems += reported.count
            for complaint in JSONLFuzzTests.complaints(about: reported, lines: lines) { record(complaint, at: context) }
        }

        /// The task is the line it names: its prompt, its answer, its other keys.
        func checkTask(_ task: EnvTask, of environment: JSONLEnvironment, line: String, number: Int, at context: String) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let prompt = object["prompt"] as? String else {
                record("task \(task.id) names line \(number), which holds no prompt: \(line.prefix(80))", at: context)
                return
            }
            if task.question != prompt || environment.splitKey(task) != prompt {
                record("task \(task.id): question and split key are not line \(number)'s prompt", at: context)
            }
            if let answer = object["answer"] as? String, task.reference != answer {
                record("task \(task.id): reference \(task.reference.debugDescription) is not line \(number)'s answer", at: context)
            } else if !(object["answer"] is String), Double(task.reference) == nil {
                record("task \(task.id): reference \(task.reference.debugDescription) of a numeric answer", at: context)
            }
            let extra = Set(object.keys).subtracting(["prompt", "answer", "verifier", "tests"])
            let fields = (task.metadata[JSONLEnvironment.fieldsKey]).flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            if fields.map({ Set($0.keys) }) != extra {
                record("task \(task.id): fields \(task.metadata[JSONLEnvironment.fieldsKey] ?? "nil") are not line \(number)'s "
                       + "other keys \(extra.sorted())", at: context)
            }
            let document = environment.document(task)
            if !document.hasPrefix(task.question) || !document.contains(task.reference) {
                record("task \(task.id): the document lacks the prompt or the answer", at: context)
            }
            for style in environment.styles where environment.demonstration(task, style: style).finalText.isEmpty {
                record("task \(task.id): an empty \(style) demonstration", at: context)
            }
        }

        func verify(_ task: EnvTask, of environment: JSONLEnvironment, at context: String, python allowed: Bool) {
            let kind = task.metadata["verifier"] ?? ""
            if kind == JSONLEnvironment.VerifierKind.pythonTests.rawValue {
                guard allowed, python < JSONLFuzzTests.pythonVerifications,
                      pythonSeen.insert(Self.pythonKey(task)).inserted else { return }
                python += 1
                verified += 1
                _ = environment.verify(task, environment.demonstration(task, style: .direct))
                return
            }
            let answer = "Answer: \(task.reference)"
            let graded = [answer, "I don't know.", "", "Answer: 12345.678 zqx"].map { environment.verify(task, .assistant($0)) }
            verified += graded.count
            if JSONLFuzzTests.plainlyCorrect(kind, reference: task.reference, completion: answer), graded[0].kind != .correct {
                record("task \(task.id) (\(kind)): \(answer.debugDescription) graded \(graded[0].kind)", at: context)
            }
            if graded[1].kind != .refused { record("task \(task.id): a refusal graded \(graded[1].kind)", at: context) }
            if graded[2].kind == .correct { record("task \(task.id): an empty answer graded correct", at: context) }
        }

        /// `init(path:)` against `init(text:)`: the same outcome on UTF-8, a ConfigError otherwise.
        func compare(_ outcome: Result<JSONLEnvironment, any Error>, withText bytes: [UInt8], at context: String) {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                if case .success = outcome { record("a file that is not UTF-8 loaded", at: context) }
                return
            }
            let fromText = Result { try JSONLEnvironment(text: text) }
            switch (outcome, fromText) {
            case (.success(let file), .success(let memory)):
                if file.tasks.map(\.id) != memory.tasks.map(\.id) || file.problems != memory.problems {
                    record("the file and its text load differently", at: context)
                }
            case (.failure(let file as JSONLError), .failure(let memory as JSONLError)):
                if file.problems != memory.problems { record("the file and its text fail differently", at: context) }
            default:
                record("the file and its text differ: \(outcome) / \(fromText)", at: context)
            }
        }
    }

    // MARK: Errors

    /// What a thrown error lacks: the file, and the lines of its problems (or of the first
    /// invalid byte).
    static func problem(with error: any Error, bytes: [UInt8], file: String, fromPath: Bool) -> String? {
        let text = "\(error)"
        if let missing = FuzzRun.names(file, in: text) { return missing }
        let lines = Self.lines(bytes)
        switch error {
        case let error as JSONLError:
            if error.file != file { return "names \(error.file) as its file" }
            let nonBlank = lines.filter { !isBlank($0) }.count
            if error.problems.count != nonBlank { return "has \(error.problems.count) problems for \(nonBlank) non-blank lines" }
            if let complaint = complaints(about: error.problems, lines: lines).first { return "has \(complaint)" }
            for problem in error.problems.prefix(3) where !text.contains(problem.description) {
                return "does not show \(problem)"
            }
            return nil
        case is ConfigError where fromPath:
            guard let line = firstInvalidLine(bytes) else { return "refuses UTF-8 text as not UTF-8" }
            return numbers(after: "line ", in: text).contains(line) ? nil : "does not name line \(line), the first invalid byte's"
        default:
            return "is a \(type(of: error))"
        }
    }

    /// What is wrong with reported problems: each must be on a non-blank line that exists,
    /// once, in order, starting with its line.
    static func complaints(about reported: [JSONLProblem], lines: [String]) -> [String] {
        var out: [String] = []
        for problem in reported {
            if !(1...lines.count).contains(problem.line) {
                out.append("a problem on line \(problem.line), but the text has \(lines.count) lines: \(problem)")
            } else if isBlank(lines[problem.line - 1]) {
                out.append("a problem on blank line \(problem.line): \(problem)")
            }
            if !problem.description.hasPrefix("line \(problem.line): ") || problem.reason.isEmpty {
                out.append("a problem that does not start with its line: \(problem)")
            }
        }
        if zip(reported, reported.dropFirst()).contains(where: { $0.line >= $1.line }) {
            out.append("problems out of order or repeated: \(reported.map(\.line))")
        }
        return out
    }

    // MARK: Reading the mutant independently of the loader

    /// The lines: split at "\n", a "\r" just before a "\n" dropped, invalid bytes as U+FFFD.
    static func lines(_ bytes: [UInt8]) -> [String] {
        let parts = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        return parts.enumerated().map { index, part in
            let cr = index < parts.count - 1 && part.last == UInt8(ascii: "\r")
            return String(decoding: cr ? part.dropLast() : part, as: UTF8.self)
        }
    }

    static func isBlank(_ line: String) -> Bool { line.trimmingCharacters(in: .whitespaces).isEmpty }

    /// The line of the first byte that is not UTF-8; nil for valid UTF-8.
    static func firstInvalidLine(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return 1 + bytes[..<offset].filter { $0 == UInt8(ascii: "\n") }.count
            case .emptyInput: return nil
            }
        }
    }

    /// The numbers right after each `prefix` in `text`.
    static func numbers(after prefix: String, in text: String) -> [Int] {
        text.components(separatedBy: prefix).dropFirst().compactMap { Int($0.prefix { $0.isASCII && $0.isNumber }) }
    }

    /// Whether "Answer: REFERENCE" must be graded correct: a plain decimal for number; for
    /// exact and contains, one line with words, no "answer" in it, and not a refusal.
    static func plainlyCorrect(_ kind: String, reference: String, completion: String) -> Bool {
        if Refusal.isRefusal(completion) { return false }
        switch JSONLEnvironment.VerifierKind(rawValue: kind) {
        case .number?:
            let parts = reference.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
            let whole = parts[0].hasPrefix("-") ? parts[0].dropFirst() : parts[0]
            func digits(_ s: Substring, _ most: Int) -> Bool { (1...most).contains(s.count) && s.allSatisfy { $0.isASCII && $0.isNumber } }
            return parts.count <= 2 && digits(whole, 15) && (parts.count == 1 || digits(parts[1], 6))
        case .exact?, .contains?:
            return !Answers.normalized(reference).isEmpty && !reference.contains(where: \.isNewline)
                && !reference.lowercased().contains("answer")
        default:
            return false
        }
    }
}
