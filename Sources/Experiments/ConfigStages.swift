// The `stages:` list: an ordered pipeline (DESIGN.md §1). Each item is a mapping with
// `stage: KIND` and that kind's keys, e.g.
//     - stage: pretrain
//       steps: 500
// The runner switches over `Stage` and reads the payload struct; every payload has a `name`
// (unique in the experiment; the runs table and runs/NAME/ use it).
import Foundation
import Model
import Training

/// Every stage kind DESIGN.md names; `isAvailable` says which ones this build can run.
public enum StageKind: String, Codable, Sendable, CaseIterable, ConfigChoice {
    case tokenizer, pretrain, sft, eval, grpo
    case ppo, rewardModel = "reward_model", dpo

    public var isAvailable: Bool {
        switch self {
        case .tokenizer, .pretrain, .sft, .eval, .grpo, .ppo, .rewardModel, .dpo: return true
        }
    }
}

/// A stage whose settings are its trainer's configuration type: `stage.beta` reads and writes
/// `stage.parameters.beta`, as the YAML mapping holds the stage's keys and the trainer's together.
@dynamicMemberLookup
public protocol TrainerStage {
    associatedtype Parameters
    var parameters: Parameters { get set }
}

extension TrainerStage {
    public subscript<T>(dynamicMember key: WritableKeyPath<Parameters, T>) -> T {
        get { parameters[keyPath: key] }
        set { parameters[keyPath: key] = newValue }
    }

    public subscript<T>(dynamicMember key: KeyPath<Parameters, T>) -> T { parameters[keyPath: key] }
}

/// One pipeline stage with its settings.
public enum Stage: Codable, Sendable, Equatable {
    case tokenizer(TokenizerStage)
    case pretrain(PretrainStage)
    case sft(SFTStage)
    case eval(EvalStage)
    case grpo(GRPOStage)
    case rewardModel(RewardModelStage)
    case dpo(DPOStage)
    case ppo(PPOStage)

    public var kind: StageKind {
        switch self {
        case .tokenizer: return .tokenizer
        case .pretrain: return .pretrain
        case .sft: return .sft
        case .eval: return .eval
        case .grpo: return .grpo
        case .rewardModel: return .rewardModel
        case .dpo: return .dpo
        case .ppo: return .ppo
        }
    }

    /// The checkpoint directory a stage starts from (`init_from`; an eval stage: evaluates), or "".
    public var initFrom: String {
        switch self {
        case .pretrain(let s): return s.initFrom
        case .sft(let s): return s.initFrom
        case .grpo(let s): return s.initFrom
        case .rewardModel(let s): return s.initFrom
        case .dpo(let s): return s.initFrom
        case .ppo(let s): return s.initFrom
        case .eval(let s): return s.initFrom
        case .tokenizer: return ""
        }
    }

    /// The stage's unique name (default: its kind; a second stage of a kind gets `KIND_2`, ...).
    public var name: String {
        get {
            switch self {
            case .tokenizer(let s): return s.name
            case .pretrain(let s): return s.name
            case .sft(let s): return s.name
            case .eval(let s): return s.name
            case .grpo(let s): return s.name
            case .rewardModel(let s): return s.name
            case .dpo(let s): return s.name
            case .ppo(let s): return s.name
            }
        }
        set {
            switch self {
            case .tokenizer(var s): s.name = newValue; self = .tokenizer(s)
            case .pretrain(var s): s.name = newValue; self = .pretrain(s)
            case .sft(var s): s.name = newValue; self = .sft(s)
            case .eval(var s): s.name = newValue; self = .eval(s)
            case .grpo(var s): s.name = newValue; self = .grpo(s)
            case .rewardModel(var s): s.name = newValue; self = .rewardModel(s)
            case .dpo(var s): s.name = newValue; self = .dpo(s)
            case .ppo(var s): s.name = newValue; self = .ppo(s)
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let key = AnyKey("stage")
        let available = StageKind.allCases.filter(\.isAvailable).map(\.rawValue)
        guard c.contains(key) else {
            throw ConfigIssue(path: decoder.codingPath, message: "missing `stage`: one of " + available.joined(separator: ", "))
        }
        let text = try c.decode(String.self, forKey: key)
        guard let kind = StageKind(rawValue: text) else {
            throw ConfigIssue(path: decoder.codingPath + [key],
                              message: "unknown stage `\(text)`" + Suggest.didYouMean(text, in: StageKind.choices)
                                  + " (available: " + available.joined(separator: ", ") + ")")
        }
        guard kind.isAvailable else {
            throw ConfigIssue(path: decoder.codingPath + [key],
                              message: "stage `\(text)` is not available yet (available: " + available.joined(separator: ", ") + ")")
        }
        switch kind {
        case .tokenizer: self = .tokenizer(try TokenizerStage(from: decoder))
        case .pretrain: self = .pretrain(try PretrainStage(from: decoder))
        case .sft: self = .sft(try SFTStage(from: decoder))
        case .eval: self = .eval(try EvalStage(from: decoder))
        case .grpo: self = .grpo(try GRPOStage(from: decoder))
        case .rewardModel: self = .rewardModel(try RewardModelStage(from: decoder))
        case .dpo: self = .dpo(try DPOStage(from: decoder))
        case .ppo: self = .ppo(try PPOStage(from: decoder))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(kind.rawValue, forKey: AnyKey("stage"))
        switch self {
        case .tokenizer(let s): try s.encode(to: encoder)
        case .pretrain(let s): try s.encode(to: encoder)
        case .sft(let s): try s.encode(to: encoder)
        case .eval(let s): try s.encode(to: encoder)
        case .grpo(let s): try s.encode(to: encoder)
        case .rewardModel(let s): try s.encode(to: encoder)
        case .dpo(let s): try s.encode(to: encoder)
        case .ppo(let s): try s.encode(to: encoder)
        }
    }
}

/// `stage: tokenizer`: train the byte-level BPE on the environments' corpus. Its keys, when
/// given, override the `tokenizer:` section (which then shows the same values when resolved).
public struct TokenizerStage: Codable, Sendable, Equatable {
    /// Unique stage name. Default `tokenizer`.
    public var name = ""
    /// Vocabulary size. Default: the `tokenizer:` section's (1024 unless set there).
    public var vocabSize: Int?
    /// Corpus documents drawn from each environment. Default: the `tokenizer:` section's (2000).
    public var corpusDocuments: Int?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, vocabSize = "vocab_size", corpusDocuments = "corpus_documents"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a tokenizer stage", alsoAllowing: ["stage"])
        try c.fill(&name, .name)
        try c.fillOptional(&vocabSize, .vocabSize)
        try c.fillOptional(&corpusDocuments, .corpusDocuments)
    }
}
