// overlong: DAPO's soft overlong punishment (Yu et al., 2025, "DAPO", eq. 13).
//
// With L_max the completion budget and L_cache the buffer before it, for a completion of |y| tokens:
//   R = 0                                  if |y| <= L_max - L_cache
//   R = ((L_max - L_cache) - |y|) / L_cache  if L_max - L_cache < |y| <= L_max
//   R = -1                                 if |y| > L_max, or generation was cut at the limit
// L_max is `max_tokens` when set, else the trainer's max_completion_length from the input.
import PonderCore

public struct OverlongReward: RewardFunction {
    public struct Parameters: Codable, Sendable, Equatable {
        /// L_cache, tokens.
        public var bufferTokens = 256
        /// L_max, tokens; nil takes `RewardInput.maxCompletionTokens`.
        public var maxTokens: Int? = nil
        public init() {}
        enum CodingKeys: String, CodingKey { case bufferTokens = "buffer_tokens", maxTokens = "max_tokens" }
    }

    public var parameters: Parameters
    public var name: String { "overlong" }

    public init(_ parameters: Parameters = Parameters()) { self.parameters = parameters }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> {
        let maxTokens = parameters.maxTokens ?? input.maxCompletionTokens
        guard maxTokens > 0 else {
            return .failure(RewardFailure(.notApplicable, "overlong needs max_completion_length (or max_tokens)"))
        }
        let buffer = min(max(1, parameters.bufferTokens), maxTokens)
        let length = input.completionTokens
        let safe = maxTokens - buffer
        if length > maxTokens || (input.finishReason == .length && length >= maxTokens) { return .success(-1) }
        if length <= safe { return .success(0) }
        return .success(Double(safe - length) / Double(buffer))
    }
}
