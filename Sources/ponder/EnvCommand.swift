// ponder env: look at what the environments generate and how their verifiers grade it.
import ArgumentParser
import Environments
import Foundation
import PonderCore

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Sample tasks, demonstrations and verdicts from the environments.",
        subcommands: [Sample.self, Corpus.self, List.self]
    )

    struct Options: ParsableArguments {
        @Argument(help: "Environment: \(EnvironmentRegistry.names.joined(separator: ", ")).")
        var environment: String

        @Option(help: "How many.")
        var n = 5

        @Option(help: "Seed of the sampling stream.")
        var seed: UInt64 = 1

        @Option(help: "The .jsonl file (jsonl environment only; a built-in example without it).")
        var file: String?

        @Option(help: "Draw from this split only (train, validation, test), under the default shares 80/10/10.")
        var split: Split?

        func make() throws -> any Environment {
            if environment == "jsonl" && file == nil {
                print("(no --file: using the built-in example of every verifier kind)")
                return try JSONLEnvironment(text: JSONLEnvironment.example, source: "<example>")
            }
            do {
                return try EnvironmentRegistry.make(environment, settings: file.map { ["path": $0] } ?? [:])
            } catch let error as ConfigError {
                throw ValidationError(error.description)
            }
        }
    }

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print tasks, a demonstration in each style, and the verifier's verdict on each.")
        @OptionGroup var options: Options

        func run() throws {
            let env = try options.make()
            if let jsonl = env as? JSONLEnvironment, !jsonl.problems.isEmpty {
                print("\(jsonl.problems.count) line(s) skipped:")
                for p in jsonl.problems { print("  \(jsonl.source):\(p)") }
            }
            var rng = RNG(seed: options.seed)
            let shares = SplitShares()
            for i in 0..<options.n {
                let task = options.split.map { env.sample(&rng, from: $0, shares: shares) } ?? env.sample(&rng)
                let split = env.assign(task, shares: shares)
                print("=== \(i + 1). \(task.id)  [\(task.difficulty)]  split: \(split.split.rawValue)"
                      + (split.heldOutKind.map { " (\($0))" } ?? "") + "  tools: \(task.tools.map(\.rawValue).joined(separator: ", "))")
                for m in task.prompt.messages { print("\(m.role.rawValue): \(m.plainText)") }
                print("reference: \(task.reference.trimmingCharacters(in: .newlines))")
                for style in env.styles {
                    let demo = env.demonstration(task, style: style)
                    let verdict = env.verify(task, demo)
                    print("--- \(style.rawValue) demonstration:")
                    print(demo.markedUp)
                    var line = "verdict: \(verdict.kind.rawValue)"
                    if let score = verdict.score { line += String(format: ", score %.2f", score) }
                    if let note = verdict.note { line += " (\(note))" }
                    if let failure = verdict.failure { line += " FAILURE \(failure)" }
                    print(line)
                }
            }
        }
    }

    struct Corpus: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print pretraining documents (train split unless --split says otherwise).")
        @OptionGroup var options: Options

        func run() throws {
            let env = try options.make()
            var rng = RNG(seed: options.seed)
            for doc in env.corpus(&rng, count: options.n, split: options.split ?? .train, shares: SplitShares()) {
                print(doc.text); print("")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the environments.")
        func run() throws { for name in EnvironmentRegistry.names { print(name) } }
    }
}

extension Split: ExpressibleByArgument {}
