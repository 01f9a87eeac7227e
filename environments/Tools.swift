// The tools a generation engine runs for the model: python (the sandbox) and search (the
// knowledge world's document store). The engine calls these on `<|python_end|>` /
// `<|search_end|>` and injects `text` between `<|output_start|>` and `<|output_end|>`.
import PonderCore

public struct ToolResult: Sendable, Equatable {
    /// What to inject (always set, even on failure, so the model sees what happened).
    public var text: String
    /// Set when the tool's machinery failed or the program was stopped (timeout, memory...),
    /// for the store's sandbox-failure counts. A Python exception is not a failure: it is output.
    public var failure: ExecutionFailure?

    public init(text: String, failure: ExecutionFailure? = nil) {
        self.text = text
        self.failure = failure
    }
}

public struct PythonTool: Sendable {
    public var sandbox: Sandbox
    public var limits: SandboxLimits
    /// Injected output is cut to this many characters (the tail is replaced by a marker).
    public var maxOutputCharacters: Int

    public init(sandbox: Sandbox = .shared, limits: SandboxLimits = SandboxLimits(wallSeconds: 3),
                maxOutputCharacters: Int = 1000) {
        self.sandbox = sandbox
        self.limits = limits
        self.maxOutputCharacters = maxOutputCharacters
    }

    /// Run the code; stdout, then the exception line if it raised, truncated.
    /// "print(12*34)" -> "408\n"; "1/0" -> "ZeroDivisionError: division by zero\n"
    public func run(_ code: String) -> ToolResult {
        format(sandbox.run(SandboxProgram(code, limits: limits)))
    }

    public func run(_ code: String) async -> ToolResult {
        format(await sandbox.run(SandboxProgram(code, limits: limits)))
    }

    /// Many calls at once (a batch of rollouts), results in order.
    public func run(batch codes: [String]) -> [ToolResult] {
        sandbox.run(codes.map { SandboxProgram($0, limits: limits) }).map(format)
    }

    func format(_ result: SandboxResult) -> ToolResult {
        var text = result.stdout
        switch result.outcome {
        case .ok: break
        case .error(let line): text += line + "\n"
        default: text += "[\(result.outcome)]\n"
        }
        if text.count > maxOutputCharacters {
            text = String(text.prefix(maxOutputCharacters)) + "\n[output truncated]\n"
        }
        return ToolResult(text: text, failure: result.outcome.executionFailure)
    }
}

public struct SearchTool: Sendable {
    public static let noResults = "No results."
    public let world: KnowledgeWorld

    public init(world: KnowledgeWorld) { self.world = world }

    /// The passage about the entity the query names, or "No results.".
    public func run(_ query: String) -> ToolResult {
        ToolResult(text: world.search(query) ?? Self.noResults, failure: nil)
    }
}
