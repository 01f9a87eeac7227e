// Rollouts: sampled completions of environment tasks, with tool calls run and their output
// injected (DESIGN.md §1, the "Engine.generate" step of GRPO and of evaluation).
//
// Each task's prompt is rendered with `renderForCompletion`; all tasks go to ONE engine call
// with `samplesPerTask` samples each (the engine prefills a prompt once and shares it with its
// samples, then decodes every sequence together). Generation stops at <|im_end|>.
// Tool calls: when the model samples <|python_end|> or <|search_end|>, `ToolCallInjector` takes
// the code or query written since the matching start token, calls the `ToolExecutor` (only if
// the task allows that tool; otherwise the output is an error text the model can learn from),
// and forces <|output_start|> + encode(output, capped) + <|output_end|>. Forced tokens get loss
// mask 0, exactly as `Tokenizer.render` masks tool output. Tools run synchronously inside the
// engine's hook: decoding of the other sequences waits (a sandbox call costs ~15 ms).
// A Hub model's format has no tool tokens: there a call is `<python>code</python>` in the text,
// run when the closing tag is written, and the output is forced as `<output>...</output>`.
// Edge: when the closing tool token is the completion's last allowed token, the tool still runs
// (its record is in `toolCalls`) but no output fits; the finish reason is then `.length`.
// Not here: rewards, advantages (the RL trainers), chunking a batch too large for the engine.

import Foundation
import Model
import PonderCore
import Tokenization

public struct ToolCallRecord: Codable, Sendable, Equatable {
    public var tool: Tool
    /// The code or query the model wrote.
    public var input: String
    /// The text injected (before the token cap).
    public var output: String
    /// Why the machinery failed or refused the call (sandbox failure, tool not allowed), nil on success.
    public var failure: String?

    public init(tool: Tool, input: String, output: String, failure: String? = nil) {
        self.tool = tool
        self.input = input
        self.output = output
        self.failure = failure
    }
}

/// Runs a tool: (tool, code or query) -> (text to inject, failure description or nil).
/// Environments provide these (PythonTool, SearchTool); the runner wires them in.
public typealias ToolExecutor = @Sendable (Tool, String) -> (output: String, failure: String?)

/// One sampled completion.
public struct Rollout: Sendable, Codable {
    public var promptIDs: [Int32]
    /// Completion tokens, sampled and forced, in order (a final <|im_end|> included).
    public var tokens: [Int32]
    /// Sampling log-probability per token (0 for forced tokens).
    public var logProbs: [Float]
    /// 1 on sampled tokens, 0 on forced tool-output tokens.
    public var lossMask: [Float]
    /// The completion parsed with `Tokenizer.parseAssistant`.
    public var message: Message
    /// The completion decoded, special tokens included.
    public var text: String
    public var finishReason: FinishReason
    public var toolCalls: [ToolCallRecord]

    public init(promptIDs: [Int32], tokens: [Int32], logProbs: [Float], lossMask: [Float], message: Message,
                text: String, finishReason: FinishReason, toolCalls: [ToolCallRecord]) {
        self.promptIDs = promptIDs
        self.tokens = tokens
        self.logProbs = logProbs
        self.lossMask = lossMask
        self.message = message
        self.text = text
        self.finishReason = finishReason
        self.toolCalls = toolCalls
    }
}

/// The tool-call logic of one completion, independent of the engine: given the tokens so far,
/// decides whether a tool call just ended and what to force.
public struct ToolCallInjector {
    public let tokenizer: Tokenizer
    public let allowedTools: [Tool]
    public let tools: ToolExecutor?
    /// Tool output is cut to this many tokens.
    public let maxOutputTokens: Int
    /// Calls after this many get an error text instead of running.
    public let maxCalls: Int
    public private(set) var records: [ToolCallRecord] = []

    public init(tokenizer: Tokenizer, allowedTools: [Tool], tools: ToolExecutor?, maxOutputTokens: Int = 64, maxCalls: Int = 4) {
        self.tokenizer = tokenizer
        self.allowedTools = allowedTools
        self.tools = tools
        self.maxOutputTokens = maxOutputTokens
        self.maxCalls = maxCalls
    }

