// Every demonstration, in every style, is graded correct by its own verifier: 1,000 seeded tasks
// per environment. Tool demonstrations claim an output; a sample of them is run in the sandbox to
// check the claim.
import Testing
import PonderCore
import Environments

@Suite struct DemonstrationTests {
    func checkAll(_ env: any Environment, count: Int = 1000) {
        var rng = RNG(seed: 2026)
        var failures = 0
        for task in env.sample(&rng, count: count) {
            for style in env.styles {
                let verdict = env.verify(task, env.demonstration(task, style: style))
                if verdict.value != 1 {
                    failures += 1
                    if failures < 5 { Issue.record("\(env.name) \(style) \(task.question): \(verdict)") }
                }
            }
        }
        #expect(failures == 0, "\(env.name)")
    }

    @Test func arithmetic() throws {
        checkAll(try ArithmeticEnvironment())
        var hard = ArithmeticEnvironment.Config()
        hard.minOperands = 4; hard.maxOperands = 6; hard.minDigits = 3; hard.maxDigits = 5; hard.parentheses = 0.7
        checkAll(try ArithmeticEnvironment(hard))
    }

    @Test func counting() throws { checkAll(try CountingEnvironment()) }

    @Test func knowledge() throws { checkAll(try KnowledgeEnvironment()) }

    @Test func jsonl() throws { checkAll(try JSONLEnvironment(text: JSONLTests.sample), count: 30) }

    /// Code demonstrations share one solution across styles; each task's solution runs once.
    @Test func code() throws {
        let env = try CodeEnvironment()
        var rng = RNG(seed: 2026)
        let tasks = env.sample(&rng, count: 1000)
        var items: [(EnvTask, Message)] = []
        for task in tasks {
            let codes = env.styles.map { CodeEnvironment.extractCode(env.demonstration(task, style: $0).finalText, function: task.metadata["function"]!) }
            #expect(Set(codes).count == 1 && codes[0] != nil)
            items.append((task, env.demonstration(task, style: .think)))
        }
        let verdicts = env.verify(batch: items)
        let bad = verdicts.enumerated().filter { $0.element.kind != .correct }
        for (i, v) in bad.prefix(5) { Issue.record("\(tasks[i].metadata["family"]!): \(v)") }
        #expect(bad.isEmpty)
    }

    /// `buggy_demonstrations`: the same tasks, but demonstrations that show each family's classic
    /// bug, which the hidden tests catch; families without one keep the right solution.
    @Test func buggyCodeDemonstrations() throws {
        var careless = CodeEnvironment.Config()
        careless.buggyDemonstrations = 1
        let env = try CodeEnvironment(careless), honest = try CodeEnvironment()
        var rng = RNG(seed: 31), rng2 = RNG(seed: 31)
        let tasks = env.sample(&rng, count: 300), plain = honest.sample(&rng2, count: 300)
        #expect(zip(tasks, plain).allSatisfy { $0.question == $1.question && $0.reference == $1.reference
            && $0.metadata["inputs"] == $1.metadata["inputs"] && $0.metadata["expected"] == $1.metadata["expected"] })
        let verdicts = env.verify(batch: tasks.map { ($0, env.demonstration($0, style: .direct)) })
        var caught: [String: Int] = [:], buggy = Set<String>(), kept = Set<String>()
        for (task, verdict) in zip(tasks, verdicts) {
            let family = task.metadata["family"]!
            if task.metadata["demonstration"] == nil {
                kept.insert(family)
                #expect(verdict.kind == .correct, "\(family): \(verdict)")
            } else {
                buggy.insert(family)
                #expect(task.metadata["demonstration"] != task.reference)
                if verdict.kind != .correct { caught[family, default: 0] += 1 }
            }
        }
        #expect(buggy == ["sum_divisible", "count_greater", "largest", "palindrome", "multiples_below", "running_total", "clip"])
        #expect(kept == ["scale", "reverse", "count_letter"])
        for family in buggy { #expect(caught[family, default: 0] > 0, "\(family): its bug passed every hidden test") }

        careless.buggyDemonstrations = 0.5
        var rng3 = RNG(seed: 31)
        let half = try CodeEnvironment(careless).sample(&rng3, count: 300).filter { buggy.contains($0.metadata["family"]!) }
        let share = Double(half.filter { $0.metadata["demonstration"] != nil }.count) / Double(half.count)
        #expect(abs(share - 0.5) < 0.1, "share of buggy demonstrations \(share)")
        careless.buggyDemonstrations = 1.5
        #expect(throws: ConfigError.self) { try CodeEnvironment(careless) }
    }

    /// What tool demonstrations say the tool printed is what the sandbox prints.
    @Test func toolOutputsAreTrue() throws {
        var careless = CodeEnvironment.Config()
        careless.buggyDemonstrations = 1     // the printed output of buggy code comes from its Swift twin
        let envs: [(any Environment, count: Int)] = [(try ArithmeticEnvironment(), 12), (try CountingEnvironment(), 12),
                                                     (try CodeEnvironment(), 12), (try CodeEnvironment(careless), 60)]
        var calls: [(code: String, claimed: String)] = [], twinned = Set<String>()
        for (env, count) in envs {
            var rng = RNG(seed: 99)
            for task in env.sample(&rng, count: count) {
                if task.metadata["demonstration_printed"] != nil { twinned.insert(task.metadata["family"]!) }
                let segments = env.demonstration(task, style: .tool).segments
                guard case .toolCall(.python, let code)? = segments.first, case .toolOutput(let out) = segments[1] else {
                    Issue.record("\(env.name): no python call"); continue
                }
                calls.append((code, out))
            }
        }
        #expect(twinned.count == 7, "buggy families whose printed output was checked: \(twinned.sorted())")
        let results = PythonTool().run(batch: calls.map(\.code))
        for (call, result) in zip(calls, results) {
            #expect(result.text == call.claimed, "\(call.code)")
            #expect(result.failure == nil)
        }
    }

    @Test func searchDemonstrationsUseTheStore() throws {
        let env = try KnowledgeEnvironment()
        var rng = RNG(seed: 4)
        for task in env.sample(&rng, count: 200) where task.metadata["partition"] == "search" {
            for style in env.styles {
                let demo = env.demonstration(task, style: style)
                guard case .toolCall(.search, let query)? = demo.segments.first else { Issue.record("no search"); continue }
                #expect(SearchTool(world: env.world).run(query).text.contains(task.reference))
            }
        }
    }
}
