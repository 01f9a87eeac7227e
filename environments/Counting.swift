// Counting: letters in a word, vowels in a word, words in a sentence, items in a list.
//
// With `source: english` (the default) words come from a real English word list, in their own
// case ("Mississippi"), sentences are windows of 1 to 15 consecutive words of real English prose,
// and letters and vowels are counted case-insensitively, which letter and vowel prompts say
// (English.swift); the pretraining corpus then mixes in passages of other English prose, one
// document in four. With `source: generated` words come from the seeded syllable model
// (Words.swift) and sentences from a small fixed vocabulary. The thinking demonstration spells the word one letter per line and
// keeps a running count beside each match, as a model must (its tokenizer merges letters).
import PonderCore

public struct CountingEnvironment: Environment {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case letter, vowels, words, items
    }

    public enum Source: String, Codable, Sendable {
        case english, generated
    }

    public struct Config: Codable, Sendable, Equatable {
        public var kinds = Kind.allCases
        /// Syllables per generated word (letter and vowel tasks).
        public var minSyllables = 2, maxSyllables = 4
        /// Words per sentence / items per list.
        public var minLength = 3, maxLength = 12
        /// Where words and sentences come from: real English or the syllable model.
        public var source = Source.english
        public var systemPrompt: String? = nil

        public init() {}

        enum CodingKeys: String, CodingKey {
            case kinds, minSyllables = "min_syllables", maxSyllables = "max_syllables"
            case minLength = "min_length", maxLength = "max_length", systemPrompt = "system_prompt", source
        }

        public func validate() throws {
            if kinds.isEmpty {
                throw ConfigError(knob: "counting.kinds", allowed: "non-empty subset of letter vowels words items", found: "[]")
            }
            try ConfigError.check("counting.min_syllables", minSyllables, in: 1...8)
            try ConfigError.check("counting.max_syllables", maxSyllables, in: minSyllables...8)
            try ConfigError.check("counting.min_length", minLength, in: 1...40)
            try ConfigError.check("counting.max_length", maxLength, in: minLength...40)
        }
    }

    public let config: Config
    let english: English.Source?
    public var name: String { "counting" }
    public var tools: [Tool] { [.python] }
    public var styles: [DemonstrationStyle] { DemonstrationStyle.allCases }

    public init(_ config: Config = Config()) throws {
        try config.validate()
        self.config = config
        english = config.source == .english ? try English.load() : nil
    }

    public func sample(_ rng: inout RNG) -> EnvTask {
        let seed = rng.next()
        var r = RNG(seed: seed)
        let kind = config.kinds[r.nextInt(below: config.kinds.count)]
        let question: String, subject: String, answer: Int
        var metadata = ["kind": kind.rawValue]
        switch kind {
        case .letter:
            let (word, letter) = letterTask(&r)
            subject = word
            metadata["letter"] = String(letter)
            answer = word.lowercased().filter { $0 == letter }.count
        case .vowels:
            let word = self.word(&r)
            subject = word
            answer = word.lowercased().filter { Words.vowels.contains($0) }.count
        case .words:
            let n = r.nextInt(in: config.minLength...config.maxLength)
            if let prose = english?.taskProse {
                let start = r.nextInt(below: prose.count - n)
                subject = prose[start..<(start + n)].joined(separator: " ")
            } else {
                subject = (0..<n).map { _ in Words.common[r.nextInt(below: Words.common.count)] }.joined(separator: " ")
            }
            answer = n
        case .items:
            let n = r.nextInt(in: config.minLength...config.maxLength)
            let pool = english.map { $0.words.filter { $0.first!.isLowercase } } ?? Words.items
            subject = (0..<n).map { _ in pool[r.nextInt(below: pool.count)] }.joined(separator: ", ")
            answer = n
        }
        metadata["subject"] = subject
        let task = EnvTask(
            id: "\(name)-\(stableDigest(String(seed), "\(config)"))",
            environment: name,
            prompt: Conversation(user: ""),
            reference: String(answer),
            metadata: metadata,
            difficulty: "\(kind.rawValue), \(subject.count) characters",
            tools: tools)
        return reword(task, wording: 0)
    }

    /// A word for a letter or vowel task: from the English list, or from the syllable model.
    private func word(_ r: inout RNG) -> String {
        if let words = english?.words { return words[r.nextInt(below: words.count)] }
        return Words.word(&r, syllables: r.nextInt(in: config.minSyllables...config.maxSyllables))
    }

    /// What English letter and vowel prompts add: counting ignores case.
    static let caseNote = " Upper and lower case count alike."

    /// The phrasings per kind (Environment.swift): {L} the letter, {W} the word, {S} the sentence
    /// or the list. The family's phrasing i is phrasing i % 8 of the task's kind; every fourth,
    /// from index 3, is held out for the test split. Phrasing 0 of each kind is the original one.
    public static let phrasings: [Kind: [String]] = [
        .letter: [
            "How many times does the letter \"{L}\" appear in the word \"{W}\"? End with \"Answer: N\".",
            "Count the letter {L} in {W}.",
            "How many {L}'s are in \"{W}\"?",
            "In the word {W}, how often does {L} occur?",
            "Number of times \"{L}\" occurs in \"{W}\":",
            "How many copies of the letter '{L}' does '{W}' contain? Give the answer as \"Answer: N\".",
            "Count how many times {L} shows up in the word {W}.",
            "\"{W}\": how many {L}s?",
        ],
        .vowels: [
            "How many vowels (a, e, i, o, u) are in the word \"{W}\"? End with \"Answer: N\".",
            "Count the vowels in {W}.",
            "How many vowels does \"{W}\" have? (Vowels: a, e, i, o, u.)",
            "Number of vowels in the word {W}:",
            "In \"{W}\", how many letters are vowels?",
            "Tell me how many of the letters in {W} are a, e, i, o or u.",
            "Count a, e, i, o and u in \"{W}\". Give the answer as \"Answer: N\".",
            "How many vowels can you find in '{W}'?",
        ],
        .words: [
            "How many words are in this sentence: \"{S}\"? End with \"Answer: N\".",
            "Count the words in \"{S}\".",
            "How many words does this sentence have? {S}",
            "Word count of \"{S}\":",
            "\"{S}\"\nHow many words is that?",
            "Tell me the number of words in the sentence '{S}'.",
            "Count the words: {S}",
            "How long is \"{S}\" in words?",
        ],
        .items: [
            "How many items are in this list: {S}? End with \"Answer: N\".",
            "Count the items in this list: {S}.",
            "How many things are listed here? {S}",
            "Number of items in the list [{S}]:",
            "List: {S}\nHow many items?",
            "Tell me how many entries this list has: {S}.",
            "How many elements does the list \"{S}\" contain? Give the answer as \"Answer: N\".",
            "Count them: {S}",
        ],
    ]
    static let phrasingsPerKind = 8

    public var wordings: Int { Kind.allCases.count * Self.phrasingsPerKind }

    /// The family's phrasing `wording`: phrasing wording % 8 of the task's kind.
    public func reword(_ task: EnvTask, wording: Int) -> EnvTask {
        guard let kind = Kind(rawValue: task.metadata["kind"] ?? ""), let subject = task.metadata["subject"],
              let templates = Self.phrasings[kind] else { return task }
        var task = task
        let text = templates[wording % Self.phrasingsPerKind]
            .replacingOccurrences(of: "{L}", with: task.metadata["letter"] ?? "")
            .replacingOccurrences(of: "{W}", with: subject)
            .replacingOccurrences(of: "{S}", with: subject)
        let note = english != nil && (kind == .letter || kind == .vowels) ? Self.caseNote : ""
        task.prompt = Conversation(system: config.systemPrompt, user: text + note)
        return task
    }

    /// A word and a letter whose count in it is drawn first, uniformly from 0...3, so that no
    /// constant answer scores more than about a quarter (picking a letter of the word made the
    /// answer 1 for most tasks, and RL learned to say 1). Words are redrawn until one has a letter
    /// with that count; short words rarely repeat a letter three times, so after 64 draws the
    /// count falls back to that of a letter of the last word.
    private func letterTask(_ r: inout RNG) -> (word: String, letter: Character) {
        let target = r.nextInt(in: 0...3)
        var word = ""
        for _ in 0..<64 {
            word = self.word(&r)
            let lower = word.lowercased()
            let candidates = target == 0
                ? Words.alphabet.filter { !lower.contains($0) }
                : Array(Set(lower)).sorted().filter { c in c.isLetter && lower.filter { $0 == c }.count == target }
            if !candidates.isEmpty { return (word, candidates[r.nextInt(below: candidates.count)]) }
        }
        let letters = Array(word.lowercased())
        return (word, letters[r.nextInt(below: letters.count)])
    }

    /// Kind, text and letter: "letter|banana|a". The same word asked about another letter is
    /// another question.
    public func splitKey(_ task: EnvTask) -> String {
        [task.metadata["kind"] ?? "", task.metadata["subject"] ?? "", task.metadata["letter"] ?? ""].joined(separator: "|")
    }

    public func verify(_ task: EnvTask, _ completion: Message) -> Verdict {
        Answers.integerVerdict(completion, reference: task.reference)
    }

    public func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message {
        let answer = "Answer: \(task.reference)"
        let subject = task.metadata["subject"] ?? ""
        let kind = Kind(rawValue: task.metadata["kind"] ?? "") ?? .words
        switch style {
        case .direct:
            return .assistant(answer)
        case .think:
            return .assistant([.thinking(steps(kind, subject, letter: task.metadata["letter"])), .text(answer)])
        case .tool:
            let code: String
            switch kind {
            case .letter: code = "print(\"\(subject)\".lower().count(\"\(task.metadata["letter"] ?? "")\"))"
            case .vowels: code = "print(sum(c in \"aeiou\" for c in \"\(subject)\".lower()))"
            case .words: code = "print(len(\"\(subject)\".split()))"
            case .items: code = "print(len(\"\(subject)\".split(\", \")))"
            }
            return .assistant([.toolCall(.python, code), .toolOutput("\(task.reference)\n"), .text(answer)])
        }
    }

    /// One unit per line with a running count beside each match: "r 1" means the first r.
    private func steps(_ kind: Kind, _ subject: String, letter: String?) -> String {
        var lines: [String] = []
        var count = 0
        switch kind {
        case .letter, .vowels:
            lines.append(kind == .letter ? "Spell \(subject) and count \(letter ?? ""):" : "Spell \(subject) and count vowels:")
            for c in subject {
                let lower = Character(c.lowercased())
                let match = kind == .letter ? String(lower) == letter : Words.vowels.contains(lower)
                if match { count += 1; lines.append("\(c) \(count)") } else { lines.append(String(c)) }
            }
        case .words:
            lines.append("Number each word:")
            for w in subject.split(separator: " ") { count += 1; lines.append("\(w) \(count)") }
        case .items:
            lines.append("Number each item:")
            for w in subject.split(separator: ",") { count += 1; lines.append("\(w.trimmingCharacters(in: .whitespaces)) \(count)") }
        }
        lines.append("Total: \(count)")
        return lines.joined(separator: "\n")
    }

    /// Task documents; with English, one document in four is instead a passage of 40 to 80
    /// consecutive words of English prose (English.corpusTexts), so the model reads words it is
    /// never asked about.
    public func corpus(_ rng: inout RNG, count: Int, split: Split, shares: SplitShares) -> [CorpusDocument] {
        (0..<count).map { i in
            if let prose = english?.corpusProse, i % 4 == 3 {
                let n = rng.nextInt(in: 40...80)
                let start = rng.nextInt(below: prose.count - n)
                return CorpusDocument(prose[start..<(start + n)].joined(separator: " "), task: nil)
            }
            let task = sample(&rng, from: split, shares: shares)
            return CorpusDocument(document(task), task: task)
        }
    }

    public func document(_ task: EnvTask) -> String {
        let kind = Kind(rawValue: task.metadata["kind"] ?? "") ?? .words
        return Self.phrasings[kind]![0].replacingOccurrences(of: " End with \"Answer: N\".", with: "")
            .replacingOccurrences(of: "{L}", with: task.metadata["letter"] ?? "").replacingOccurrences(of: "{W}", with: task.metadata["subject"] ?? "")
            .replacingOccurrences(of: "{S}", with: task.metadata["subject"] ?? "") + "\n"
            + steps(kind, task.metadata["subject"] ?? "", letter: task.metadata["letter"]) + "\nThe answer is \(task.reference)."
    }
}

import Foundation