    /// Hub formats: the text of a call starts after the last forced output.
    private var scanFrom = 0

    /// When the last of `tokens` closes a tool call (<|python_end|> after a <|python_start|>,
    /// or the search pair), runs it and returns the tokens to force:
    /// <|output_start|> output <|output_end|>. A closing token with no opening one since the
    /// last tool output is ignored (nil), as `parseAssistant` drops it. A Hub format spells
    /// the call in text (`TextTags`), so there it is the closing tag that runs it.
    public mutating func respond(to tokens: [Int32]) -> [Int32]? {
        if tokenizer.chatTemplate.family != .ponder { return respondToTags(tokens) }
        guard let last = tokens.last, let special = tokenizer.specialToken(for: last) else { return nil }
        let tool: Tool, opening: SpecialToken
        switch special {
        case .pythonEnd: (tool, opening) = (.python, .pythonStart)
        case .searchEnd: (tool, opening) = (.search, .searchStart)
        default: return nil
        }
        let openID = tokenizer.id(of: opening), outputEnd = tokenizer.id(of: .outputEnd)
        var start = tokens.count - 2
        while start >= 0 && tokens[start] != openID && tokens[start] != outputEnd { start -= 1 }
        guard start >= 0, tokens[start] == openID else { return nil }
        let input = tokenizer.decode(tokens[(start + 1)..<(tokens.count - 1)])
        var forced = [tokenizer.id(of: .outputStart)]
        forced.append(contentsOf: tokenizer.encode(run(tool, input)).prefix(maxOutputTokens))
        forced.append(outputEnd)
        return forced
    }

    /// `<python>code</python>` (or the search pair) ending the text since the last output,
    /// trailing whitespace aside, runs the call; the output is forced as `<output>...</output>`,
    /// encoded as text inside the text (`encode(midText:)`).
    private mutating func respondToTags(_ tokens: [Int32]) -> [Int32]? {
        guard let last = tokens.last, tokenizer.bytes(of: last).contains(UInt8(ascii: ">")) else { return nil }
        let text = String(decoding: tokenizer.decodeBytes(tokens[min(scanFrom, tokens.count)...]), as: UTF8.self)
        let ended = String(text.reversed().drop { $0.isWhitespace }.reversed())
        guard let tool = Tool.allCases.first(where: { ended.hasSuffix(TextTags.close($0)) }) else { return nil }
        let call = String(ended.dropLast(TextTags.close(tool).count))
        guard let open = call.range(of: TextTags.open(tool), options: .backwards) else { return nil }
        let output = run(tool, String(call[open.upperBound...]))
        let forced = tokenizer.encode(midText: TextTags.outputOpen)
            + tokenizer.encode(midText: output).prefix(maxOutputTokens)
            + tokenizer.encode(midText: TextTags.outputClose)
        scanFrom = tokens.count + forced.count
        return forced
    }

    /// Runs one call (or refuses it) and records it; the text to inject.
    private mutating func run(_ tool: Tool, _ input: String) -> String {
        let output: String, failure: String?
        if records.count >= maxCalls {
            (output, failure) = ("error: too many tool calls (at most \(maxCalls))", "too many tool calls")
        } else if !allowedTools.contains(tool) {
            (output, failure) = ("error: the \(tool.rawValue) tool is not available for this task", "tool not allowed")
        } else if let tools {
            (output, failure) = tools(tool, input)
        } else {
            (output, failure) = ("error: no \(tool.rawValue) tool is connected", "no tool executor")
        }
        records.append(ToolCallRecord(tool: tool, input: input, output: output, failure: failure))
        return output
    }
}

