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
        // One write(2) per line, unbuffered: "committed N" reaches the file before the next step starts.
        try StoreTorture.write(path: db, steps: steps) { step in
            FileHandle.standardOutput.write(Data("committed \(step)\n".utf8))
        }
    }
}
