// Shared inputs of the tokenizer tests: a small trained tokenizer and varied test text.

import Foundation
import PonderCore
import Tokenization

enum Fixtures {
    /// Trained once per test process on 300 kB of the synthetic corpus.
    static let tokenizer: Tokenizer = {
        try! Tokenizer.train(corpus: SyntheticCorpus.documents(bytes: 300_000, seed: 7), vocabSize: 1200)
    }()

    /// Text that exercises every branch of the pre-tokenizers.
    static let variedText = """
        Hello, world! It's 2024; we're testing: 12 + 345 = 357, 3.14159 and -42.
        I'M SURE THEY'LL SAY "YOU'VE" DONE IT'D. 'quoted' words & symbols: @#$%^*()[]{}<>~`|\\
        Tabs\tand  double  spaces   and trailing spaces   
        Windows\r\nline endings\r\n\r\n and blank lines


        Unicode: café naïve Ünïcödé — Ελληνικά, русский, 中文字符, 日本語のテキスト, 한국어.
        Emoji: 😀👍🏽👨‍👩‍👧 ❤️ and flags 🇫🇷; math ∑∫√∞ ≤ ≥; digits ٣٤٥ and ½ Ⅻ.
        Odd whitespace:\u{00A0}nbsp,\u{3000}ideographic,\u{2028}line sep,\u{0085}nel; 'ſ and 'S 'Re.
        Code: def f(x):\n    return x**2  # comment\n\tindent
        Specials typed: <|endoftext|> <|im_start|>user<|im_sep|>hi<|im_end|> <think>x</think>
        """

    /// Random text from a seeded generator: scalars from many scripts, whitespace and digits.
    static func randomText(_ rng: inout RNG, length: Int) -> String {
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x20...0x7E, 0x20...0x7E, 0x09...0x0D, 0xA0...0xFF, 0x370...0x3FF,
            0x400...0x4FF, 0x4E00...0x4FFF, 0x3040...0x30FF, 0x1F600...0x1F64F, 0x1F300...0x1F3FF,
            0x660...0x669, 0x2000...0x206F, 0x0300...0x036F, 0xAC00...0xAD00,
        ]
        var s = String.UnicodeScalarView()
        for _ in 0..<length {
            let r = ranges[Int(rng.next() % UInt64(ranges.count))]
            let v = r.lowerBound + UInt32(rng.next() % UInt64(r.upperBound - r.lowerBound + 1))
            if let scalar = Unicode.Scalar(v) { s.append(scalar) }
        }
        return String(s)
    }
}
