// Evaluation: greedy accuracy and sampled pass@k of a model on an environment's tasks.
//
// Greedy: one completion per task at temperature 0. Sampled: n completions per task at the
// given temperature, graded, and pass@k estimated with the unbiased estimator of Chen et al.
// (2021, "Evaluating Large Language Models Trained on Code"):
//     pass@k = mean over tasks of 1 - C(n - c, k) / C(n, k)      (c = correct samples of n)
// computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i), which never forms a large binomial.
// A completion counts as correct when its verdict is `.correct` or its graded score is >= 1.
// Machinery failures (the sandbox could not run or timed out: `Verdict.failure`) are not
// evidence about the model: they are counted apart and left out of every figure, so greedy
// accuracy is correct / graded, and pass@k of a task uses its graded samples (a task with fewer
// than k graded samples is left out of that pass@k).
// Batching: all tasks' sequences go through the engine together, in chunks of at most
// `maxSequences` sequences (one engine, allocated once, reused by every chunk). Grading uses
// `Environment.verify(batch:)`, which runs verifiers concurrently.
// Not here: refusal and hallucination rates (computed from `items` by the caller, DESIGN.md §10).

import Model
import PonderCore
import Tokenization

public enum Evaluation {
    public struct Parameters: Codable, Sendable, Equatable {
        /// Tasks `run(model:tokenizer:environment:tools:parameters:)` samples (the overload
        /// given `tasks` grades exactly those).
        public var tasks: Int = 100
        /// Sampled completions per task for pass@k; 0 = greedy only.
        public var samples: Int = 0
        /// k values of pass@k (values above `samples` are skipped).
        public var ks: [Int] = [1]
        public var temperature: Float = 1
        public var topP: Float = 1
        public var topK: Int = 0
        /// Completion budget, forced tool output included.
        public var maxNewTokens: Int = 128
        /// Most sequences decoded at once (bounds the KV cache).
        public var maxSequences: Int = 256
        public var seed: UInt64 = 0

        public init(tasks: Int = 100, samples: Int = 0, ks: [Int] = [1], temperature: Float = 1, topP: Float = 1,
                    topK: Int = 0, maxNewTokens: Int = 128, maxSequences: Int = 256, seed: UInt64 = 0) {
            self.tasks = tasks; self.samples = samples; self.ks = ks; self.temperature = temperature
            self.topP = topP; self.topK = topK; self.maxNewTokens = maxNewTokens
            self.maxSequences = maxSequences; self.seed = seed
        }

        enum CodingKeys: String, CodingKey {
            case tasks, samples, ks, temperature, seed
            case topP = "top_p", topK = "top_k", maxNewTokens = "max_new_tokens", maxSequences = "max_sequences"
        }
    }

    public struct Item: Sendable {
        public var taskID: String
        /// The user's question.
        public var prompt: String
        /// The completion decoded (special tokens included).
        public var completion: String
        public var reference: String
        /// The task's metadata (what breakdowns group by).
        public var metadata: [String: String]
        public var verdict: Verdict
        /// -1 for the greedy completion, else 0..<samples.
        public var sampleIndex: Int
        public var finishReason: FinishReason
        public var tokenCount: Int
        public var toolCalls: [ToolCallRecord]
        /// The completion's log-probability: the sum over the tokens the model chose (forced tool
        /// output excluded) of log p under the distribution it decoded from (the model's own when
        /// greedy). exp of it is the sequence-probability confidence of a greedy answer.
        public var logProb: Double = 0
    }

    public struct Result: Sendable {
        public var environment: String
        /// Share of graded tasks whose greedy completion is correct (0 when none was graded).
        public var greedyAccuracy: Double
        /// Tasks whose greedy completion was graded (the machinery did not fail), and of those, correct.
        public var greedyGraded: Int
        public var greedyCorrect: Int
        /// pass@k for each k <= samples (empty when samples == 0).
        public var passAtK: [Int: Double]
        /// pass@k with its 95% t-interval over the tasks' unbiased estimates (nil for one task).
        public var passAtKIntervals: [Int: Interval] = [:]
        /// Verdict kinds of the greedy completions.
        public var verdictCounts: [VerdictKind: Int]
        /// Greedy and sampled completions whose grading failed in the machinery (`Verdict.failure`).
        public var machineryFailures: Int
        /// tasks.count * (1 + samples) items: per task, the greedy one then the samples.
        public var items: [Item]

        /// Share of tasks whose greedy completion called a tool at least once.
        public var greedyToolUse: Double {
            let greedy = items.filter { $0.sampleIndex < 0 }
            return greedy.isEmpty ? 0 : Double(greedy.filter { !$0.toolCalls.isEmpty }.count) / Double(greedy.count)
        }
    }

    /// Whether a verdict counts as a solved task.
    public static func isCorrect(_ verdict: Verdict) -> Bool {
        verdict.isCorrect || (verdict.score ?? 0) >= 1
    }

    /// Unbiased pass@k for one task with `correct` of `n` samples correct (Chen et al. 2021).
    public static func passAtK(n: Int, correct c: Int, k: Int) -> Double {
        precondition(n >= 1 && k >= 1 && k <= n && c >= 0 && c <= n, "passAtK: need 1 <= k <= n and 0 <= c <= n")
        if n - c < k { return 1 }
        var fail = 1.0  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
        if c > 0 {
            for i in (n - c + 1)...n { fail *= 1 - Double(k) / Double(i) }
        }
        return 1 - fail
    }

    /// Samples `parameters.tasks` tasks from `environment` (seeded by `parameters.seed`) and runs them.
    public static func run(model: Transformer, tokenizer: Tokenizer, environment: any Environment,
                           tools: ToolExecutor?, parameters: Parameters) -> Result {
        var rng = derivedRNG(seed: parameters.seed, stream: 3, index: 0)
        let tasks = environment.sample(&rng, count: parameters.tasks)
        return run(model: model, tokenizer: tokenizer, environment: environment, tasks: tasks, tools: tools, parameters: parameters)
    }

