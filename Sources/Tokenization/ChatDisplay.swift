// ChatDisplay: a completion as a person reads it, streamed token by token (`ponder chat`,
// `ponder sample`). Special tokens are never printed raw: a thinking span shows as "(thinking)
// ...", a tool call as "[python] CODE" or "[search] QUERY" with its injected output as
// "[output] ...", and the chat-format tokens (<|im_start|>, <|im_sep|>, <|im_end|>,
// <|endoftext|>) print nothing. A closing token with nothing open prints nothing.
public struct ChatDisplay {
    private let tokenizer: Tokenizer
    private var decoder: StreamingDecoder
    private var open: SpecialToken?

    public init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecial: true)
    }

    /// The text token `id` adds to the display (possibly empty).
    public mutating func push(_ id: Int32) -> String {
        guard let special = tokenizer.specialToken(for: id) else { return decoder.push(id) }
        let pending = decoder.finish()
        let label: String
        switch special {
        case .thinkStart: label = "(thinking) "; open = special
        case .pythonStart: label = "\n[python] "; open = special
        case .searchStart: label = "\n[search] "; open = special
        case .outputStart: label = "\n[output] "; open = special
        case .thinkEnd, .pythonEnd, .searchEnd, .outputEnd:
            label = open == nil ? "" : "\n"
            open = nil
        default: label = ""
        }
        return pending + label
    }

    public mutating func push(_ ids: [Int32]) -> String { ids.map { push($0) }.joined() }

    /// Whatever bytes are still buffered.
    public mutating func finish() -> String { decoder.finish() }
}
