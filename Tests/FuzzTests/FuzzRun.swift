// FuzzRun: feeds mutants to a loader in process, one after the other, and checks each outcome.
//
// A mutant either loads or throws. Loading is allowed (a flipped bit in a weight still leaves a
// file of weights); a thrown error must say where the problem is, and `FuzzCase.check` returns
// what its description lacks (the file's path, a line and column, a key) or nil. Trapping is not
// allowed: it kills the process, after the crash note (CrashNote.swift) has named the mutant.
//
// Environment knobs, for reruns and longer soaks (the defaults are what CI runs):
//   PONDER_FUZZ_ONLY=N       only mutant N of each loader: the way to rerun one failure
//   PONDER_FUZZ_SEED=S       seed S for every loader instead of each test's own
//   PONDER_FUZZ_MUTANTS=M    M mutants per loader instead of each test's count
import Foundation
import Testing

/// One mutant, ready to run: what it is, how to load it, and what its error must contain.
struct FuzzCase {
    var label: String
    var kinds: [String]
    var load: () throws -> Void
    /// nil when the error describes itself well enough, else what is missing.
    var check: (any Error) -> String?
}

/// What a fuzz loop saw.
struct FuzzTally: CustomStringConvertible {
    let loader: String
    var mutants = 0
    var loaded = 0
    var errors = 0
    /// Errors whose description lacks the file or the location.
    var badErrors = 0
    /// Every mutation kind that was applied at least once.
    var kinds: Set<String> = []
    var seconds = 0.0
    /// The mutant that took longest, and its seconds: where a slow run spends its time.
    var slowest: (label: String, seconds: Double) = ("", 0)

    var description: String {
        String(format: "fuzz %@: %d mutants, %d errors (%d badly located), %d loaded, 0 crashes, %.2f s",
               loader, mutants, errors, badErrors, loaded, seconds)
            + String(format: "; slowest %.2f s: ", slowest.seconds) + slowest.label.prefix(160)
    }
}

enum FuzzRun {
    static func knob(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

    /// PONDER_FUZZ_ONLY, when set.
    static var only: Int? { knob("PONDER_FUZZ_ONLY").flatMap { Int($0) } }

    /// A test's seed, unless PONDER_FUZZ_SEED overrides it.
    static func seed(_ own: UInt64) -> UInt64 { knob("PONDER_FUZZ_SEED").flatMap { UInt64($0) } ?? own }

    /// A test's mutant count, unless PONDER_FUZZ_MUTANTS overrides it.
    static func count(_ own: Int) -> Int { knob("PONDER_FUZZ_MUTANTS").flatMap { Int($0) } ?? own }

    /// The mutant indices a loop runs: 0..<count, or the one PONDER_FUZZ_ONLY names.
    static func indices(_ count: Int) -> [Int] { only.map { $0 < count ? [$0] : [] } ?? Array(0..<count) }

    /// Whether the run is a full one (so every mutation kind should have come up).
    static var isFullRun: Bool { only == nil && count(100) >= 100 }

    /// Runs `count` cases made by `make` (from mutants of `seed`) and records an issue for each
    /// badly described error (the first 20 in full; the tally counts them all). Prints the tally.
    static func run(_ loader: String, seed: UInt64, count: Int, make: (Int) throws -> FuzzCase) throws -> FuzzTally {
        var tally = FuzzTally(loader: loader)
        let slot = CrashNote.acquire()
        defer { CrashNote.release(slot) }
        let start = Date()
        try CrashNote.withAlternateStack {
            for index in indices(count) {
                let fuzzCase = try make(index)
                let rerun = "rerun it alone with PONDER_FUZZ_SEED=\(seed) PONDER_FUZZ_ONLY=\(index)"
                CrashNote.write(slot, "  \(loader): \(fuzzCase.label)\n  \(rerun)")
                tally.mutants += 1
                tally.kinds.formUnion(fuzzCase.kinds)
                let started = Date()
                defer {
                    let seconds = Date().timeIntervalSince(started)
                    if seconds > tally.slowest.seconds { tally.slowest = (fuzzCase.label, seconds) }
                }
                do {
                    try fuzzCase.load()
                    tally.loaded += 1
                } catch {
                    tally.errors += 1
                    if let missing = fuzzCase.check(error) {
                        tally.badErrors += 1
                        if tally.badErrors <= 20 {
                            Issue.record("\(loader), \(fuzzCase.label): the error \(missing)\n  error: \(error)\n  \(rerun)")
                        }
                    }
                }
            }
        }
        tally.seconds = Date().timeIntervalSince(start)
        print(tally)
        return tally
    }

    /// nil when `text` contains `path`, else the complaint.
    static func names(_ path: String, in text: String) -> String? {
        text.contains(path) ? nil : "does not name the file \(path)"
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct FuzzDirectory {
    let url: URL

    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-fuzz-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `bytes` to `url` with plain stdio: `Data.write` flushes every file to disk, which
    /// on a busy disk takes longer than loading it.
    static func write(_ bytes: [UInt8], to url: URL) throws {
        guard let file = fopen(url.path, "wb") else { throw FixtureError("cannot create \(url.path)") }
        defer { fclose(file) }
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw FixtureError("cannot write \(url.path)") }
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
