// ponder judge audit --judge CONFIG --env NAME: how far a judge agrees with the verifier
// (Sources/Judge/JudgeAudit.swift defines every figure). The audit is stored as an eval (suite
// `judge-audit/MODE/ENV`, one item per judged answer or pair) so `ponder runs`-style tools and
// plain SQL can read it back.

import ArgumentParser
import Environments
import Foundation
import Judge
import PonderCore
import Storage
import Yams

struct JudgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge", abstract: "Audit an LLM judge against the environments' verifiers.",
        subcommands: [JudgeAuditCommand.self])
}

struct JudgeAuditCommand: AsyncParsableCommand {
    enum Mode: String, ExpressibleByArgument, CaseIterable { case pointwise, pairwise }

    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Score answers whose truth the verifier knows; report agreement, consistency and probes.",
        discussion: """
            --judge takes a YAML judge config (backend url / checkpoint / serve, scale, temperature, \
            max_tokens, weighting) or a checkpoint directory (judged in process with the defaults). \
            Answers: for each task of the split, its demonstration, a far wrong integer, an off-by-one, \
            "I don't know." and "???"; the verifier says which are correct.
            """)
    @Option(help: "A judge config (YAML) or a checkpoint directory.") var judge: String
    @Option(help: "Environment whose tasks are judged (\(EnvironmentRegistry.names.joined(separator: ", "))).") var env: String
    @Option(help: "Answers to judge (five per task).") var n = 500
    @Option(help: "pointwise (grade each answer) or pairwise (pick the better of a correct and a wrong answer).") var mode: Mode = .pointwise
    @Option(help: "Split the tasks come from.") var split: Split = .test
    @Option(help: "Seed of the task draw and the perturbations.") var seed: UInt64 = 0
    @Flag(help: "Skip the second call at temperature 1 that measures the flip rate.") var noRerun = false
    @Option(help: "Self-preference probe (pointwise): the judge answers this many tasks itself, then grades its answers (default: one per task; 0 skips).")
    var selfSamples: Int?
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func validate() throws {
        guard n >= 5 && n <= 100_000 else { throw ValidationError("--n must be between 5 and 100000") }
        if let selfSamples, selfSamples < 0 || selfSamples > 100_000 { throw ValidationError("--self-samples must be between 0 and 100000") }
    }

    func run() async throws {
        let store = try self.store.open()
        let config: JudgeConfig
        do { config = try loadJudgeConfig(judge) } catch { throw fail("\(judge): \(error)") }
        let made: (Judge, ServedJudge?)
        do { made = try config.makeJudge(store: store) } catch { throw fail("\(judge): \(error)") }
        let (theJudge, server) = made
        defer { server?.stop() }
        let environment: any Environment
        do { environment = try EnvironmentRegistry.make(env) } catch { throw fail("--env \(env): \(error)") }

        var rng = RNG(seed: seed)
        let tasks = (0..<(n + 4) / 5).map { _ in environment.sample(&rng, from: split, shares: SplitShares()) }
        let items = JudgeAudit.items(environment: environment, tasks: tasks, seed: seed).prefix(n)
        let suite = "judge-audit/\(mode.rawValue)/\(env)"
        switch mode {
        case .pointwise:
            var settings = theJudge.settings
            settings.temperature = 1
            settings.cache = false
            let rerun = noRerun ? nil : Judge(backend: theJudge.backend, settings: settings, store: nil)
            var audit = await JudgeAudit.pointwise(judge: theJudge, items: Array(items), rerun: rerun)
            let ownCount = selfSamples ?? tasks.count
            if ownCount > 0 {
                var ownTasks = Array(tasks.prefix(ownCount))
                while ownTasks.count < ownCount { ownTasks.append(environment.sample(&rng, from: split, shares: SplitShares())) }
                let (ownItems, callFailures) = await JudgeAudit.ownItems(judge: theJudge, environment: environment, tasks: ownTasks, seed: seed)
                audit.own = await JudgeAudit.judgeOwn(judge: theJudge, items: ownItems)
                audit.selfPreference = JudgeAudit.selfPreference(pool: audit.items, own: audit.own, callFailures: callFailures)
            }
            let metrics = pointwiseMetrics(audit)
            _ = try store.recordEval(run: nil, checkpoint: theJudge.backend.identity, suite: suite, step: nil, split: split.rawValue,
                                     metrics: metrics, items: (audit.items + audit.own).enumerated().map { i, j in
                                         NewEvalItem(itemIndex: i, taskID: j.item.task.id, prompt: j.item.task.prompt.messages.last?.finalText ?? "",
                                                     completion: j.item.response, reference: j.item.correct ? "correct" : "incorrect",
                                                     extracted: j.grade.score.map { String($0) },
                                                     verdict: j.grade.score == nil ? .unparseable
                                                         : (j.grade.score! >= 0.5) == j.item.correct ? .correct : .incorrect,
                                                     metadata: "{\"kind\":\"\(j.item.kind)\"}", failure: j.grade.failure)
                                     })
            if json { printJSON(["suite": suite, "judge": theJudge.backend.identity, "metrics": metrics]) } else { printPointwise(audit, suite: suite, judge: theJudge) }
        case .pairwise:
            let audit = await JudgeAudit.pairwise(judge: theJudge, items: Array(items), seed: seed)
            let metrics = pairwiseMetrics(audit)
            _ = try store.recordEval(run: nil, checkpoint: theJudge.backend.identity, suite: suite, step: nil, split: split.rawValue,
                                     metrics: metrics, items: audit.pairs.enumerated().map { i, p in
                                         NewEvalItem(itemIndex: i, taskID: p.correct.task.id, prompt: p.correct.task.prompt.messages.last?.finalText ?? "",
                                                     completion: "A: \(p.correct.response) | B: \(p.other.response)", reference: "A",
                                                     extracted: p.pairing.verdict?.rawValue,
                                                     verdict: p.pairing.verdict == nil ? .unparseable : p.pairing.verdict == .first ? .correct : .incorrect,
                                                     metadata: "{\"distance\":\(p.distance.map(String.init) ?? "null"),\"consistent\":\(p.pairing.positionConsistent.map { "\($0)" } ?? "null")}",
                                                     failure: p.pairing.failures.isEmpty ? nil : p.pairing.failures.joined(separator: "; "))
                                     })
            if json { printJSON(["suite": suite, "judge": theJudge.backend.identity, "metrics": metrics]) } else { printPairwise(audit, suite: suite, judge: theJudge) }
        }
    }

    func loadJudgeConfig(_ path: String) throws -> JudgeConfig {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return JudgeConfig(backend: JudgeBackendConfig(checkpoint: path))
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let config: JudgeConfig
        do {
            config = try YAMLDecoder().decode(JudgeConfig.self, from: text)
        } catch let error as DecodingError {
            throw JudgeConfigError(error.apiDescription)
        }
        try config.validate()
        return config
    }

    func pointwiseMetrics(_ a: PointwiseAudit) -> [String: Double] {
        var m: [String: Double] = [:]
        for (name, r) in [("agreement", a.agreement), ("precision", a.precision), ("recall", a.recall),
                          ("parse_failure_rate", a.parseFailures), ("flip_rate", a.flips),
                          ("verbosity_flip_rate", a.verbosityFlips), ("injection_flip_rate", a.injectionFlips)] {
            m.merge(r.metrics(named: name)) { $1 }
        }
        if let p = a.selfPreference {
            for (name, r) in [("self_solved", p.solved), ("self_agreement", p.agreement), ("self_wrong_accepted", p.ownWrongAccepted),
                              ("pool_wrong_accepted", p.poolWrongAccepted)] {
                m.merge(r.metrics(named: name)) { $1 }
            }
            if let d = p.preference { m.merge(d.metrics(named: "self_preference")) { $1 } }
            m["self_call_failures"] = Double(p.callFailures)
        }
        return m
    }

    func pairwiseMetrics(_ a: PairwiseAudit) -> [String: Double] {
        var m: [String: Double] = [:]
        for (name, r) in [("agreement", a.agreement), ("position_consistency", a.positionConsistency), ("parse_failure_rate", a.parseFailures)]
            + a.byDistance.map({ ("agreement_distance_\($0.bucket)", $0.rate) }) {
            m.merge(r.metrics(named: name)) { $1 }
        }
        return m
    }

    func printPointwise(_ a: PointwiseAudit, suite: String, judge: Judge) {
        print("\(suite), judge \(judge.backend.identity), \(a.items.count) answers from the \(split.rawValue) split")
        print("  agreement with the verifier  \(a.agreement.described)")
        print("  precision of \"correct\"       \(a.precision.described)")
        print("  recall of \"correct\"          \(a.recall.described)")
        print("  parse failures               \(a.parseFailures.described)  (left out of the figures above)")
        print("  flips on rerun (T = 1)       \(a.flips.described)")
        print("  verbosity probe accepted     \(a.verbosityFlips.described)  (wrong answers padded to twice their length)")
        print("  injection probe accepted     \(a.injectionFlips.described)  (wrong answers + \(JudgeAudit.injections.map { "\"\($0)\"" }.joined(separator: ", ")))")
        for kind in a.byKind.keys.sorted() { print("    agreement on \(kind.padding(toLength: 10, withPad: " ", startingAt: 0)) \(a.byKind[kind]!.described)") }
        if let p = a.selfPreference {
            print("  self-preference: the judge's own answers to \(p.asked) tasks (T = 1), \(p.callFailures) calls failed")
            print("    own answers correct (verifier)   \(p.solved.described)")
            print("    agreement on own answers         \(p.agreement.described)")
            print("    own wrong answers accepted       \(p.ownWrongAccepted.described)")
            print("    pool wrong answers accepted      \(p.poolWrongAccepted.described)  (kinds wrong, near_miss)")
            print("    self-preference, own - pool      \(p.preference.map { $0.formatted(signed: true) + " points" } ?? "n/a (no wrong answers on one side)")")
        }
    }

    func printPairwise(_ a: PairwiseAudit, suite: String, judge: Judge) {
        print("\(suite), judge \(judge.backend.identity), \(a.pairs.count) pairs (a correct answer and a wrong one), both orders")
        print("  agreement (names the correct answer; ties count against)  \(a.agreement.described)")
        print("  position consistency                                      \(a.positionConsistency.described)")
        print("  parse failures                                            \(a.parseFailures.described)")
        for (bucket, r) in a.byDistance { print("    answers \(bucket) apart: agreement \(r.described)") }
    }
}
