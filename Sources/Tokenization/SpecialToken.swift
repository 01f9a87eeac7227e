// SpecialToken: the atomic tokens of Ponder's chat format (DESIGN.md §4).
//
// Id order: a Ponder tokenizer numbers its vocabulary as
//   0 ..< 256                 the 256 byte tokens (id = byte value)
//   256 ..< 256 + merges      one token per learned merge, in merge order
//   then the special tokens, in the order of `SpecialToken.allCases` below.
// Specials come last (as in GPT-2, Llama 3 and Qwen2) so byte ids equal byte values and a
// tokenizer.json reader sees a plain BPE vocabulary followed by added tokens.
// A special token never comes out of ordinary text: `encode` recognises its spelling only when
// asked to (`allowSpecial: true`); typed by a user it is just the bytes `<`, `|`, ...

public enum SpecialToken: String, CaseIterable, Sendable, Codable {
    /// Document boundary in pretraining; also the first token of every rendered conversation.
    case endOfText = "<|endoftext|>"
    /// Opens a chat turn; the role name follows as ordinary text.
    case imStart = "<|im_start|>"
    /// Separates the role name from the turn's content.
    case imSep = "<|im_sep|>"
    /// Closes a chat turn; for the assistant it is learned (it ends generation).
    case imEnd = "<|im_end|>"
    /// Opens the assistant's reasoning span.
    case thinkStart = "<think>"
    /// Closes the reasoning span.
    case thinkEnd = "</think>"
    /// The assistant starts writing code for the Python tool.
    case pythonStart = "<|python_start|>"
    /// The assistant ends its code; the engine runs it and injects the output.
    case pythonEnd = "<|python_end|>"
    /// Injected by the engine: tool output begins (masked from the loss).
    case outputStart = "<|output_start|>"
    /// Injected by the engine: tool output ends (masked from the loss).
    case outputEnd = "<|output_end|>"
    /// The assistant starts a query for the search tool.
    case searchStart = "<|search_start|>"
    /// The assistant ends its query; the engine injects the results.
    case searchEnd = "<|search_end|>"

    /// The literal spelling, as it appears in tokenizer.json and in decoded text.
    public var text: String { rawValue }
}
