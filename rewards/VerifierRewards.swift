// Rewards that read the environment's verdict: accuracy and code tests passed.
import PonderCore

/// accuracy: the verifier's value. 1 for correct, 0 otherwise; a graded score (code: share of
/// tests passed; knowledge: 1 for refusing an unanswerable question) when `partialCredit`.
/// A machinery failure (sandbox error, timeout) is returned as a failure.
public struct AccuracyReward: RewardFunction {
    public struct Parameters: Codable, Sendable, Equatable {
        /// Use the verdict's graded score when it has one; otherwise all or nothing.
        public var partialCredit = true
        public init() {}
        enum CodingKeys: String, CodingKey { case partialCredit = "partial_credit" }
    }

    public var parameters: Parameters
    public var name: String { "accuracy" }
    public var needsVerdict: Bool { true }

    public init(_ parameters: Parameters = Parameters()) { self.parameters = parameters }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> {
        guard let verdict = input.verdict else { return .failure(RewardFailure(.missingVerdict, "accuracy needs the verifier's verdict")) }
        if let failure = verdict.failure {
            return .failure(RewardFailure(.execution, failure.description, execution: failure))
        }
        return .success(parameters.partialCredit ? verdict.value : (verdict.kind == .correct ? 1 : 0))
    }
}

/// code_tests: the share of hidden tests passed, in [0, 1]. Fails (not 0) when the sandbox
/// stopped the program (timeout, memory, output cap) or could not run, and when the task has no
/// tests (not a code task).
public struct CodeTestsReward: RewardFunction {
    public struct Parameters: Codable, Sendable, Equatable {
        /// 1 only when every test passes.
        public var allOrNothing = false
        public init() {}
        enum CodingKeys: String, CodingKey { case allOrNothing = "all_or_nothing" }
    }

    public var parameters: Parameters
    public var name: String { "code_tests" }
    public var needsVerdict: Bool { true }

    public init(_ parameters: Parameters = Parameters()) { self.parameters = parameters }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> {
        guard let verdict = input.verdict else { return .failure(RewardFailure(.missingVerdict, "code_tests needs the verifier's verdict")) }
        if let failure = verdict.failure {
            return .failure(RewardFailure(.execution, failure.description, execution: failure))
        }
        if verdict.kind == .unparseable || verdict.kind == .refused { return .success(0) }
        guard let share = verdict.score else {
            return .failure(RewardFailure(.notApplicable, "task \(input.task.id) has no tests"))
        }
        return .success(parameters.allOrNothing ? (share == 1 ? 1 : 0) : share)
    }
}
