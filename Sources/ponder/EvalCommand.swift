// ponder eval CHECKPOINT --env NAME [--data FILE.jsonl] [--tasks N] [--samples N --k K...] [--json]

import ArgumentParser
import Environments
import Foundation
import Model
import PonderCore
import Tokenization
import Training

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Accuracy and pass@k of a checkpoint on held-out tasks.")

    @Argument(help: "A checkpoint directory, e.g. runs/quickstart/sft.") var checkpoint: String
    @Option(help: "Environment: \(EnvironmentRegistry.names.joined(separator: ", ")) (default settings).") var env: String = "arithmetic"
    @Option(help: "A JSONL file of tasks (uses the jsonl environment).") var data: String?
    @Option(help: "Number of tasks (all of a JSONL file by default).") var tasks: Int?
    @Option(help: "Samples per task for pass@k (0 = greedy only).") var samples: Int = 0
    @Option(help: "k values for pass@k.") var k: [Int] = [1]
    @Option(help: "Temperature of the pass@k samples.") var temperature: Float = 1
    @Option(help: "Most new tokens per answer.") var maxNewTokens: Int = 128
    @Option(help: "Seed of the task stream (held-out tasks differ from training ones by seed).") var seed: UInt64 = 1_000_000
    @Flag(help: "Print JSON only.") var json = false

    func run() throws {
        let dir = URL(fileURLWithPath: checkpoint)
        let model: Transformer, tokenizer: Tokenizer
        do {
            (model, _) = try Checkpoint.load(from: dir)
            tokenizer = try Tokenizer.load(checkpointDirectory: dir)
        } catch { throw fail("\(checkpoint): \(error)") }
        let environment: any Environment
        var fixed: [EnvTask]? = nil
        do {
            if let data {
                let jsonl = try JSONLEnvironment(path: data)
                environment = jsonl
                fixed = jsonl.tasks
                for problem in jsonl.problems { FileHandle.standardError.write(Data("warning: \(problem)\n".utf8)) }
            } else {
                environment = try EnvironmentRegistry.make(env)
            }
        } catch { throw fail("\(error)") }
        var rng = RNG(seed: seed).fork("held-out/\(environment.name)")
        var taskList: [EnvTask]
        if let fixed {
            taskList = tasks.map { Array(fixed.prefix($0)) } ?? fixed
        } else {
            taskList = (0..<(tasks ?? 100)).map { _ in environment.sample(&rng) }
        }
        do { try Evaluation.checkPromptsFit(taskList, tokenizer: tokenizer, model: model) } catch { throw fail("\(error)") }
        let result = Evaluation.run(
            model: model, tokenizer: tokenizer, environment: environment, tasks: taskList,
            tools: { tool, input in
                guard tool == .python else { return ("", "only the python tool is available here") }
                let r = PythonTool().run(input)
                return (r.text, r.failure.map { "\($0)" })
            },
            parameters: Evaluation.Parameters(tasks: taskList.count, samples: samples, ks: k, temperature: temperature,
                                              maxNewTokens: maxNewTokens, seed: seed))
        let greedy = result.items.filter { $0.sampleIndex < 0 }
        if json {
            var passAtK: [String: Double] = [:]
            for (kk, v) in result.passAtK { passAtK["\(kk)"] = v }
            var verdicts: [String: Int] = [:]
            for (kind, n) in result.verdictCounts { verdicts[kind.rawValue] = n }
            let object: [String: Any] = [
                "checkpoint": checkpoint, "environment": result.environment, "tasks": greedy.count,
                "greedy_accuracy": result.greedyAccuracy, "pass_at_k": passAtK, "verdicts": verdicts,
                "machinery_failures": result.machineryFailures, "tool_use": result.greedyToolUse,
            ]
            printJSON(object)
            return
        }
        print(String(format: "%@ on %d %@ tasks: greedy accuracy %.1f%%", checkpoint, greedy.count, result.environment, result.greedyAccuracy * 100)
              + (result.greedyToolUse > 0 ? String(format: "; a tool called in %.0f%% of answers", result.greedyToolUse * 100) : ""))
        for kk in result.passAtK.keys.sorted() { print(String(format: "  pass@%d %.1f%% (%d samples per task)", kk, result.passAtK[kk]! * 100, samples)) }
        print("  verdicts: " + result.verdictCounts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
        for item in greedy.prefix(3) {
            print("  e.g. \(item.prompt.replacingOccurrences(of: "\n", with: " ")) -> \(item.completion.replacingOccurrences(of: "\n", with: " ")) [\(item.verdict.kind.rawValue)]")
        }
    }
}
