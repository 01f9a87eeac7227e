// A judge as configured in YAML (a `--judge FILE`, or the `judge:` block of an experiment's
// reward): where replies come from, and the rubric's settings.
//
//   backend:
//     url: http://127.0.0.1:8080/v1    # any OpenAI-compatible endpoint, or
//     checkpoint: runs/judge-sft/sft   # a checkpoint answered in process, or
//     serve: runs/judge-sft/sft        # a checkpoint served over loopback HTTP for the run
//     model: judge                     # the name sent to the endpoint (default: the checkpoint's name)
//     api_key_env: OPENAI_API_KEY      # the key is read from this variable, never from the file
//     timeout_seconds: 60
//     retries: 3
//     concurrency: 16                  # calls in flight at most
//   scale: verdict                     # or an integer range, "1-10"
//   use_reference: true
//   temperature: 0
//   max_tokens: 48
//   weighting: sampled                 # or logprobs: the probability-weighted score
//   cache: true

import Foundation
import Serving
import Storage

public struct JudgeBackendConfig: Codable, Sendable, Equatable {
    public var url: String?
    public var checkpoint: String?
    public var serve: String?
    public var model: String?
    public var apiKeyEnv: String?
    public var timeoutSeconds: Double?
    public var retries: Int?
    public var concurrency: Int?

    public init(url: String? = nil, checkpoint: String? = nil, model: String? = nil, apiKeyEnv: String? = nil) {
        self.url = url
        self.checkpoint = checkpoint
        self.model = model
        self.apiKeyEnv = apiKeyEnv
    }

    enum CodingKeys: String, CodingKey {
        case url, checkpoint, serve, model, retries, concurrency
        case apiKeyEnv = "api_key_env", timeoutSeconds = "timeout_seconds"
    }
}

public struct JudgeConfig: Codable, Sendable, Equatable {
    public var backend: JudgeBackendConfig
    public var settings: JudgeSettings

    public init(backend: JudgeBackendConfig, settings: JudgeSettings = JudgeSettings()) {
        self.backend = backend
        self.settings = settings
    }

    enum CodingKeys: String, CodingKey { case backend }

    public init(from decoder: any Decoder) throws {
        backend = try decoder.container(keyedBy: CodingKeys.self).decode(JudgeBackendConfig.self, forKey: .backend)
        settings = try JudgeSettings(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(backend, forKey: .backend)
        try settings.encode(to: encoder)
    }

    /// Checks what decoding cannot: one backend, sane numbers, the key's variable set.
    public func validate(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let given = [backend.url, backend.checkpoint, backend.serve].compactMap { $0 }.count
        if given == 0 {
            throw JudgeConfigError("backend: give url (an OpenAI-compatible endpoint), checkpoint (a directory answered in process) "
                                   + "or serve (a directory served over loopback HTTP)")
        }
        if given > 1 { throw JudgeConfigError("backend: give one of url, checkpoint and serve") }
        switch backend.url {
        case .some(let url):
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw JudgeConfigError("backend.url \"\(url)\" must start with http:// or https://")
            }
            guard backend.model != nil else { throw JudgeConfigError("backend.model: name the model the endpoint serves") }
        default: break
        }
        if let name = backend.apiKeyEnv, (environment[name] ?? "").isEmpty {
            throw JudgeConfigError("backend.api_key_env: the environment variable \(name) is not set")
        }
        if let t = backend.timeoutSeconds, !(t > 0) { throw JudgeConfigError("backend.timeout_seconds must be > 0") }
        if let r = backend.retries, r < 0 || r > 10 { throw JudgeConfigError("backend.retries must be between 0 and 10") }
        if let c = backend.concurrency, c < 1 { throw JudgeConfigError("backend.concurrency must be at least 1") }
        guard (0...2).contains(settings.temperature) else { throw JudgeConfigError("temperature must be between 0 and 2") }
        guard settings.maxTokens >= 1 else { throw JudgeConfigError("max_tokens must be at least 1") }
    }

    /// The judge this config describes; a checkpoint backend is loaded here, and a `serve`
    /// backend started (returned, so the caller controls how long it lives).
    public func makeJudge(store: RunStore?, settings override: JudgeSettings? = nil,
                          environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (Judge, ServedJudge?) {
        try validate(environment: environment)
        let backend: any JudgeBackend
        var served: ServedJudge?
        if let dir = self.backend.serve {
            let service = try ChatService(checkpoint: URL(fileURLWithPath: dir), modelName: self.backend.model, maxBatch: 32)
            let server = try ServedJudge(service: service)
            served = server
            backend = OpenAIBackend(baseURL: server.baseURL, model: service.modelName, apiKey: nil,
                                    timeoutSeconds: self.backend.timeoutSeconds ?? 60, retries: self.backend.retries ?? 3,
                                    concurrency: self.backend.concurrency ?? 32,
                                    identity: "served checkpoint \(URL(fileURLWithPath: dir).standardizedFileURL.path) \(service.modelName)")
        } else if let url = self.backend.url {
            backend = OpenAIBackend(baseURL: url, model: self.backend.model!, apiKey: self.backend.apiKeyEnv.flatMap { environment[$0] },
                                    timeoutSeconds: self.backend.timeoutSeconds ?? 60, retries: self.backend.retries ?? 3,
                                    concurrency: self.backend.concurrency ?? 16)
        } else {
            let dir = URL(fileURLWithPath: self.backend.checkpoint!)
            let service = try ChatService(checkpoint: dir, modelName: self.backend.model, maxBatch: self.backend.concurrency ?? 32)
            backend = LocalBackend(service: service, identity: "checkpoint \(dir.standardizedFileURL.path) \(service.modelName)")
        }
        return (Judge(backend: backend, settings: override ?? settings, store: store), served)
    }
}
