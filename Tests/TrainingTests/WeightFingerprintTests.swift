// The data-parallel weight check: ranks compare a fingerprint of their weights every
// `fingerprintEvery` steps and at checkpoints, and a mismatch stops the run with an error that
// names the rank. The job here is one process posing as rank 0 of two, whose "other rank"
// reports the fingerprint of weights that differ in one bit: MPI itself is exercised by
// ExperimentsTests/DataParallelTests, which runs the real thing; this checks the decision.
import Foundation
import Model
import PonderCore
import Testing
import Training

/// Rank 0 of a two-rank job whose collectives return this process's own values, except that the
/// other rank's gathered bytes are `otherBytes(mine)`.
final class EchoCollective: Collective, @unchecked Sendable {
    let otherBytes: ([UInt8]) -> [UInt8]
    init(otherBytes: @escaping ([UInt8]) -> [UInt8]) { self.otherBytes = otherBytes }
    var rank: Int { 0 }
    var size: Int { 2 }
    // Both "ranks" hold the same rows' worth of gradient: twice this rank's part.
    func sum(_ values: UnsafeMutableBufferPointer<Float>) { for i in values.indices { values[i] *= 2 } }
    func sum(_ values: inout [Double]) { values = values.map { $0 * 2 } }
    func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
    func gather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes, otherBytes(bytes)] }
    func barrier() {}
    func abort(_ message: String) -> Never { fatalError(message) }
    var traffic: CollectiveTraffic { CollectiveTraffic() }
}

struct WeightFingerprintTests {
    func pretrain(_ collective: any Collective, steps: Int = 12) throws -> [Int] {
        var p = SupervisedTrainerTests.pretrainParameters
        p.steps = steps
        p.checkpointEvery = 0
        let dir = Fixtures.temporaryDirectory("fingerprint")
        defer { try? FileManager.default.removeItem(at: dir) }
        var steps: [Int] = []
        _ = try Pretraining.train(model: Fixtures.model(), tokenizer: Fixtures.tokenizer, train: Fixtures.trainStream,
                                  validation: Fixtures.validationStream, parameters: p, checkpointDirectory: dir, resume: false,
                                  collective: collective) { steps.append($0.step); return true }
        return steps
    }

    @Test func ranksWithTheSameWeightsTrainOn() throws {
        #expect(try pretrain(EchoCollective { $0 }) == Array(1...12))
    }

    @Test func aRankWithOtherWeightsStopsTheRunAtTheNextComparison() throws {
        var completed: [Int] = []
        do {
            completed = try pretrain(EchoCollective { var b = $0; b[0] ^= 1; return b })
            Issue.record("the run went on with diverged ranks")
        } catch let error as TrainingError {
            guard case .diverged(let message) = error else { Issue.record("unexpected \(error)"); return }
            // Compared after step 10 (fingerprintEvery), before any checkpoint; rank 1 is named.
            #expect(message.contains("step 10") && message.contains("rank(s) 1"), "\(message)")
        }
        #expect(completed.isEmpty)
    }

    @Test func theFingerprintSeesOneBit() {
        var values: [Float] = (0..<1000).map { Float($0) * 0.001 }
        let a = values.withUnsafeBufferPointer(fingerprint)
        values[517] = Float(bitPattern: values[517].bitPattern ^ 1)
        #expect(values.withUnsafeBufferPointer(fingerprint) != a)
    }
}
