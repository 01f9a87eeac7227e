// Shared helpers of the Storage tests: temporary store files that clean up after themselves.
import Foundation
import Testing
@testable import Storage

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ponder-storage-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func sampleRollout(group: Int, sample: Int, reward: Double?, functions: [String] = ["accuracy", "format"]) -> NewRollout {
    NewRollout(groupIndex: group, sampleIndex: sample, taskID: "t\(group)", environment: "arithmetic",
               prompt: "What is 2 + \(group)?", completion: "<think>adding</think>\(2 + group)",
               tokenCount: 12 + sample, finishReason: "stop", totalReward: reward, advantage: reward.map { $0 - 0.5 },
               toolCalls: sample == 0 ? #"[{"tool":"python","code":"print(2)"}]"# : nil,
               rewards: functions.map { RewardValue(function: $0, value: reward) })
}
