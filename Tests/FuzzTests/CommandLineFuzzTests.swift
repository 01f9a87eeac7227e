// Fuzzed files through the built `ponder` tool, each run a subprocess: 50 mutated tokenizer.json
// files through `ponder tokenizer encode`, 50 mutated checkpoint directories through
// `ponder eval` (two tasks, four new tokens, so a checkpoint that loads is evaluated quickly),
// and 50 mutated JSONL task files through `ponder eval CKPT --data FILE` (the tiny checkpoint
// intact, every loaded line evaluated with four new tokens; the original file must run).
//
// A run exits 0 with its usual output, or exits 1 with an error on stderr that names the damaged
// file. A signal (a trap, SIGILL; abort; a segfault), any other status, or a run past the time
// limit fails the test, with the mutant's index and seed.
//
// The executable is the one built beside this test bundle (`swift build -c release` builds it);
// PONDER_BINARY overrides.
import Foundation
import Testing
import TestSupport

@Suite struct CommandLineFuzzTests {
    static let mutants = 50
    static let seed: UInt64 = 0xC11

    @Test func tokenizerEncodeExitsOneNamingAMutatedTokenizerFile() throws {
        let ponder = try #require(PonderTool.executable(), Comment(rawValue: PonderTool.missing))
        let original = try FuzzFixtures.tokenizerJSON()
        let directory = try FuzzDirectory("cli-tokenizer")
        defer { directory.remove() }
        let file = directory.file("tokenizer.json")
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("ponder tokenizer encode", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .json)
            try FuzzDirectory.write(mutant.bytes, to: file)
            let arguments = ["tokenizer", "encode", "--tokenizer", file.path, "--allow-special", TokenizerJSONFuzzTests.text]
            return FuzzCase(label: mutant.label, kinds: mutant.kinds.map(\.rawValue),
                            load: { try Self.run(ponder, arguments, in: directory, expecting: " tokens: ") },
                            check: { Self.problem(with: $0, naming: file.path) })
        }
        #expect(tally.badErrors == 0)
        #expect(!FuzzRun.isFullRun || tally.errors > 0, "some mutants should be rejected: \(tally)")
    }

    @Test func evalExitsOneNamingTheMutatedCheckpointFile() throws {
        let ponder = try #require(PonderTool.executable(), Comment(rawValue: PonderTool.missing))
        let files = try FuzzFixtures.checkpointFiles(), otherModel = try FuzzFixtures.otherCheckpointFiles()
        let directory = try FuzzDirectory("cli-eval")
        defer { directory.remove() }
        let checkpoint = directory.file("step-1")
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("ponder eval", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.directoryMutant(index, of: files, otherModel: otherModel)
            try mutant.write(to: checkpoint)
            let arguments = ["eval", checkpoint.path, "--env", "arithmetic", "--tasks", "2", "--max-new-tokens", "4"]
            return FuzzCase(label: mutant.label, kinds: mutant.kinds,
                            load: { try Self.run(ponder, arguments, in: directory, expecting: "greedy accuracy") },
                            check: { Self.problem(with: $0, naming: checkpoint.appendingPathComponent(mutant.target).path) })
        }
        #expect(tally.badErrors == 0)
        #expect(!FuzzRun.isFullRun || tally.errors > 0, "some mutants should be rejected: \(tally)")
    }

    // MARK: JSONL task files (environments/JSONL.swift, `ponder eval --data FILE.jsonl`)

    @Test func evalDataExitsOneNamingTheMutatedTaskFile() throws {
        let ponder = try #require(PonderTool.executable(), Comment(rawValue: PonderTool.missing))
        let directory = try FuzzDirectory("cli-eval-data")
        defer { directory.remove() }
        let checkpoint = directory.file("step-1")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        for (name, bytes) in try FuzzFixtures.checkpointFiles() {
            try FuzzDirectory.write(bytes, to: checkpoint.appendingPathComponent(name))
        }
        let file = directory.file("tasks.jsonl")
        let original = FuzzFixtures.jsonlTasks()
        let arguments = ["eval", checkpoint.path, "--data", file.path, "--max-new-tokens", "4"]
        try FuzzDirectory.write(original, to: file)
        #expect(throws: Never.self, "the original task file should evaluate") {
            try Self.run(ponder, arguments, in: directory, expecting: "greedy accuracy")
        }
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("ponder eval --data", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .jsonl)
            try FuzzDirectory.write(mutant.bytes, to: file)
            return FuzzCase(label: mutant.label, kinds: mutant.kinds.map(\.rawValue),
                            load: { try Self.run(ponder, arguments, in: directory, expecting: "greedy accuracy") },
                            check: { Self.problem(with: $0, naming: file.path) })
        }
        #expect(tally.badErrors == 0)
        #expect(!FuzzRun.isFullRun || (tally.errors > 0 && tally.loaded > 0), "some mutants should be rejected, some run: \(tally)")
    }

    // MARK: Running the tool

    /// How a run of the tool ended when it did not succeed.
    struct Failure: Error, CustomStringConvertible {
        var status: Int32
        var signaled: Bool
        var timedOut: Bool
        var stderr: String
        var description: String {
            (timedOut ? "timed out" : signaled ? "died of signal \(status)" : "exited with status \(status)") + ": " + stderr
        }
    }

    static let timeLimit: TimeInterval = 60

    /// Runs `ponder arguments`; returns when it exits 0 with `expecting` on stdout, else throws
    /// a Failure.
    static func run(_ ponder: URL, _ arguments: [String], in directory: FuzzDirectory, expecting: String) throws {
        let out = directory.file("stdout"), err = directory.file("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = ponder
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        let timedOut = done.wait(timeout: .now() + timeLimit) == .timedOut
        if timedOut {
            process.terminate()
            done.wait()
        }
        let stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        let signaled = process.terminationReason == .uncaughtSignal
        if timedOut || signaled || process.terminationStatus != 0 {
            throw Failure(status: process.terminationStatus, signaled: signaled, timedOut: timedOut, stderr: stderr)
        }
        if !stdout.contains(expecting) {
            throw Failure(status: 0, signaled: false, timedOut: false, stderr: "exit 0 without \"\(expecting)\" on stdout: \(stdout)")
        }
    }

    /// What is wrong with a failed run: anything but exit status 1 with the file on stderr.
    static func problem(with error: any Error, naming path: String) -> String? {
        guard let failure = error as? Failure else { return "is not a run of the tool: \(error)" }
        if failure.timedOut || failure.signaled || failure.status != 1 { return "is a crash or a wrong status" }
        return FuzzRun.names(path, in: failure.stderr)
    }
}
