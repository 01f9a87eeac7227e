// The store against SIGKILL: a real child process (`ponder store-torture`, the real RunStore on a
// real WAL file) is killed at random instants, `rounds` times; after each kill the file must open,
// pass `PRAGMA integrity_check` and `foreign_key_check`, hold every step the child reported as
// committed, and hold no partial step. Each child resumes the previous one's run the way the stage
// runner does, so the steps present must also be exactly 0...last, with no gap and no duplicate.
//
// The child is the `ponder` executable from the same build directory as this test bundle
// (`swift test` builds it); PONDER_BINARY overrides the location.
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Storage

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KillTests {
    static let rounds = 8

    @Test func killedWriterLeavesEveryCommittedStepWholeAndNoPartialStep() throws {
        guard let ponder = PonderTool.executable() else {
            Issue.record("""
                the ponder executable was not found next to the test bundle (\(PonderTool.testBinaryDirectory().path)); \
                build it with `swift build -c release` or set PONDER_BINARY
                """)
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("ponder.sqlite")
        var committed = Set<Int>()
        var perRound: [Int] = []

        for round in 0..<Self.rounds {
            let output = directory.file("round-\(round).out")
            let child = try Self.launch(ponder, arguments: ["store-torture", "--db", path], output: output)
            if round == 0 {
                // Anywhere in start-up: opening, migrating, the first steps.
                usleep(UInt32.random(in: 0...40_000))
            } else {
                // Wait for the child to be writing steps, then kill it at a random point of the loop.
                let deadline = Date().addingTimeInterval(15)
                while Self.committedSteps(in: output).isEmpty && child.isRunning && Date() < deadline { usleep(2_000) }
                usleep(UInt32.random(in: 1_000...150_000))
            }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            let reported = Self.committedSteps(in: output)
            if round > 0 {
                #expect(child.terminationReason == .uncaughtSignal, "round \(round): the child exited on its own: \(Self.text(directory.file("round-\(round).out.err")))")
                #expect(!reported.isEmpty, "round \(round): the child reported no committed step before the kill")
            }
            committed.formUnion(reported)
            perRound.append(reported.count)
            try Self.verify(path: path, committed: committed, round: round)
        }

        // A last child runs to completion: it continues exactly where the killed ones stopped.
        let total = (committed.max() ?? 0) + 25
        let output = directory.file("final.out")
        let child = try Self.launch(ponder, arguments: ["store-torture", "--db", path, "--steps", String(total)], output: output)
        child.waitUntilExit()
        #expect(child.terminationStatus == 0, "final child: \(Self.text(output + ".err"))")
        let present = try Self.verify(path: path, committed: committed.union(Self.committedSteps(in: output)), round: Self.rounds)
        #expect(present == total)
        print("kill test: \(Self.rounds) SIGKILLs, steps reported committed per round \(perRound), \(total) steps whole after the final run")
        let store = try RunStore.open(path: path)
        #expect(try store.findRun(StoreTorture.runName).status == .completed)
    }

    /// Checks the file and returns the number of steps present.
    @discardableResult
    static func verify(path: String, committed: Set<Int>, round: Int) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else {
            #expect(committed.isEmpty, "round \(round): no database but steps were reported committed")
            return 0
        }
        let store = try RunStore.open(path: path)
        defer { try? store.close() }
        let (integrity, foreignKeyViolations) = try store.database.read { db in
            (try String.fetchAll(db, sql: "PRAGMA integrity_check"), try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count)
        }
        #expect(integrity == ["ok"], "round \(round): integrity_check")
        #expect(foreignKeyViolations == 0, "round \(round): foreign_key_check")

        guard let run = try store.latestRun(experimentName: StoreTorture.experimentName, stage: "torture")?.id else {
            #expect(committed.isEmpty, "round \(round): no run but steps were reported committed")
            return 0
        }
        let metricRows = try store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT step, name, value FROM metrics WHERE run_id = ?", arguments: [run])
        }
        var metricsByStep: [Int: [String: Double]] = [:]
        for row in metricRows { metricsByStep[row["step"], default: [:]][row["name"]] = row["value"] }
        var rolloutsByStep: [Int: [StoredRollout]] = [:]
        for rollout in try store.rollouts(run: run) { rolloutsByStep[rollout.rollout.step, default: []].append(rollout) }

        let present = Set(metricsByStep.keys).union(rolloutsByStep.keys)
        let missing = committed.subtracting(present).sorted()
        #expect(missing.isEmpty, "round \(round): steps reported committed but absent: \(missing.prefix(10))")
        #expect(present == Set(0..<present.count), "round \(round): steps present are not 0..<\(present.count)")
        for step in present.sorted() {
            #expect(metricsByStep[step] == StoreTorture.metrics(step: step), "round \(round): step \(step) metrics are partial or wrong")
            let expected = StoreTorture.rollouts(step: step)
            let stored = rolloutsByStep[step] ?? []
            let whole = stored.count == expected.count && zip(stored, expected).allSatisfy { stored, expected in
                stored.rollout.taskID == expected.taskID && stored.rollout.completion == expected.completion
                    && stored.rollout.advantage == expected.advantage && stored.rollout.toolCalls == expected.toolCalls
                    && stored.rewards.map { RewardValue(function: $0.function, value: $0.value, failure: $0.failure) }
                        == expected.rewards.sorted { $0.function < $1.function }
            }
            #expect(whole, "round \(round): step \(step) rollouts are partial or wrong (\(stored.count) of \(expected.count))")
            if !whole { break }
        }
        return present.count
    }

    static func launch(_ executable: URL, arguments: [String], output: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: output + ".err", contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: output + ".err")
        try process.run()
        return process
    }

    static func committedSteps(in file: String) -> Set<Int> {
        Set(text(file).split(separator: "\n").compactMap { line in
            line.hasPrefix("committed ") ? Int(line.dropFirst("committed ".count)) : nil
        })
    }

    static func text(_ file: String) -> String {
        (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }
}
