// TrainerState: what a checkpoint needs beyond the weights to resume a run bit for bit.
//
// Saved as `trainer_state.json` beside `model.safetensors` (the optimizer's moments, which are
// as large as the model, go to `optimizer.safetensors`; see Checkpoint.swift). It holds the
// trainer's step, the optimizer's step and hyper-parameters, every named RNG stream (four
// UInt64 words each), a data cursor, the last metrics and a free-form `extras` map where a
// trainer keeps anything else as JSON (`setExtra` / `extra` take any Codable value).
// Keys missing from an older file decode to their defaults, so fields can be added later.

import Foundation
import PonderCore

public struct TrainerState: Codable, Sendable, Equatable {
    /// Layout version of trainer_state.json.
    public var version: Int = 1
    /// Optimisation steps the trainer has completed.
    public var step: Int
    /// The optimizer's own step and hyper-parameters; `Checkpoint.save` fills it from the
    /// AdamW it is given.
    public var optimizer: OptimizerRecord?
    /// Named random streams (e.g. "sampler", "data").
    public var rngs: [String: RNG]
    /// Where the data stream stands, e.g. ["epoch": 1, "example": 4096].
    public var dataCursor: [String: Int]
    /// The last logged metrics, e.g. ["loss": 2.31, "lr": 3e-4].
    public var metrics: [String: Double]
    /// Trainer-specific state as JSON.
    public var extras: [String: JSONValue]

    public init(step: Int, rngs: [String: RNG] = [:], dataCursor: [String: Int] = [:],
                metrics: [String: Double] = [:], extras: [String: JSONValue] = [:]) {
        self.step = step
        self.rngs = rngs
        self.dataCursor = dataCursor
        self.metrics = metrics
        self.extras = extras
    }

    enum CodingKeys: String, CodingKey {
        case version, step, optimizer
        case rngs = "rng_states"
        case dataCursor = "data_cursor"
        case metrics, extras
    }

    /// The largest step a file may hold. No run takes a trillion steps; a larger count is a
    /// corrupt file, and would overflow when the trainer counts on from it.
    public static let maximumStep = 1 << 40

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        step = try c.decode(Int.self, forKey: .step)
        guard (0...TrainerState.maximumStep).contains(step) else {
            throw DecodingError.dataCorruptedError(forKey: .step, in: c, debugDescription: "must be in 0...\(TrainerState.maximumStep), found \(step)")
        }
        optimizer = try c.decodeIfPresent(OptimizerRecord.self, forKey: .optimizer)
        rngs = try c.decodeIfPresent([String: RNG].self, forKey: .rngs) ?? [:]
        dataCursor = try c.decodeIfPresent([String: Int].self, forKey: .dataCursor) ?? [:]
        metrics = try c.decodeIfPresent([String: Double].self, forKey: .metrics) ?? [:]
        extras = try c.decodeIfPresent([String: JSONValue].self, forKey: .extras) ?? [:]
    }

    /// Stores any Codable value under `key` in `extras`.
    public mutating func setExtra<T: Encodable>(_ key: String, _ value: T) throws {
        extras[key] = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    /// Reads back a value stored with `setExtra`; nil when the key is absent.
    public func extra<T: Decodable>(_ key: String, as type: T.Type) throws -> T? {
        guard let value = extras[key] else { return nil }
        return try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
    }

    /// The file's text: sorted keys, non-finite metrics written as "NaN" / "Infinity".
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(self)
    }

    public static func decoded(from data: Data) throws -> TrainerState {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(TrainerState.self, from: data)
    }
}

/// The optimizer part of the trainer state; its moments live in `file`.
public struct OptimizerRecord: Codable, Sendable, Equatable {
    public var name: String
    /// Updates taken (AdamW's bias correction uses step + 1 next).
    public var step: Int
    public var hyperparameters: AdamWParameters
    public var file: String

    public init(name: String = "adamw", step: Int, hyperparameters: AdamWParameters, file: String = Checkpoint.optimizerFile) {
        self.name = name
        self.step = step
        self.hyperparameters = hyperparameters
        self.file = file
    }
}

/// Any JSON value. Integers that fit an Int stay integers; other numbers are Doubles.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
