// ponder config: inspect experiment files.
//   ponder config show experiments/quickstart.yaml [--json]
// prints the fully resolved config (every default filled in, keys in a fixed order), or the
// located error that stops the experiment from running.
import ArgumentParser
import Experiments
import Foundation

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check and print experiment files.",
        subcommands: [Show.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an experiment file fully resolved, with every default filled in.")

        @Argument(help: "The experiment file, e.g. experiments/quickstart.yaml.")
        var file: String

        @Flag(help: "Print JSON instead of YAML.")
        var json = false

        @Flag(help: "Print only the config hash (16 hex digits of the resolved text).")
        var hash = false

        func run() throws {
            let config: ExperimentConfig
            do {
                config = try ExperimentConfig.load(path: file)
            } catch let error as ExperimentConfigError {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if hash {
                print(config.configHash)
            } else {
                print(json ? config.resolvedJSON() : config.resolvedYAML(), terminator: "")
            }
        }
    }
}
