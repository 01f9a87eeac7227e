// `ponder store-torture` (hidden): a store writer that StorageTests kill with SIGKILL mid-write
// to prove the store survives (see Sources/Storage/StoreTorture.swift). Not for users.
import ArgumentParser
import Foundation
import Storage

struct StoreTortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-torture",
        abstract: "Write steps into a store until killed (a test helper).",
        shouldDisplay: false)

    @Option(help: "The SQLite file to write.")
    var db: String

    @Option(help: "Stop after this many steps in total (default: run until killed).")
    var steps: Int?

    func run() throws {
        // Unbuffered stdout: "committed N" must reach the pipe before the next write starts.
        setvbuf(stdout, nil, _IONBF, 0)
        try StoreTorture.write(path: db, steps: steps) { step in print("committed \(step)") }
    }
}
