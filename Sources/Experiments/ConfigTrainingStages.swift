// `stage: pretrain` and `stage: sft`: supervised next-token training. Each stage's optimisation
// keys are its trainer's configuration type (Sources/Training/SupervisedParameters.swift, where
// every default and rule is written once); the data keys (corpus, demonstrations) are here.
import Foundation
import Model
import PonderCore
import Training

/// `stage: pretrain`: next-token prediction on the environments' plain-text corpus
/// (documents joined with `<|endoftext|>`, packed into `seq_len` windows). Its optimisation
/// settings are the trainer's `Pretraining.Parameters` (Sources/Training/SupervisedParameters.swift:
/// keys, defaults and rules); the corpus keys are the stage's own.
public struct PretrainStage: TrainerStage, Codable, Sendable, Equatable {
    /// Unique stage name. Default `pretrain`.
    public var name = ""
    /// The optimisation settings (`stage.steps` reads `stage.parameters.steps`).
    public var parameters = SupervisedParameters.pretraining


    /// Corpus documents drawn from each environment (train split). Default 2000.
    public var corpusDocuments = 2000
    /// Validation documents per environment, as a share of `corpus_documents`, drawn from the
    /// validation split. Default 0.05.
    public var validationFraction = 0.05
    /// Start from this checkpoint directory instead of the latest stage's (pretrain: instead of
    /// a new model): a Ponder stage folder or a Hugging Face model directory. Its tokenizer and
    /// chat format come with it and serve this stage and the later ones. Default: none.
    public var initFrom = ""

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, corpusDocuments = "corpus_documents", validationFraction = "validation_fraction", initFrom = "init_from"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let mine = try decoder.container(keyedBy: CodingKeys.self)
        try mine.fill(&name, .name)
        parameters = try decodeSupervised(parameters, from: decoder, in: "a pretrain stage", alsoAllowing: CodingKeys.allCases.map(\.stringValue))
        try mine.fill(&corpusDocuments, .corpusDocuments, .atLeast(1))
        try mine.fill(&validationFraction, .validationFraction, .between(0, 0.5))
        try mine.fill(&initFrom, .initFrom)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try parameters.encode(to: encoder)
        try c.encode(corpusDocuments, forKey: .corpusDocuments)
        try c.encode(validationFraction, forKey: .validationFraction)
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
    }
}

/// `stage: sft`: chat-format demonstrations written by the environments (DESIGN.md §4, §5);
/// the loss counts assistant tokens only. Its optimisation settings are the trainer's
/// `SupervisedFineTuning.Parameters`; the demonstration keys are the stage's own.
public struct SFTStage: TrainerStage, Codable, Sendable, Equatable {
    /// Unique stage name. Default `sft`.
    public var name = ""
    /// The optimisation settings (`stage.steps` reads `stage.parameters.steps`).
    public var parameters = SupervisedParameters.sft


