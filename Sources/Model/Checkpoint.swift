// Checkpoint: a model, and optionally its training state, as a Hugging Face style directory.
//
//   DIR/model.safetensors       weights under the HF Llama names, F32 (a tied LM head is not
//                               stored: HF ties `lm_head.weight` to `model.embed_tokens.weight`)
//   DIR/config.json             LlamaConfig keys (`ModelConfig.configJSON()`)
//   DIR/optimizer.safetensors   AdamW moments `exp_avg.<name>`, `exp_avg_sq.<name>`; the step and
//                               hyper-parameters in its metadata        (when an optimizer is given)
//   DIR/trainer_state.json      `TrainerState`: steps, RNG streams, data cursor, metrics (when given)
//
// A save never leaves a half-written checkpoint: everything is written into `.NAME.saving-<pid>`
// beside DIR, then the old DIR is renamed to `.NAME.old-<pid>`, the new one renamed into place
// and the old one removed. Between the two renames (two syscalls) DIR is briefly absent; if the
// process dies there, the previous checkpoint survives under `.NAME.old-<pid>` and `load` says so.
// Staging names carry the process id only: one save per target directory at a time.
//
// Loading validates config.json, then checks every tensor of model.safetensors against it before
// the model is allocated: a missing, extra or misshapen tensor, a wrong dtype, a truncated or
// unreadable file is an error naming the file, the tensor and the expected shape.
// Loading also reads what `transformers` saves: config.json of Llama, Qwen2 and Mistral
// (`HuggingFaceConfig`), F16 / BF16 weights, and shards named by model.safetensors.index.json.
// What it is not: a reader of tokenizers.

