// Preference pairs: a prompt, a chosen and a rejected answer, optionally a margin, and where the
// label came from (DESIGN.md §6, the data of the reward_model and dpo stages). Four sources:
//
//   file       a JSONL file, one pair per line: {"prompt": TEXT or [{role, content}...],
//              "chosen": TEXT, "rejected": TEXT, "margin": NUMBER (optional)}; other keys are kept
//              (`extra`); a bad line is an error naming the file and the line.
//   verifier   the policy's own samples, labelled by the environment's verifier (gold): for each
//              prompt, `samples` completions are drawn; when at least one is correct and one is not,
//              a random correct one is chosen over a random wrong one. With `noise` r, each
//              training label is flipped with probability r (Coste et al.'s 25% is the share on
//              which human labellers disagree); held-out pairs are never flipped.
//   judge      the same samples, labelled by an LLM judge's pointwise scores (higher score chosen,
//              ties skipped); `gold_agrees` records whether the verifier agrees (RLAIF's error rate).
//   synthetic  documented constructions from the environments' own demonstrations, no model:
//                correct_over_wrong      the task's demonstration over another task's
//                                        demonstration that the verifier marks wrong;
//                refusal_over_invented   on an unanswerable question, the refusal over another
//                                        question's factual answer (knowledge environment);
//                concise_over_rambling   the direct answer over the same answer after a long,
//                                        repetitive <think> span (both correct).
// Training pairs come from the train split's tasks only, held-out pairs from the validation split.

import Foundation
import Model
import PonderCore
import Tokenization

public struct PreferencePair: Codable, Sendable, Equatable {
    public var prompt: Conversation
    public var chosen: Message
    public var rejected: Message
    /// Bradley-Terry margin m (the loss is -log sigmoid(r_c - r_r - m)); nil = 0.
    public var margin: Double?
    /// file | verifier | judge | synthetic/KIND.
    public var source: String
    public var taskID: String?
    public var environment: String?
    /// Whether the verifier agrees that `chosen` is the better answer (nil: no verifier).
    public var goldAgrees: Bool?
    /// A JSONL line's other keys, as JSON text.
    public var extra: [String: String]

    public init(prompt: Conversation, chosen: Message, rejected: Message, margin: Double? = nil, source: String,
                taskID: String? = nil, environment: String? = nil, goldAgrees: Bool? = nil, extra: [String: String] = [:]) {
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected; self.margin = margin; self.source = source
        self.taskID = taskID; self.environment = environment; self.goldAgrees = goldAgrees; self.extra = extra
    }

    /// The pair with chosen and rejected exchanged (a flipped label).
    public var flipped: PreferencePair {
        var p = self
        (p.chosen, p.rejected) = (rejected, chosen)
        p.goldAgrees = goldAgrees.map { !$0 }
        return p
    }

    /// Token ids of prompt + answer as the chat format renders them (the answer's turn closed by
    /// <|im_end|>), and the length of the prompt part (`renderForCompletion`).
    public static func render(_ prompt: Conversation, _ answer: Message, tokenizer: Tokenizer) throws -> (ids: [Int32], mask: [Float], promptLength: Int) {
        let (ids, mask) = try tokenizer.render(prompt.appending(answer))
        let promptLength = try tokenizer.renderForCompletion(prompt).count
        return (ids, mask, promptLength)
    }
}

public struct PreferenceFileError: Error, CustomStringConvertible {
    public var description: String
}

public enum Preferences {
    // MARK: file