    /// Demonstrations generated per environment (the training set; steps cycle over it). Default 2000.
    public var examples = 2000
    /// Mix of demonstration styles: `direct` (answer line only), `think` (a `<think>` span, then
    /// the answer), `tool` (a python or search call whose output leads to the answer). Either a
    /// list (equal weights) or a mapping style -> weight. Environments without a style fall
    /// back to `direct`. Default: all three, equal weights.
    public var styles = StyleMix.all
    /// Held-out demonstrations per environment (validation split) for validation loss. Default 50.
    public var validationExamples = 50
    /// Environments to draw from (names from `environments:`). Default: all of them.
    public var environments: [String] = []
    /// Knowledge probing (KnowledgeProbe.swift): answerable questions the starting model gets
    /// wrong in every sample are demonstrated as "I don't know". Default: off.
    public var probe: ProbeSettings? = nil
    /// Only the training questions of one part (`{part: 1, of: 2}`; QuestionPart). Default: all.
    public var questions: QuestionPart? = nil
    /// Ordinary conversation (greetings, identity, thanks; SmallTalk.swift) added to the
    /// demonstrations, as a share of `examples`. Default 0.05.
    public var smallTalk = 0.05
    /// Start from this checkpoint directory instead of the latest stage's (pretrain: instead of
    /// a new model): a Ponder stage folder or a Hugging Face model directory. Its tokenizer and
    /// chat format come with it and serve this stage and the later ones. Default: none.
    public var initFrom = ""

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, examples, styles, validationExamples = "validation_examples", environments, probe, questions
        case smallTalk = "small_talk", initFrom = "init_from"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let mine = try decoder.container(keyedBy: CodingKeys.self)
        try mine.fill(&name, .name)
        parameters = try decodeSupervised(parameters, from: decoder, in: "an sft stage", alsoAllowing: CodingKeys.allCases.map(\.stringValue))
        try mine.fill(&examples, .examples, .atLeast(1))
        try mine.fill(&styles, .styles)
        try mine.fill(&validationExamples, .validationExamples, .atLeast(0))
        try mine.fill(&environments, .environments)
        probe = try mine.decodeIfPresent(ProbeSettings.self, forKey: .probe)
        questions = try mine.decodeIfPresent(QuestionPart.self, forKey: .questions)
        try mine.fill(&smallTalk, .smallTalk, .between(0, 1))
        try mine.fill(&initFrom, .initFrom)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try parameters.encode(to: encoder)
        try c.encode(examples, forKey: .examples)
        try c.encode(styles, forKey: .styles)
        try c.encode(validationExamples, forKey: .validationExamples)
        try c.encode(environments, forKey: .environments)
        try c.encodeIfPresent(probe, forKey: .probe)
        try c.encodeIfPresent(questions, forKey: .questions)
        try c.encode(smallTalk, forKey: .smallTalk)
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
    }
}

/// A supervised stage's optimisation keys over `defaults`, strictly (unknown keys are errors;
/// `alsoAllowing` lists the stage's own keys), checked against the trainer's rules.
func decodeSupervised(_ defaults: SupervisedParameters, from decoder: Decoder, in context: String,
                      alsoAllowing own: [String]) throws -> SupervisedParameters {
    let c = try decoder.strictContainer(keyedBy: SupervisedKeys.self, in: context, alsoAllowing: own + ["stage"])
    var p = defaults
    try p.fill(from: decoder)
    if let problem = p.problems().first { throw c.issue(problem.key, problem.message) }
    return p
}

/// Weights of the SFT demonstration styles, in the order written.
public struct StyleMix: Codable, Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var style: DemonstrationStyle
        public var weight: Double
    }
    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    public static let all = StyleMix(DemonstrationStyle.allCases.map { Entry(style: $0, weight: 1) })

    /// The weight of `style` (0 when absent).
    public func weight(_ style: DemonstrationStyle) -> Double { entries.first { $0.style == style }?.weight ?? 0 }

    enum Key: String, CodingKey, CaseIterable {
        case direct, think, tool
    }

    public init(from decoder: Decoder) throws {
        if let list = try? decoder.unkeyedContainer() {
            var list = list
            var entries: [Entry] = []
            while !list.isAtEnd {
                let style = try list.decode(DemonstrationStyle.self)
                if entries.contains(where: { $0.style == style }) {
                    throw ConfigIssue(path: list.codingPath + [AnyKey(intValue: list.currentIndex - 1)], message: "`\(style.rawValue)` is listed twice")
                }
                entries.append(Entry(style: style, weight: 1))
            }
            guard !entries.isEmpty else { throw ConfigIssue(path: decoder.codingPath, message: "needs at least one of direct, think, tool") }
            self.init(entries)
            return
        }
        guard (try? decoder.container(keyedBy: AnyKey.self)) != nil else {
            throw ConfigIssue(path: decoder.codingPath,
                              message: "expected a list of styles ([direct, think, tool]) or a mapping of style weights ({think: 2, direct: 1})")
        }
        let c = try decoder.strictContainer(keyedBy: Key.self, in: "styles")
        var entries: [Entry] = []
        for key in c.allKeys {
            var weight = 1.0
            try c.fill(&weight, key, .atLeast(0))
            entries.append(Entry(style: DemonstrationStyle(rawValue: key.rawValue)!, weight: weight))
        }
        guard entries.contains(where: { $0.weight > 0 }) else {
            throw ConfigIssue(path: decoder.codingPath, message: "at least one style needs a weight > 0")
        }
        self.init(entries)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        for e in entries { try c.encode(e.weight, forKey: AnyKey(e.style.rawValue)) }
    }
}