public enum Rollouts {
    /// Generates `samplesPerTask` completions for every task in one engine call; the result is
    /// indexed [task][sample]. <|im_end|> is added to the stop tokens. The engine must hold
    /// tasks.count * samplesPerTask sequences and each prompt plus `sampling.maxNewTokens`
    /// (forced tool output counts toward maxNewTokens). Precondition: the tokenizer has the chat
    /// tokens (every Ponder-trained one does) and every prompt renders.
    public static func generate(engine: Engine, tokenizer: Tokenizer, tasks: [EnvTask], samplesPerTask: Int,
                                sampling: SamplingParameters, tools: ToolExecutor?, rng: inout RNG,
                                maxToolOutputTokens: Int = 64, maxToolCalls: Int = 4) -> [[Rollout]] {
        generate(tokenizer: tokenizer, tasks: tasks, samplesPerTask: samplesPerTask, sampling: sampling, tools: tools,
                 maxToolOutputTokens: maxToolOutputTokens, maxToolCalls: maxToolCalls) { prompts, sp, hook in
            engine.generate(prompts: prompts, samplesPerPrompt: samplesPerTask, parameters: sp, rng: &rng, hook: hook)
        }
    }

    /// As above, but task i's samples draw from `streams[i]` alone (Engine's per-prompt streams).
    public static func generate(engine: Engine, tokenizer: Tokenizer, tasks: [EnvTask], samplesPerTask: Int,
                                sampling: SamplingParameters, tools: ToolExecutor?, streams: inout [RNG],
                                maxToolOutputTokens: Int = 64, maxToolCalls: Int = 4) -> [[Rollout]] {
        generate(tokenizer: tokenizer, tasks: tasks, samplesPerTask: samplesPerTask, sampling: sampling, tools: tools,
                 maxToolOutputTokens: maxToolOutputTokens, maxToolCalls: maxToolCalls) { prompts, sp, hook in
            engine.generate(prompts: prompts, samplesPerPrompt: samplesPerTask, parameters: sp, streams: &streams, hook: hook)
        }
    }

    private static func generate(tokenizer: Tokenizer, tasks: [EnvTask], samplesPerTask: Int, sampling: SamplingParameters,
                                 tools: ToolExecutor?, maxToolOutputTokens: Int, maxToolCalls: Int,
                                 decode: ([[Int32]], SamplingParameters, @escaping ForceHook) -> [[Generation]]) -> [[Rollout]] {
        precondition(tokenizer.chatTemplate.family != .ponder || tokenizer.hasChatTokens, "Rollouts.generate: the tokenizer lacks Ponder's chat tokens")
        let G = samplesPerTask
        guard !tasks.isEmpty, G > 0 else { return tasks.map { _ in [] } }
        let prompts = tasks.map { task -> [Int32] in
            do {
                return try tokenizer.renderForCompletion(task.prompt)
            } catch {
                preconditionFailure("Rollouts.generate: task \(task.id) does not render: \(error)")
            }
        }
        var sp = sampling
        let imEnd = tokenizer.endOfTurnID
        if !sp.stopTokens.contains(imEnd) { sp.stopTokens.append(imEnd) }

        var injectors = (0..<(tasks.count * G)).map { s in
            ToolCallInjector(tokenizer: tokenizer, allowedTools: tasks[s / G].tools, tools: tools,
                             maxOutputTokens: maxToolOutputTokens, maxCalls: maxToolCalls)
        }
        let generations = decode(prompts, sp) { s, tokens in injectors[s].respond(to: tokens) }
        return generations.enumerated().map { i, samples in
            samples.enumerated().map { g, gen in
                Rollout(promptIDs: prompts[i], tokens: gen.tokens, logProbs: gen.logProbs,
                        lossMask: gen.forced.map { $0 ? 0 : 1 },
                        message: tokenizer.parseAssistant(gen.tokens),
                        text: tokenizer.decode(gen.tokens),
                        finishReason: gen.finishReason, toolCalls: injectors[i * G + g].records)
            }
        }
    }
}

extension Rollout {
    /// Tokens the model sampled (forced tool output excluded).
    public var sampledTokenCount: Int { lossMask.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    /// The input of the reward functions for this rollout. Maps the engine's finish reason to
    /// PonderCore's (two enums with the same cases exist today; see the report on Engine.swift).
    public func rewardInput(task: EnvTask, verdict: Verdict?, maxCompletionTokens: Int) -> RewardInput {
        RewardInput(task: task, completion: message, completionTokens: sampledTokenCount,
                    maxCompletionTokens: maxCompletionTokens,
                    finishReason: finishReason, verdict: verdict)
    }
}
