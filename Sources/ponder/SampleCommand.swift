// ponder sample CHECKPOINT "prompt"   and   ponder chat CHECKPOINT
// Both render the conversation in the chat format, decode with the KV-cache engine until
// <|im_end|>, run python tool calls in the sandbox, and stream the answer as it comes, special
// tokens shown as what they mean (ChatDisplay: "(thinking)", "[python]", "[output]").

import ArgumentParser
import Environments
import Foundation
import Model
import PonderCore
import Tokenization
import Training

struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.7
    @Option(help: "Keep the K most likely tokens (0 = all).") var topK: Int = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 0.95
    @Option(help: "Most new tokens per answer.") var maxNewTokens: Int = 256
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "A system prompt.") var system: String?
}

/// A loaded checkpoint with its tokenizer, answering conversations with streamed output.
struct ChatModel {
    let model: Transformer
    let tokenizer: Tokenizer
    let engine: Engine

    init(path: String) throws {
        let dir = URL(fileURLWithPath: path)
        do {
            (model, _) = try Checkpoint.load(from: dir)
            tokenizer = try Tokenizer.load(checkpointDirectory: dir)
        } catch {
            throw fail("\(path): \(error)")
        }
        engine = Engine(model: model, sequences: 1, maxLength: model.config.maxSeqLen)
    }

    /// Generates the assistant's reply, calling `stream` with each decoded piece.
    func reply(_ conversation: Conversation, _ o: SamplingOptions, rng: inout RNG, stream: @escaping (String) -> Void) throws -> Message {
        let prompt = try tokenizer.renderForCompletion(conversation)
        let room = model.config.maxSeqLen - prompt.count - 1
        guard room > 0 else { throw fail("the conversation (\(prompt.count) tokens) fills the model's context of \(model.config.maxSeqLen)") }
        let params = SamplingParameters(temperature: o.temperature, topK: o.topK, topP: o.topP,
                                        maxNewTokens: min(o.maxNewTokens, room), stopTokens: [tokenizer.endOfTurnID])
        let python = PythonTool()
        var injector = ToolCallInjector(tokenizer: tokenizer, allowedTools: [.python], tools: { tool, code in
            let r = python.run(code)
            return (r.text, r.failure.map { "\($0)" })
        })
        var display = ChatDisplay(tokenizer: tokenizer)
        let out = engine.generate(prompts: [prompt], parameters: params, rng: &rng) { _, tokens in
            stream(display.push(tokens.last!))
            let forced = injector.respond(to: tokens)
            if let forced { stream(display.push(forced)) }
            return forced
        }[0][0]
        stream(display.finish())
        return tokenizer.parseAssistant(out.tokens)
    }
}

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Answer one prompt with a checkpoint, streaming tokens.")
    @Argument(help: "A checkpoint directory, e.g. runs/quickstart/sft.") var checkpoint: String
    @Argument(help: "The user's message.") var prompt: String
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let chat = try ChatModel(path: checkpoint)
        var rng = RNG(seed: sampling.seed)
        _ = try chat.reply(Conversation(system: sampling.system, user: prompt), sampling, rng: &rng) { print($0, terminator: ""); flushOutput() }
        print("")
    }
}

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Talk with a checkpoint (an empty line or EOF ends).")
    @Argument(help: "A checkpoint directory, e.g. runs/quickstart/sft.") var checkpoint: String
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let chat = try ChatModel(path: checkpoint)
        var rng = RNG(seed: sampling.seed)
        var messages: [Message] = sampling.system.map { [.system($0)] } ?? []
        while true {
            print("you> ", terminator: "")
            flushOutput()
            guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
            messages.append(.user(line))
            print("model> ", terminator: "")
            let reply = try chat.reply(Conversation(messages), sampling, rng: &rng) { print($0, terminator: ""); flushOutput() }
            print("")
            messages.append(reply)
        }
    }
}
