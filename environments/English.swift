// Real English for the counting environment (DESIGN.md §5): words from Debian's `wamerican` word
// list (/usr/share/dict/american-english, installed by `make deps`) and prose from the license
// texts every Debian system ships in /usr/share/common-licenses (base-files). Task sentences are
// windows of consecutive words from four of those texts; the pretraining passages that teach
// the model to read English come from four others, so no task sentence is pretraining text.
// Loaded once; a missing file is an error that names it and the package that provides it.
import Foundation
import PonderCore

public enum English {
    public static let wordListPath = "/usr/share/dict/american-english"
    public static let licenseDirectory = "/usr/share/common-licenses"
    static let taskTexts = ["GPL-3", "Apache-2.0", "LGPL-3", "MPL-2.0"]
    static let corpusTexts = ["GFDL-1.3", "Artistic", "GPL-2", "CC0-1.0"]

    public struct Source: Sendable {
        /// Words of 3 to 10 ASCII letters, capitalised ones included ("Mississippi", "apple").
        public let words: [String]
        /// The task texts' words, in order (a task sentence is a window of them).
        public let taskProse: [String]
        /// The corpus texts' words, in order.
        public let corpusProse: [String]
    }

    /// The English source, or an error naming the missing file and its package.
    public static func load() throws -> Source {
        if let loaded = cache.value { return loaded }
        guard let list = try? String(contentsOfFile: wordListPath, encoding: .utf8) else {
            throw ConfigError(knob: "counting.source", allowed: "english with \(wordListPath) present (apt-get install wamerican, or make deps), or generated",
                              found: "english, but \(wordListPath) cannot be read")
        }
        let words = list.split(separator: "\n").map(String.init)
            .filter { (3...10).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isLetter } }
        func prose(_ names: [String]) throws -> [String] {
            try names.flatMap { name -> [String] in
                let path = licenseDirectory + "/" + name
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ConfigError(knob: "counting.source", allowed: "english with \(path) present (Debian's base-files), or generated",
                                      found: "english, but \(path) cannot be read")
                }
                // Words that read as words: letters with inner apostrophes or hyphens, edge punctuation kept.
                return text.split(whereSeparator: \.isWhitespace).map(String.init).filter { token in
                    token.contains { $0.isLetter } && token.allSatisfy { $0.isASCII && ($0.isLetter || ",.;:'-()".contains($0)) }
                }
            }
        }
        let source = Source(words: words, taskProse: try prose(taskTexts), corpusProse: try prose(corpusTexts))
        cache.value = source
        return source
    }

    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Source?
        var value: Source? {
            get { lock.lock(); defer { lock.unlock() }; return stored }
            set { lock.lock(); stored = newValue; lock.unlock() }
        }
    }
    private static let cache = Cache()
}
