import ArgumentParser
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "env", abstract: "Sample tasks from an environment.")
}
