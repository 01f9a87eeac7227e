// ponder serve CHECKPOINT: the checkpoint behind an OpenAI-compatible chat-completions endpoint
// (Sources/Serving says what is served and how requests are batched).

import ArgumentParser
import Foundation
import Serving

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve a checkpoint over the OpenAI chat-completions API.",
        discussion: """
            Prints "listening on http://HOST:PORT (model NAME)" once the socket is bound; --port 0 \
            picks a free port. SIGINT or SIGTERM stops it after the requests in flight.
            """)
    @Argument(help: "A checkpoint directory, e.g. runs/quickstart/sft.") var checkpoint: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "Name of an environment variable holding the API key clients must send (default: no key).")
    var apiKeyEnv: String?
    @Option(help: "The model's name in the API (default: the checkpoint directory's name).") var modelName: String?
    @Option(help: "Most sequences decoded together (a request with n choices counts n).") var maxBatch = 32

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
        if let apiKeyEnv, (ProcessInfo.processInfo.environment[apiKeyEnv] ?? "").isEmpty {
            throw ValidationError("--api-key-env \(apiKeyEnv): the environment variable is not set or empty")
        }
    }

    func run() async throws {
        let service: ChatService
        do {
            service = try ChatService(checkpoint: URL(fileURLWithPath: checkpoint), modelName: modelName, maxBatch: maxBatch)
        } catch {
            throw fail("\(checkpoint): \(error)")
        }
        let key = apiKeyEnv.flatMap { ProcessInfo.processInfo.environment[$0] }
        let (host, name) = (host, service.modelName)
        try await HTTPServer.run(service, options: ServerOptions(host: host, port: port, apiKey: key)) { port in
            print("listening on http://\(host):\(port) (model \(name))")
            flushOutput()
        }
    }
}
