// A run does not depend on Ponder's thread count: tiny-grpo (tokenizer, pretraining, SFT, two
// evals, GRPO) run by the built tool with PONDER_THREADS=1 and 2 ends with bit-identical
// weights, rollouts and eval verdicts (the kernels split rows among threads, never a reduction).
// OpenBLAS's own thread count is held at 2: with OPENBLAS_NUM_THREADS=1 its sgemm sums in
// another order and the last bits of the weights differ (measured; `make results` reruns
// quickstart with one thread to say how far the figures move). Another CPU can differ too: OpenBLAS picks kernels by instruction set.
import Foundation
import Testing
import Storage
import TestSupport

@Suite struct ThreadDeterminismTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func oneAndTwoThreadsGiveTheSameRun() throws {
        let ponder = try #require(PonderTool.executable(), Comment(rawValue: PonderTool.missing))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-threads-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var weights: [Data] = [], completions: [[String]] = [], verdicts: [[String]] = []
        for threads in ["1", "2"] {
            let outcome = try PonderTool.run(ponder, ["run", Self.root.appendingPathComponent("experiments/tiny-grpo.yaml").path,
                                                      "--db", "t\(threads).sqlite", "--runs", "runs\(threads)"],
                                             in: dir, environment: ["PONDER_THREADS": threads, "OPENBLAS_NUM_THREADS": "2"])
            #expect(outcome.status == 0 && !outcome.signalled, "\(outcome.stderr)")
            weights.append(try Data(contentsOf: dir.appendingPathComponent("runs\(threads)/tiny-grpo/grpo/model.safetensors")))
            let store = try RunStore.open(path: dir.appendingPathComponent("t\(threads).sqlite").path)
            let grpo = try #require(try store.latestRun(experimentName: "tiny-grpo", stage: "grpo"))
            completions.append(try store.rollouts(run: grpo.id!).map(\.rollout.completion))
            verdicts.append(try store.evals(run: nil).flatMap { try store.evalItems(eval: $0.id!).map { "\($0.taskID) \($0.verdict)" } })
        }
        #expect(weights[0] == weights[1], "final weights differ between PONDER_THREADS=1 and 2")
        #expect(!completions[0].isEmpty && completions[0] == completions[1])
        #expect(!verdicts[0].isEmpty && verdicts[0] == verdicts[1])
    }
}
