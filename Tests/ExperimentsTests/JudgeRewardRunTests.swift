// A GRPO run whose judge dies mid-run: tiny-grpo with the judge (`ponder serve` of a tiny random
// checkpoint, over HTTP) as its reward and the verifier's accuracy at weight 0 as the gold. The
// server is killed once the first step is stored; the run must finish, every later judge reward
// must be a recorded failure ("failed after ... attempts"), never a 0, the failures counted per
// step, and the gold reward stored for every rollout.
import Foundation
import Storage
import Testing
import TestSupport

@Suite struct JudgeRewardRunTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func runContinuesWhenTheJudgeServerDies() throws {
        guard let ponder = PonderTool.executable() else { Issue.record(Comment(rawValue: PonderTool.missing)); return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-judge-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let judgeDir = dir.appendingPathComponent("tiny-judge")
        try TinyCheckpoint.write(to: judgeDir, context: 512)
        let server = try ServedCheckpoint(ponder: ponder, checkpoint: judgeDir, key: "k-\(UUID().uuidString.prefix(6))")
        defer { server.stop() }

        var yaml = try String(contentsOf: Self.root.appendingPathComponent("experiments/tiny-grpo.yaml"), encoding: .utf8)
        let rewards = """
                rewards:
                  - name: judge
                    params:
                      backend: {url: "\(server.baseURL)/v1", model: tiny-judge, api_key_env: PONDER_TEST_SERVE_KEY, retries: 0, timeout_seconds: 10}
                      max_tokens: 24
                  - name: accuracy
                    weight: 0
            """
        let start = try #require(yaml.range(of: "    rewards:\n"))
        let end = try #require(yaml.range(of: "  - stage: eval\n    name: after_rl"))
        yaml.replaceSubrange(start.lowerBound..<end.lowerBound, with: rewards + "\n")
        yaml = yaml.replacingOccurrences(of: "    steps: 4\n", with: "    steps: 40\n")
            .replacingOccurrences(of: "name: tiny-grpo\n", with: "name: judge-run\n")
        let file = dir.appendingPathComponent("judge-run.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)

        let db = dir.appendingPathComponent("ponder.sqlite").path
        let run = Process()
        run.executableURL = ponder
        run.arguments = ["run", file.path, "--db", db, "--runs", dir.appendingPathComponent("runs").path]
        run.currentDirectoryURL = dir
        run.environment = ProcessInfo.processInfo.environment.merging(["PONDER_TEST_SERVE_KEY": server.key]) { _, new in new }
        run.standardOutput = FileHandle.nullDevice
        let errorsFile = dir.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: errorsFile.path, contents: nil)
        run.standardError = try FileHandle(forWritingTo: errorsFile)
        try run.run()

        // Kill the judge once the first GRPO step is stored.
        let deadline = Date().addingTimeInterval(300)
        var killedAfter: Int?
        while run.isRunning && Date() < deadline && killedAfter == nil {
            if FileManager.default.fileExists(atPath: db), let store = try? RunStore.open(path: db),
               let grpo = try? store.findRun("judge-run/grpo"), let last = try? store.lastStep(run: grpo.id!), last >= 1 {
                server.kill()
                killedAfter = last
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        run.waitUntilExit()
        print("judge run: \(Int(Date().timeIntervalSince(deadline) + 300)) s, judge killed after step \(killedAfter.map(String.init) ?? "-")")
        let stderr = (try? String(contentsOf: errorsFile, encoding: .utf8)) ?? ""
        #expect(run.terminationStatus == 0, "ponder run failed: \(stderr.suffix(2000))")
        let killedAt = try #require(killedAfter, "the GRPO stage never stored a step")

        let store = try RunStore.open(path: db)
        let grpo = try store.findRun("judge-run/grpo")
        #expect(grpo.status == .completed)
        let rollouts = try store.rollouts(run: grpo.id!)
        #expect(rollouts.count == 40 * 8)
        func judge(_ r: StoredRollout) -> RolloutRewardRecord? { r.rewards.first { $0.function == "judge" } }
        // Before the kill, every judge call came back (read, or refused as unparseable).
        for r in rollouts where r.rollout.step <= killedAt {
            #expect(judge(r)?.value != nil || judge(r)?.failure?.contains("unparseable") == true, "\(judge(r)?.failure ?? "")")
        }
        // The last step ran with no server: all 8 judge rewards missing, none a 0, all counted.
        let lastStep = rollouts.filter { $0.rollout.step == 40 }
        #expect(lastStep.count == 8)
        #expect(lastStep.allSatisfy { judge($0)?.value == nil && judge($0)?.failure?.contains("failed after 1 attempts") == true })
        #expect(try store.metrics(run: grpo.id!, step: 40)["reward_failures/judge"] == 8)
        // The gold reward is stored for every rollout.
        #expect(rollouts.allSatisfy { r in r.rewards.contains { $0.function == "accuracy" && $0.value != nil } })
    }
}