import Foundation

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public enum Checkpoint {
    public static let modelFile = "model.safetensors"
    public static let configFile = "config.json"
    public static let optimizerFile = "optimizer.safetensors"
    public static let trainerStateFile = "trainer_state.json"

    // MARK: Saving

    /// Writes `model` (and `optimizer`'s moments and `trainerState`, when given) to `directory`,
    /// replacing any checkpoint there as a whole. `trainerState.optimizer` is filled in from
    /// `optimizer`. `extraFiles` (name -> contents, e.g. tokenizer.json) join the same atomic swap.
    /// `betweenRenames` runs after the previous checkpoint was moved aside and before the new one
    /// takes its place (fault-injection tests kill the process there).
    public static func save(model: Transformer, optimizer: AdamW? = nil, trainerState: TrainerState? = nil,
                            extraFiles: [String: Data] = [:], to directory: URL, betweenRenames: () -> Void = {}) throws {
        let fm = FileManager.default
        let target = directory.standardizedFileURL
        let parent = target.deletingLastPathComponent()
        let name = target.lastPathComponent
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw ModelError.checkpoint("\(parent.path): cannot create the checkpoint's parent directory (\(error.localizedDescription))")
        }
        let staging = parent.appendingPathComponent(".\(name).saving-\(getpid())")
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw ModelError.checkpoint("\(staging.path): cannot create the staging directory (\(error.localizedDescription))")
        }
        var committed = false
        defer { if !committed { try? fm.removeItem(at: staging) } }

        try modelWriter(model).write(to: staging.appendingPathComponent(modelFile))
        try writeFileAtomically([model.config.configJSON()], to: staging.appendingPathComponent(configFile))
        if let optimizer {
            try optimizerWriter(optimizer, layout: model.layout).write(to: staging.appendingPathComponent(optimizerFile))
        }
        if var state = trainerState {
            if let optimizer {
                state.optimizer = OptimizerRecord(step: optimizer.step, hyperparameters: optimizer.parameters)
            }
            try writeFileAtomically([state.encoded()], to: staging.appendingPathComponent(trainerStateFile))
        }
        for (file, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
            try writeFileAtomically([data], to: staging.appendingPathComponent(file))
        }
        syncDirectory(staging)

        // Swap the new directory in; the old one is removed only once the new one is in place.
        if fm.fileExists(atPath: target.path) {
            let old = parent.appendingPathComponent(".\(name).old-\(getpid())")
            try? fm.removeItem(at: old)
            guard rename(target.path, old.path) == 0 else {
                throw ModelError.checkpoint("\(target.path): cannot move the previous checkpoint aside (\(String(cString: strerror(errno))))")
            }
            betweenRenames()
            guard rename(staging.path, target.path) == 0 else {
                let reason = String(cString: strerror(errno))
                _ = rename(old.path, target.path)
                throw ModelError.checkpoint("\(target.path): cannot move the new checkpoint into place (\(reason)); the previous one is kept")
            }
            committed = true
            try? fm.removeItem(at: old)
        } else {
            guard rename(staging.path, target.path) == 0 else {
                throw ModelError.checkpoint("\(target.path): cannot move the new checkpoint into place (\(String(cString: strerror(errno))))")
            }
            committed = true
        }
        syncDirectory(parent)
    }

    /// Undoes a save killed between its two renames: when `directory` is absent and a previous
    /// checkpoint waits beside it as `.NAME.old-<pid>`, that one moves back into place. Staging
    /// directories left by killed saves (`.NAME.saving-<pid>`) are removed. Nothing happens when
    /// `directory` exists.
    public static func recoverInterruptedSave(at directory: URL) throws {
        let fm = FileManager.default
        let target = directory.standardizedFileURL
        let parent = target.deletingLastPathComponent()
        let name = target.lastPathComponent
        guard let entries = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        for entry in entries where entry.hasPrefix(".\(name).saving-") {
            try? fm.removeItem(at: parent.appendingPathComponent(entry))
        }
        let left = entries.filter { $0.hasPrefix(".\(name).old-") }.sorted()
        if !fm.fileExists(atPath: target.path), let previous = left.last {
            guard rename(parent.appendingPathComponent(previous).path, target.path) == 0 else {
                throw ModelError.checkpoint("\(target.path): cannot move the previous checkpoint back from \(previous) (\(String(cString: strerror(errno))))")
            }
            syncDirectory(parent)
        }
        for entry in left where fm.fileExists(atPath: parent.appendingPathComponent(entry).path) {
            try? fm.removeItem(at: parent.appendingPathComponent(entry))
        }
    }

    /// model.safetensors: every tensor of the layout, in layout order, F32.
    static func modelWriter(_ model: Transformer) -> SafeTensorsWriter {
        precondition(model.dtype == .float32, "Checkpoint.save: the model must hold F32 weights, not a BF16 reference's")
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for t in model.layout.tensors {
            writer.add(t.name, shape: t.shape, UnsafeBufferPointer(start: model.params.pointer + t.offset, count: t.count))
        }
        return writer
    }

    static func optimizerWriter(_ optimizer: AdamW, layout: ParameterLayout) throws -> SafeTensorsWriter {
        guard optimizer.m.count == layout.count else {
            throw ModelError.checkpoint("optimizer holds \(optimizer.m.count) moments but the model has \(layout.count) parameters (an AdamW made for another model?)")
        }
        var writer = SafeTensorsWriter(metadata: [
            "format": "pt",
            "optimizer": "adamw",
            "step": String(optimizer.step),
            "hyperparameters": String(decoding: try JSONEncoder().encode(optimizer.parameters), as: UTF8.self),
        ])
        for (prefix, buffer) in [("exp_avg.", optimizer.m), ("exp_avg_sq.", optimizer.v)] {
            for t in layout.tensors {
                writer.add(prefix + t.name, shape: t.shape, UnsafeBufferPointer(start: buffer.pointer + t.offset, count: t.count))
            }
        }
        return writer
    }

    // MARK: Loading

    /// The model and, when the directory has one, the trainer state.
    public static func load(from directory: URL) throws -> (model: Transformer, trainerState: TrainerState?) {
        let config = try readConfig(from: directory)
        return try load(directory, config)
    }

    /// As `load(from:)`, but the checkpoint's config.json must equal `expected`; the error
    /// lists every differing key.
    public static func load(from directory: URL, expecting expected: ModelConfig) throws -> (model: Transformer, trainerState: TrainerState?) {
        let config = try readConfig(from: directory)
        let differences = try configDifferences(expected: expected, found: config)
        if !differences.isEmpty {
            throw ModelError.checkpoint("\(directory.appendingPathComponent(configFile).path): does not match the expected model config: " + differences.joined(separator: "; "))
        }
        return try load(directory, config)
    }

    /// A frozen model (no gradients) with its weights stored as `dtype`: the reference of grpo,
    /// ppo and dpo. BF16 is read tensor by tensor, so the F32 weights never exist all at once;
    /// weights that are not BF16 already (Ponder's F32 checkpoints) are rounded to nearest-even.
    public static func loadFrozen(from directory: URL, dtype: WeightDType) throws -> Transformer {
        try load(directory, readConfig(from: directory), storage: .frozen(dtype)).model
    }

    private static func load(_ directory: URL, _ config: ModelConfig, storage: Transformer.Storage = .trainable) throws
        -> (model: Transformer, trainerState: TrainerState?)
    {
        // The weights must fit config.json before the model is allocated: a config.json whose
        // sizes were damaged is reported against the file, not tried as gigabytes of memory.
        let file = try WeightFiles(directory: directory)
        try checkTensors(of: file, fit: ParameterLayout(config), config, in: directory)
        let model: Transformer
        do {
            model = try Transformer(config: config, storage: storage)
        } catch let error as ModelError {
            throw ModelError.checkpoint("\(directory.appendingPathComponent(configFile).path): \(error)")
        }
        try readWeights(from: file, into: model)
        return (model, try readTrainerState(from: directory))
    }

    /// config.json, read as Hugging Face writes it (`HuggingFaceConfig`) and validated.
    public static func readConfig(from directory: URL) throws -> ModelConfig {
        let url = try existing(configFile, in: directory, writtenBy: "Checkpoint.save")
        return try HuggingFaceConfig.modelConfig(from: contents(of: url), file: url.path)
    }

    /// trainer_state.json, or nil when the checkpoint has none.
    public static func readTrainerState(from directory: URL) throws -> TrainerState? {
        let url = directory.appendingPathComponent(trainerStateFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try contents(of: url)
        do {
            return try TrainerState.decoded(from: data)
        } catch let error as DecodingError {
            throw ModelError.checkpoint("\(url.path): not a valid trainer state (\(describe(error)))")
        }
    }

    /// Reads model.safetensors into an existing model of the same config.
    public static func loadWeights(into model: Transformer, from directory: URL) throws {
        let file = try WeightFiles(directory: directory)
        try checkTensors(of: file, fit: model.layout, model.config, in: directory)
        try readWeights(from: file, into: model)
    }

    /// Every tensor of `layout` is in the file with its shape, and the file has no tensor the
    /// model has no place for (except what HF checkpoints carry without meaning: RoPE tables,
    /// a tied head's copy). Errors name config.json too: either file may be the wrong one.
    static func checkTensors(of file: WeightFiles, fit layout: ParameterLayout, _ config: ModelConfig, in directory: URL) throws {
        let configPath = directory.appendingPathComponent(configFile).path
        for t in layout.tensors {
            guard let found = file.info(t.name) else {
                throw SafeTensorsError(file: file.path, tensor: t.name, "missing from the file (expected shape \(shapeText(t.shape))), which \(configPath) needs (are the two files from different models?)")
            }
            if found.shape != t.shape {
                throw SafeTensorsError(file: file.path, tensor: t.name, "expected shape \(shapeText(t.shape)), found \(shapeText(found.shape)) (\(configPath) gives the expected one; are the two files from different models?)")
            }
        }
        let known = Set(layout.tensors.map(\.name))
        let unexpected = file.names.filter { name in
            !known.contains(name) && !name.hasSuffix("rotary_emb.inv_freq") && !(name == "lm_head.weight" && config.tieEmbeddings)
        }
        if let bias = unexpected.first(where: { $0.hasSuffix("self_attn.o_proj.bias") }) {
            throw SafeTensorsError(file: file.path, tensor: bias, "attention_bias: true with a bias on o_proj (Llama's layout) is not supported: Ponder's attention has q/k/v biases only (Qwen2's)")
        }
        if !unexpected.isEmpty {
            throw SafeTensorsError(file: file.path, "tensors the model config has no place for: \(unexpected.prefix(8).joined(separator: ", "))\(unexpected.count > 8 ? ", ..." : "") (is \(configPath) from another model?)")
        }
    }

    /// Copies every tensor of the model's layout out of a checked file.
    static func readWeights(from file: WeightFiles, into model: Transformer) throws {
        for t in model.layout.tensors {
            if let half = model.halfParams {
                try file.readBFloat16(t.name, shape: t.shape, into: half.pointer + t.offset)
            } else {
                try file.read(t.name, shape: t.shape, into: model.params.pointer + t.offset)
            }
        }
    }

    /// Restores AdamW's moments and step from optimizer.safetensors; the hyper-parameters saved
    /// there must equal `optimizer.parameters` (an exact resume needs the same optimizer).
    public static func loadOptimizer(into optimizer: AdamW, from directory: URL) throws {
        let file = try SafeTensorsFile(contentsOf: existing(optimizerFile, in: directory, writtenBy: "Checkpoint.save when given an optimizer"))
        let layout = try ParameterLayout(readConfig(from: directory))
        guard layout.count == optimizer.m.count else {
            throw ModelError.checkpoint("\(file.path): the checkpoint's model has \(layout.count) parameters but the optimizer was made for \(optimizer.m.count)")
        }
        guard let stepText = file.metadata["step"], let step = Int(stepText), (0...TrainerState.maximumStep).contains(step) else {
            throw SafeTensorsError(file: file.path, "__metadata__ has no valid \"step\" (an integer in 0...\(TrainerState.maximumStep); not written by Checkpoint.save?)")
        }
        if let text = file.metadata["hyperparameters"] {
            let saved: AdamWParameters
            do {
                saved = try JSONDecoder().decode(AdamWParameters.self, from: Data(text.utf8))
            } catch let error as DecodingError {
                throw SafeTensorsError(file: file.path, "__metadata__ \"hyperparameters\" is not AdamW's (\(describe(error)))")
            }
            if saved != optimizer.parameters {
                throw ModelError.checkpoint("\(file.path): saved AdamW hyper-parameters \(saved) differ from the optimizer's \(optimizer.parameters)")
            }
        }
        var m = [Float](repeating: 0, count: layout.count)
        var v = [Float](repeating: 0, count: layout.count)
        for t in layout.tensors {
            try m.withUnsafeMutableBufferPointer { try file.read("exp_avg." + t.name, shape: t.shape, into: $0.baseAddress! + t.offset) }
            try v.withUnsafeMutableBufferPointer { try file.read("exp_avg_sq." + t.name, shape: t.shape, into: $0.baseAddress! + t.offset) }
        }
        optimizer.restore(step: step, m: m, v: v)
    }

    // MARK: Helpers

    /// "hidden_size: expected 32, found 24" for every config.json key that differs.
    static func configDifferences(expected: ModelConfig, found: ModelConfig) throws -> [String] {
        let a = try JSONSerialization.jsonObject(with: JSONEncoder().encode(expected)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: JSONEncoder().encode(found)) as! [String: Any]
        return a.keys.sorted().compactMap { key in
            let x = "\(a[key] ?? "nil")", y = "\(b[key] ?? "nil")"
            return x == y ? nil : "\(key): expected \(x), found \(y)"
        }
    }

    /// The file's URL, or an error naming it, what writes it and, after an interrupted save,
    /// where the previous checkpoint was left.
    static func existing(_ file: String, in directory: URL, writtenBy writer: String) throws -> URL {
        let url = directory.appendingPathComponent(file)
        if FileManager.default.fileExists(atPath: url.path) { return url }
        var message = "\(url.path): missing (\(writer) writes it)"
        if !FileManager.default.fileExists(atPath: directory.path) {
            message = "\(directory.path): no checkpoint directory here"
            let parent = directory.standardizedFileURL.deletingLastPathComponent()
            let prefix = ".\(directory.lastPathComponent).old-"
            if let left = try? FileManager.default.contentsOfDirectory(atPath: parent.path).first(where: { $0.hasPrefix(prefix) }) {
                message += "; an interrupted save left the previous checkpoint at \(parent.appendingPathComponent(left).path)"
            }
        }
        throw ModelError.checkpoint(message)
    }

    /// "missing key step", "rng_states.data: ...", or for text that is not JSON the parser's
    /// position ("The given data was not valid JSON: Invalid value around character 12.").
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let c):
            let path = (c.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing key \(path)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            var text = path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
            if let parser = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String {
                text += " " + parser
            }
            return text
        @unknown default: return "\(error)"
        }
    }

    /// The bytes of a checkpoint file, or an error naming it.
    static func contents(of url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw ModelError.checkpoint("\(url.path): cannot read the file (\(error.localizedDescription))")
        }
    }

    /// Flushes a directory's entries (the renames into it) to disk.
    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = fsync(fd)
    }
}