    /// Throws a clear error when a task's prompt leaves no room to answer in the model's context
    /// (call before `run`, which requires it).
    public static func checkPromptsFit(_ tasks: [EnvTask], tokenizer: Tokenizer, model: Transformer) throws {
        for task in tasks {
            let count = try tokenizer.renderForCompletion(task.prompt).count
            if count + 1 >= model.config.maxSeqLen {
                throw TrainingError.invalidParameter(
                    "task \(task.id): its prompt is \(count) tokens, but the model's context (max_seq_len) is \(model.config.maxSeqLen); raise model.max_seq_len or use shorter tasks")
            }
        }
    }

    /// Greedy accuracy and pass@k of `model` on `tasks`, graded by `environment`.
    /// Precondition: every prompt is shorter than the model's context (see `checkPromptsFit`).
    public static func run(model: Transformer, tokenizer: Tokenizer, environment: any Environment, tasks: [EnvTask],
                           tools: ToolExecutor?, parameters: Parameters) -> Result {
        let p = parameters
        let n = max(0, p.samples)
        let prompts = tasks.map { (try? tokenizer.renderForCompletion($0.prompt))?.count ?? 0 }
        let longest = prompts.max() ?? 1
        let maxLength = min(model.config.maxSeqLen, longest + p.maxNewTokens + 1)
        precondition(longest < maxLength, "Evaluation: a prompt of \(longest) tokens leaves no room in the model's context of \(model.config.maxSeqLen)")
        let engine = Engine(model: model, sequences: max(1, n, min(p.maxSequences, tasks.count * max(1, n))), maxLength: maxLength)

        func generate(_ G: Int, _ sampling: SamplingParameters, _ rng: inout RNG) -> [[Rollout]] {
            let perChunk = max(1, p.maxSequences / G)
            var out: [[Rollout]] = []
            out.reserveCapacity(tasks.count)
            var start = 0
            while start < tasks.count {
                let chunk = Array(tasks[start..<min(tasks.count, start + perChunk)])
                out += Rollouts.generate(engine: engine, tokenizer: tokenizer, tasks: chunk, samplesPerTask: G,
                                         sampling: sampling, tools: tools, rng: &rng)
                start += perChunk
            }
            return out
        }

        var rng = derivedRNG(seed: p.seed, stream: 4, index: 0)
        let greedy = generate(1, .greedy(maxNewTokens: p.maxNewTokens), &rng)
        let sampled = n > 0
            ? generate(n, SamplingParameters(temperature: p.temperature, topK: p.topK, topP: p.topP, maxNewTokens: p.maxNewTokens), &rng)
            : tasks.map { _ in [] }

        // Grade everything in one batch: per task, the greedy completion then the samples.
        var toGrade: [(task: EnvTask, completion: Message)] = []
        var rollouts: [(Rollout, Int)] = []
        for (i, task) in tasks.enumerated() {
            for (g, r) in ([greedy[i][0]] + sampled[i]).enumerated() {
                toGrade.append((task, r.message))
                rollouts.append((r, g - 1))
            }
        }
        let verdicts = environment.verify(batch: toGrade)
        return tally(tasks: tasks, rollouts: rollouts, verdicts: verdicts, samples: n, ks: p.ks, environment: environment.name)
    }

    /// The figures of graded completions: per task, the greedy one (sample index -1) then `n`
    /// samples, in `rollouts` and `verdicts` alike.
    static func tally(tasks: [EnvTask], rollouts: [(Rollout, Int)], verdicts: [Verdict], samples n: Int, ks wanted: [Int],
                      environment: String) -> Result {
        var items: [Item] = []
        items.reserveCapacity(verdicts.count)
        var counts: [VerdictKind: Int] = [:]
        var greedyCorrect = 0, greedyGraded = 0, failures = 0
        var perTask = [Int: [Double]]()
        let ks = Set(wanted.filter { $0 >= 1 && $0 <= n }).sorted()
        var at = 0
        for task in tasks {
            var correct = 0, graded = 0
            for _ in 0...n {
                let (r, index) = rollouts[at]
                let verdict = verdicts[at]
                at += 1
                if verdict.failure != nil {
                    failures += 1
                } else if index < 0 {
                    counts[verdict.kind, default: 0] += 1
                    greedyGraded += 1
                    if isCorrect(verdict) { greedyCorrect += 1 }
                } else {
                    graded += 1
                    if isCorrect(verdict) { correct += 1 }
                }
                items.append(Item(taskID: task.id, prompt: task.question, completion: r.text, reference: task.reference,
                                  metadata: task.metadata, verdict: verdict, sampleIndex: index, finishReason: r.finishReason,
                                  tokenCount: r.tokens.count, toolCalls: r.toolCalls,
                                  logProb: zip(r.logProbs, r.lossMask).reduce(0) { $0 + ($1.1 > 0 ? Double($1.0) : 0) }))
            }
            for k in ks where graded >= k {
                perTask[k, default: []].append(passAtK(n: graded, correct: correct, k: k))
            }
        }
        return Result(environment: environment,
                      greedyAccuracy: greedyGraded == 0 ? 0 : Double(greedyCorrect) / Double(greedyGraded),
                      greedyGraded: greedyGraded, greedyCorrect: greedyCorrect,
                      passAtK: perTask.mapValues { $0.reduce(0, +) / Double($0.count) },
                      passAtKIntervals: perTask.compactMapValues(Statistics.meanInterval),
                      verdictCounts: counts, machineryFailures: failures, items: items)
    }
}
