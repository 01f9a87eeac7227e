// ponder: the command-line tool. One file per subcommand; this one only lists them.
import ArgumentParser

@main
struct Ponder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ponder",
        abstract: "A reinforcement-learning lab for reasoning language models.",
        subcommands: [
            RunCommand.self, RunsCommand.self, CompareCommand.self, RolloutsCommand.self,
            SampleCommand.self, ChatCommand.self, ServeCommand.self, JudgeCommand.self, EvalCommand.self,
            ConfigCommand.self, EnvCommand.self, SandboxCommand.self, TokenizerCommand.self, BenchCommand.self,
            StoreTortureCommand.self,
        ]
    )
}