    /// Reads a JSONL file of pairs (file header). Blank lines are skipped.
    public static func read(file url: URL) throws -> [PreferencePair] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PreferenceFileError(description: "\(url.path): cannot read the preference file (\(error.localizedDescription))")
        }
        var pairs: [PreferencePair] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            func fail(_ why: String) -> PreferenceFileError {
                PreferenceFileError(description: "\(url.path):\(index + 1): \(why); each line must be a JSON object "
                                    + "{\"prompt\": ..., \"chosen\": \"...\", \"rejected\": \"...\"} with an optional numeric \"margin\"")
            }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw fail("not a JSON object")
            }
            let prompt: Conversation
            switch object["prompt"] {
            case let text as String: prompt = Conversation([.user(text)])
            case let turns as [[String: Any]]:
                var messages: [Message] = []
                for turn in turns {
                    guard let roleText = turn["role"] as? String, let role = Role(rawValue: roleText),
                          let content = turn["content"] as? String else { throw fail("a prompt turn needs \"role\" (system, user, assistant) and \"content\"") }
                    messages.append(Message(role: role, text: content))
                }
                guard !messages.isEmpty else { throw fail("\"prompt\" is an empty list") }
                prompt = Conversation(messages)
            case nil: throw fail("missing \"prompt\"")
            default: throw fail("\"prompt\" must be a string or a list of {role, content} turns")
            }
            guard let chosen = object["chosen"] as? String else { throw fail(object["chosen"] == nil ? "missing \"chosen\"" : "\"chosen\" must be a string") }
            guard let rejected = object["rejected"] as? String else { throw fail(object["rejected"] == nil ? "missing \"rejected\"" : "\"rejected\" must be a string") }
            var margin: Double?
            if let m = object["margin"] {
                guard let number = m as? NSNumber, !(m is Bool), number.doubleValue.isFinite else { throw fail("\"margin\" must be a finite number") }
                margin = number.doubleValue
            }
            var extra: [String: String] = [:]
            for (key, value) in object where !["prompt", "chosen", "rejected", "margin"].contains(key) {
                if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                    extra[key] = String(decoding: data, as: UTF8.self)
                }
            }
            pairs.append(PreferencePair(prompt: prompt, chosen: .assistant(chosen), rejected: .assistant(rejected), margin: margin,
                                        source: "file", extra: extra))
        }
        if pairs.isEmpty { throw PreferenceFileError(description: "\(url.path): no preference pairs in the file") }
        return pairs
    }

    // MARK: labelled samples

    /// One prompt's sampled answers with a label source's scores (higher is better; nil = no
    /// score): the pair of a random best-scored answer over a random lower-scored one, or nil
    /// when every scored answer ties. `gold` says which answers the verifier marks correct.
    public static func pair(task: EnvTask, answers: [Message], scores: [Double?], gold: [Bool]?, source: String,
                            _ rng: inout RNG) -> PreferencePair? {
        let scored = answers.indices.filter { scores[$0] != nil }
        guard let best = scored.map({ scores[$0]! }).max(), let worst = scored.map({ scores[$0]! }).min(), best > worst else { return nil }
        let top = scored.filter { scores[$0]! == best }, rest = scored.filter { scores[$0]! < best }
        let c = top[rng.nextInt(below: top.count)], r = rest[rng.nextInt(below: rest.count)]
        // The verifier agrees when it marks the chosen answer right and the rejected one wrong.
        let agrees = gold.flatMap { $0[c] == $0[r] ? nil : $0[c] }
        return PreferencePair(prompt: task.prompt, chosen: answers[c], rejected: answers[r], source: source, taskID: task.id,
                              environment: task.environment, goldAgrees: agrees)
    }

    /// Scores of each task's sampled answers (higher is better, nil = could not score).
    public typealias AnswerScorer = (_ tasks: [EnvTask], _ answers: [[Message]]) -> [[Double?]]

    /// Pairs from the policy's own samples (file header, `verifier` and `judge`): tasks come from
    /// `nextTasks` in chunks, `samples` answers are drawn for each from `model`, `scorer` labels
    /// them and the verifier's verdicts are kept as gold; stops at `count` pairs or after
    /// `maxTasks` tasks. The random streams derive from (seed, label).
    public static func fromSamples(model: Transformer, tokenizer: Tokenizer, count: Int, samples: Int, sampling: SamplingParameters,
                                   tools: ToolExecutor?, environments: [String: any Environment], seed: UInt64, label: String,
                                   source: String, maxTasks: Int, nextTasks: (Int) -> [EnvTask], scorer: AnswerScorer?) -> (pairs: [PreferencePair], tasks: Int) {
        let chunk = 32
        var sampling = sampling
        sampling.stopTokens = [tokenizer.endOfTurnID]
        let longest = 256 + sampling.maxNewTokens
        let engine = Engine(model: model, sequences: chunk * samples, maxLength: min(model.config.maxSeqLen, longest))
        var pairRNG = RNG(seed: seed).fork("\(label)/pairs")
        var out: [PreferencePair] = []
        var used = 0, round = 0
        while out.count < count && used < maxTasks {
            let drawn = nextTasks(min(chunk, maxTasks - used))
            if drawn.isEmpty { break }
            used += drawn.count
            // A prompt whose answer could not fit the model's context is skipped.
            let tasks = drawn.filter { ((try? tokenizer.renderForCompletion($0.prompt).count) ?? Int.max) + sampling.maxNewTokens < model.config.maxSeqLen }
            if tasks.isEmpty { continue }
            var streams = tasks.indices.map { RNG(seed: seed).fork("\(label)/round-\(round)/task-\($0)") }
            round += 1
            let rollouts = Rollouts.generate(engine: engine, tokenizer: tokenizer, tasks: tasks, samplesPerTask: samples,
                                             sampling: sampling, tools: tools, streams: &streams)
            let answers = rollouts.map { $0.map(\.message) }
            var gold: [[Bool]] = []
            for (task, group) in zip(tasks, answers) {
                guard let env = environments[task.environment] else { gold.append(group.map { _ in false }); continue }
                gold.append(env.verify(batch: group.map { (task, $0) }).map { $0.kind == .correct })
            }
            let scores = scorer?(tasks, answers) ?? gold.map { $0.map { $0 ? 1.0 : 0.0 } }
            for i in tasks.indices where out.count < count {
                if let pair = pair(task: tasks[i], answers: answers[i], scores: scores[i], gold: gold[i], source: source, &pairRNG) {
                    out.append(pair)
                }
            }
        }
        return (out, used)
    }

    /// Flips each pair's label with probability `rate` (a stream of its own).
    public static func addNoise(_ pairs: [PreferencePair], rate: Double, _ rng: inout RNG) -> [PreferencePair] {
        guard rate > 0 else { return pairs }
        return pairs.map { rng.nextDouble() < rate ? $0.flipped : $0 }
    }

    // MARK: synthetic

    public enum SyntheticKind: String, Codable, Sendable, CaseIterable {
        case correctOverWrong = "correct_over_wrong"
        case refusalOverInvented = "refusal_over_invented"
        case conciseOverRambling = "concise_over_rambling"
    }

    /// The synthetic pair of `kind` for `task` (file header), or nil when the construction does
    /// not apply (a refusal pair on an answerable question, a "wrong" answer the verifier accepts).
    /// `other` is another task of the same environment, whose demonstration is the wrong answer.
    public static func synthetic(_ kind: SyntheticKind, task: EnvTask, other: EnvTask, environment: any Environment) -> PreferencePair? {
        let direct = environment.demonstration(task, style: .direct)
        let source = "synthetic/\(kind.rawValue)"
        let unanswerable = task.metadata["answerable"] == "false"
        switch kind {
        case .correctOverWrong, .refusalOverInvented:
            guard unanswerable == (kind == .refusalOverInvented) else { return nil }
            let wrong = environment.demonstration(other, style: .direct)
            guard other.metadata["answerable"] != "false", wrong.finalText != direct.finalText,
                  environment.verify(task, wrong).kind != .correct, environment.verify(task, direct).kind == .correct
            else { return nil }
            return PreferencePair(prompt: task.prompt, chosen: direct, rejected: wrong, source: source, taskID: task.id,
                                  environment: task.environment, goldAgrees: true)
        case .conciseOverRambling:
            guard environment.verify(task, direct).kind == .correct else { return nil }
            let filler = Array(repeating: "Let me think about this again carefully.", count: 6).joined(separator: " ")
            let rambling = Message.assistant([.thinking(filler)] + direct.segments)
            return PreferencePair(prompt: task.prompt, chosen: direct, rejected: rambling, source: source, taskID: task.id,
                                  environment: task.environment, goldAgrees: nil)
        }
    }
}
