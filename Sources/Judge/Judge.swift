// The LLM judge: rubric prompts sent to a backend, replies read strictly, results cached.
//
// Pointwise: one call sees the question, optionally the reference answer, and the response, and
// ends with a decision on the stated scale (JudgeReply.swift has the format and the fallbacks);
// the score is normalised to [0, 1]. With `weighting: logprobs` and a backend that returns
// log-probabilities, the score is instead the probability-weighted mean of the scale's values at
// the position of the decision (the mass on tokens that are not values of the scale is dropped
// and the rest renormalised); a reply whose decision token cannot be found falls back to the
// sampled value and says so.
//
// Pairwise: both orders, always. Each order's verdict is mapped back to the original positions
// (un-flipped) and scored +1 (first better), -1 (second better) or 0 (tie); the pair's score is
// the sum, so a verdict that follows the position (A then A) sums to 0, a tie, as JudgeBench
// scores it. A pair is position-consistent when both orders were read and agree after un-flipping.
//
// Failures are values: a call that failed or a reply that could not be read gives a score of
// nil and the reason, which the trainer leaves out of the advantage and the audit counts.
// Cache: the store's judge_cache, keyed by a hash of (backend, model, settings, prompt); a hit
// returns the stored reply. Calls that failed are not cached (they may succeed later); replies
// that could not be read are (the same prompt at temperature 0 gets the same reply).

import Foundation
import PonderCore
@_exported import Rewards
import Serving
import Storage

public struct JudgeSettings: Codable, Sendable, Equatable {
    public enum Weighting: String, Codable, Sendable { case sampled, logprobs }
    public var scale: JudgeScale = .verdict
    /// Show the judge the reference answer (a rubric "with reference").
    public var useReference = true
    public var temperature: Double = 0
    public var maxTokens = 48
    public var weighting: Weighting = .sampled
    /// Look up and store replies in the store's judge_cache.
    public var cache = true

    public init(scale: JudgeScale = .verdict, useReference: Bool = true, temperature: Double = 0, maxTokens: Int = 48,
                weighting: Weighting = .sampled, cache: Bool = true) {
        self.scale = scale
        self.useReference = useReference
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.weighting = weighting
        self.cache = cache
    }

    enum CodingKeys: String, CodingKey {
        case scale, temperature, weighting, cache
        case useReference = "use_reference", maxTokens = "max_tokens"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = JudgeSettings()
        scale = try c.decodeIfPresent(JudgeScale.self, forKey: .scale) ?? d.scale
        useReference = try c.decodeIfPresent(Bool.self, forKey: .useReference) ?? d.useReference
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? d.temperature
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? d.maxTokens
        weighting = try c.decodeIfPresent(Weighting.self, forKey: .weighting) ?? d.weighting
        cache = try c.decodeIfPresent(Bool.self, forKey: .cache) ?? d.cache
    }
}

/// What the judge said about one response.
public struct JudgeGrade: Sendable, Equatable {
    /// In [0, 1]; nil when the call failed or the reply could not be read.
    public var score: Double?
    public var reply: String?
    public var failure: String?
    /// "documented", "bracketed", "final_word", "logprobs", or nil on failure.
    public var rule: String?
    public var cached = false
}

/// What the judge said about a pair, in both orders.
public struct JudgePairing: Sendable, Equatable {
    /// The verdict of the order (first, second), and of (second, first) un-flipped; nil = unread.
    public var forward: PairVerdict?
    public var backward: PairVerdict?
    public var failures: [String] = []

    /// +1 per order that prefers the first answer, -1 per order that prefers the second.
    public var score: Int? {
        guard let forward, let backward else { return nil }
        return Self.points(forward) + Self.points(backward)
    }

    /// The pair's verdict: first, second, or tie (which includes every order-dependent pair).
    public var verdict: PairVerdict? {
        guard let score else { return nil }
        return score > 0 ? .first : score < 0 ? .second : .tie
    }

    /// Both orders read and agreeing once un-flipped.
    public var positionConsistent: Bool? {
        guard let forward, let backward else { return nil }
        return forward == backward
    }

    static func points(_ v: PairVerdict) -> Int {
        switch v {
        case .first: return 1
        case .second: return -1
        case .tie: return 0
        }
    }
}

public final class Judge: Sendable {
    public let backend: any JudgeBackend
    public let settings: JudgeSettings
    let store: RunStore?

    public init(backend: any JudgeBackend, settings: JudgeSettings = JudgeSettings(), store: RunStore? = nil) {
        self.backend = backend
        self.settings = settings
        self.store = store
    }

    // MARK: Prompts

    public func pointwisePrompt(question: String, reference: String?, response: String) -> [ChatMessage] {
        [ChatMessage(role: "user", content: JudgeFormat.pointwise(question: question, reference: settings.useReference ? reference : nil,
                                                                  response: response, scale: settings.scale))]
    }

    public func pairwisePrompt(question: String, reference: String?, a: String, b: String) -> [ChatMessage] {
        [ChatMessage(role: "user", content: JudgeFormat.pairwise(question: question, reference: settings.useReference ? reference : nil,
                                                                 a: a, b: b))]
    }

