import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Throughput figures of this machine.")
    func run() async throws {
        print("bench: not yet")
    }
}