    // MARK: Judging

    /// Grades one response.
    public func grade(question: String, reference: String?, response: String) async -> JudgeGrade {
        let messages = pointwisePrompt(question: question, reference: reference, response: response)
        let wantLogprobs = settings.weighting == .logprobs
        let reply: ReplyText
        switch await ask(messages, logprobs: wantLogprobs) {
        case .failure(let failure): return JudgeGrade(failure: failure.description)
        case .success(let r): reply = r
        }
        switch JudgeReply.pointwise(reply.text, scale: settings.scale) {
        case .failure(let failure):
            return JudgeGrade(reply: reply.text, failure: "unparseable: \(failure)", cached: reply.cached)
        case .success(let reading):
            if wantLogprobs, let weighted = weightedScore(reply) {
                return JudgeGrade(score: weighted, reply: reply.text, rule: "logprobs", cached: reply.cached)
            }
            return JudgeGrade(score: reading.score, reply: reply.text, rule: reading.rule, cached: reply.cached)
        }
    }

    /// Compares two responses in both orders.
    public func compare(question: String, reference: String?, first: String, second: String) async -> JudgePairing {
        async let one = ask(pairwisePrompt(question: question, reference: reference, a: first, b: second), logprobs: false)
        async let two = ask(pairwisePrompt(question: question, reference: reference, a: second, b: first), logprobs: false)
        var pairing = JudgePairing()
        for (i, result) in await [one, two].enumerated() {
            switch result.flatMap({ r in JudgeReply.pairwise(r.text).mapError { JudgeCallError("unparseable: \($0)") } }) {
            case .failure(let failure): pairing.failures.append(failure.description)
            case .success(let reading):
                if i == 0 { pairing.forward = reading.verdict } else { pairing.backward = reading.verdict.unflipped }
            }
        }
        return pairing
    }

    struct ReplyText {
        var text: String
        var logprobs: [TokenLogprob]?
        var cached: Bool
    }

    /// One call, through the cache.
    func ask(_ messages: [ChatMessage], logprobs: Bool) async -> Result<ReplyText, JudgeCallError> {
        let request = ChatCompletionRequest(model: backend.model, messages: messages, temperature: settings.temperature,
                                            maxTokens: settings.maxTokens, seed: 0, logprobs: logprobs ? true : nil,
                                            topLogprobs: logprobs ? 20 : nil)
        let prompt = messages.map { "\($0.role): \($0.content)" }.joined(separator: "\n")
        let key = SHA256.hex("\(backend.identity)\n\(settings.temperature) \(settings.maxTokens) \(logprobs)\n\(prompt)")
        let useCache = settings.cache && !logprobs  // the cache keeps text, not log-probabilities
        if useCache, let store, let hit = try? store.judgeCache(key: key), let text = hit.response {
            return .success(ReplyText(text: text, logprobs: nil, cached: true))
        }
        let response: ChatCompletionResponse
        do {
            response = try await backend.complete(request)
        } catch {
            return .failure(error as? JudgeCallError ?? JudgeCallError("\(error)"))
        }
        guard let choice = response.choices.first else { return .failure(JudgeCallError("the answer has no choices")) }
        let text = choice.message.content
        if useCache, let store {
            // A cache that cannot be written costs a repeated call later, not a wrong score.
            try? store.putJudgeCache(JudgeCacheEntry(key: key, backend: backend.identity, prompt: prompt, response: text,
                                                     score: nil, failure: nil))
        }
        return .success(ReplyText(text: text, logprobs: choice.logprobs?.content, cached: false))
    }

    /// The probability-weighted value at the decision token: the first token after the
    /// decision label whose alternatives include values of the scale.
    func weightedScore(_ reply: ReplyText) -> Double? {
        guard let tokens = reply.logprobs else { return nil }
        var seen = ""
        var afterLabel = false
        for token in tokens {
            seen += token.token
            if !afterLabel {
                afterLabel = seen.lowercased().contains(settings.scale.label.lowercased() + ":")
                continue
            }
            var mass = 0.0, total = 0.0
            for alt in token.topLogprobs {
                let word = alt.token.trimmingCharacters(in: .whitespaces)
                guard let value = settings.scale.valuePrefix(word) else { continue }
                let p = exp(alt.logprob)
                mass += p
                total += p * settings.scale.normalise(value)
            }
            if mass > 0 { return total / mass }
            if !token.token.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
        }
        return nil
    }
}

extension JudgeScale {
    /// The value a decision token stands for: a whole number on the scale, or the beginning of
    /// exactly one of "correct" / "incorrect" (a tokenizer may split the word).
    func valuePrefix(_ token: String) -> Double? {
        if let v = value(of: token) { return v }
        guard case .verdict = self, !token.isEmpty else { return nil }
        let t = token.lowercased()
        let correct = "correct".hasPrefix(t), incorrect = "incorrect".hasPrefix(t)
        if correct && !incorrect { return 1 }
        if incorrect && !correct { return 0 }
        return nil
    }
}
