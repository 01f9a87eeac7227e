// Checkpoint and safetensors tests: bit-exact round trips and resumes, interoperability with
// the Python `safetensors` package (through safetensors_check.py), corrupt and mismatched
// files, and saves that fail half-way.

import Foundation
import Testing
import PonderCore
@testable import Model

// MARK: Fixtures

/// Untied, q/k/v bias, grouped-query: every kind of tensor.
let untiedConfig = ModelConfig(vocabSize: 40, dModel: 24, nLayers: 2, nHeads: 4, nKVHeads: 2, ffnHidden: 64,
                               maxSeqLen: 16, tieEmbeddings: false, qkvBias: true)
let tiedConfig = ModelConfig(vocabSize: 40, dModel: 16, nLayers: 1, nHeads: 2, ffnHidden: 32, maxSeqLen: 16)

/// A fresh empty directory, removed by `body`'s end.
func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-ckpt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// A model that has taken `steps` AdamW steps on random tokens, so its moments are not zero.
func trainedModel(_ config: ModelConfig, seed: UInt64, steps: Int = 2) throws -> (Transformer, AdamW, RNG) {
    let model = try Transformer(config: config, seed: seed)
    let optimizer = AdamW(layout: model.layout)
    var rng = RNG(seed: seed &+ 1)
    for _ in 0..<steps { trainStep(model, optimizer, &rng) }
    return (model, optimizer, rng)
}

func trainStep(_ model: Transformer, _ optimizer: AdamW, _ rng: inout RNG) {
    let (B, T) = (2, 5)
    let tokens = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: model.config.vocabSize)) }
    let targets = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: model.config.vocabSize)) }
    model.zeroGrad()
    model.forward(tokens: tokens, B: B, T: T)
    _ = model.crossEntropy(targets: targets, weights: [Float](repeating: 1, count: B * T))
    model.backwardCrossEntropy()
    optimizer.update(params: model.params, grads: model.grads, lr: 1e-2)
}

func bits(_ buffer: FloatBuffer) -> [UInt32] { buffer.array.map(\.bitPattern) }

/// The error's text, or a failure when nothing was thrown.
func errorText(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        try body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return ""
    } catch {
        return "\(error)"
    }
}

/// Rewrites a safetensors file's header text with `edit`, keeping the data; the edit must keep
/// the header's length so the data offsets stay valid.
func editHeader(of url: URL, _ edit: (String) -> String) throws {
    var data = try Data(contentsOf: url)
    let n = Int(data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
    let header = String(decoding: data[8..<(8 + n)], as: UTF8.self)
    let edited = Data(edit(header).utf8)
    precondition(edited.count == n, "editHeader: the edit changed the header length")
    data.replaceSubrange(8..<(8 + n), with: edited)
    try data.write(to: url)
}

// MARK: Round trips

@Suite("Checkpoints")
struct CheckpointTests {
    @Test func roundTripIsBitExactAndResumesBitForBit() throws {
        try withTemporaryDirectory { dir in
            let (model, optimizer, rng) = try trainedModel(untiedConfig, seed: 7)
            var state = TrainerState(step: 2, rngs: ["data": rng, "sampler": RNG(seed: 99)],
                                     dataCursor: ["epoch": 1, "example": 4096], metrics: ["loss": 3.25, "lr": 1e-2])
            try state.setExtra("schedule", LRSchedule.cosine(warmup: 10, total: 100, minRatio: 0.1))
            let ckpt = dir.appendingPathComponent("step-2")
            try Checkpoint.save(model: model, optimizer: optimizer, trainerState: state, to: ckpt)

            let files = try FileManager.default.contentsOfDirectory(atPath: ckpt.path).sorted()
            #expect(files == ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"])

            let (loaded, loadedState) = try Checkpoint.load(from: ckpt)
            #expect(loaded.config == untiedConfig)
            #expect(bits(loaded.params) == bits(model.params))
            let restoredState = try #require(loadedState)
            state.optimizer = OptimizerRecord(step: 2, hyperparameters: optimizer.parameters)
            #expect(restoredState == state)
            #expect(restoredState.rngs["data"]?.state == rng.state)
            #expect(try restoredState.extra("schedule", as: LRSchedule.self) == .cosine(warmup: 10, total: 100, minRatio: 0.1))

            let restored = AdamW(layout: loaded.layout)
            try Checkpoint.loadOptimizer(into: restored, from: ckpt)
            #expect(restored.step == optimizer.step)
            #expect(bits(restored.m) == bits(optimizer.m))
            #expect(bits(restored.v) == bits(optimizer.v))

            // The resumed run and the original take the same next step, bit for bit.
            var original = rng, resumed = try #require(restoredState.rngs["data"])
            trainStep(model, optimizer, &original)
            trainStep(loaded, restored, &resumed)
            #expect(bits(loaded.params) == bits(model.params))
            #expect(bits(restored.v) == bits(optimizer.v))
        }
    }

    @Test func tiedCheckpointStoresOnlyTheEmbeddingLikeHuggingFace() throws {
        try withTemporaryDirectory { dir in
            let model = try Transformer(config: tiedConfig, seed: 3)
            try Checkpoint.save(model: model, to: dir.appendingPathComponent("tied"))
            let file = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("tied/model.safetensors"))
            #expect(file.info("model.embed_tokens.weight")?.shape == [40, 16])
            #expect(file.info("lm_head.weight") == nil)
            #expect(file.metadata["format"] == "pt")
            #expect(file.names == model.layout.tensors.map(\.name))
            let (loaded, state) = try Checkpoint.load(from: dir.appendingPathComponent("tied"))
            #expect(state == nil)
            #expect(bits(loaded.params) == bits(model.params))
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tied/config.json"))) as? [String: Any]
            #expect(config?["tie_word_embeddings"] as? Bool == true)
            #expect(config?["model_type"] as? String == "llama")
        }
    }

    @Test func trainerStateKeepsNonFiniteMetricsAndReadsOlderFiles() throws {
        let state = TrainerState(step: 5, metrics: ["loss": .nan, "grad_norm": .infinity])
        let back = try TrainerState.decoded(from: state.encoded())
        #expect(back.metrics["loss"]?.isNaN == true)
        #expect(back.metrics["grad_norm"] == .infinity)
        let minimal = try TrainerState.decoded(from: Data(#"{"step": 3}"#.utf8))
        #expect(minimal == TrainerState(step: 3))
    }

    // MARK: Interoperability with the Python package

    /// Runs safetensors_check.py; a missing Python or package is a failure that says how to fix it.
    func runPythonCheck(_ input: URL, _ output: URL) throws -> Bool {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("safetensors_check.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, input.path, output.path]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        do {
            try process.run()
        } catch {
            Issue.record("cannot run python3 (\(error)); `make deps` installs python3, numpy and safetensors")
            return false
        }
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        switch process.terminationStatus {
        case 0: return true
        case 3: Issue.record("the Python package safetensors is not importable: `make deps` installs it (\(message))")
        case 127: Issue.record("python3 not found: `make deps` installs it (\(message))")
        default: Issue.record("safetensors_check.py failed with status \(process.terminationStatus): \(message)")
        }
        return false
    }

    @Test func pythonSafetensorsReadsPonderFilesAndPonderReadsPythonFiles() throws {
        try withTemporaryDirectory { dir in
            let (model, optimizer, _) = try trainedModel(untiedConfig, seed: 11, steps: 1)
            let ckpt = dir.appendingPathComponent("ckpt")
            try Checkpoint.save(model: model, optimizer: optimizer, trainerState: TrainerState(step: 1), to: ckpt)
            for name in [Checkpoint.modelFile, Checkpoint.optimizerFile] {
                let ours = try SafeTensorsFile(contentsOf: ckpt.appendingPathComponent(name))
                let back = dir.appendingPathComponent("python-\(name)")
                guard try runPythonCheck(ckpt.appendingPathComponent(name), back) else { return }
                let theirs = try SafeTensorsFile(contentsOf: back)
                #expect(Set(theirs.metadata["python_names"]!.split(separator: ",").map(String.init)) == Set(ours.names))
                #expect(theirs.metadata["format"] == "pt")
                for t in ours.tensors {
                    #expect(theirs.info(t.name)?.dtype == .f32)
                    #expect(try theirs.floats(t.name, shape: t.shape).map(\.bitPattern) == ours.floats(t.name).map(\.bitPattern),
                            "\(name): \(t.name) changed on its way through Python")
                }
                #expect(try theirs.floats("interop.f16", shape: [2, 5]) == theirs.floats("interop.f16_as_f32"))
                #expect(theirs.info("interop.bf16")?.dtype == .bf16)
                #expect(try theirs.floats("interop.bf16") == theirs.floats("interop.bf16_as_f32"))
                #expect(try theirs.integers("interop.i32") == [-1, 0, 7, Int(Int32.max)])
            }
        }
    }

    // MARK: Corrupt and mismatched checkpoints

    @Test func truncatedFileNamesTheTensor() throws {
        try withTemporaryDirectory { dir in
            let model = try Transformer(config: untiedConfig, seed: 1)
            try Checkpoint.save(model: model, to: dir)
            let url = dir.appendingPathComponent(Checkpoint.modelFile)
            let data = try Data(contentsOf: url)
            try data.prefix(data.count - 10).write(to: url)
            let message = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(message.contains("model.safetensors: lm_head.weight: truncated"), "\(message)")
            try data.prefix(5).write(to: url)
            #expect(errorText { _ = try Checkpoint.load(from: dir) }.contains("truncated"))
        }
    }

    @Test func badHeaderJSONIsAnError() throws {
        try withTemporaryDirectory { dir in
            try Checkpoint.save(model: Transformer(config: tiedConfig, seed: 1), to: dir)
            let url = dir.appendingPathComponent(Checkpoint.modelFile)
            try editHeader(of: url) { $0.replacingOccurrences(of: "\"dtype\":\"F32\"", with: "\"dtype\"=\"F32\"") }
            let message = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(message.contains("model.safetensors: the JSON header does not parse"), "\(message)")
            try editHeader(of: url) { "[" + String(repeating: " ", count: $0.utf8.count - 1) }
            let notObject = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(notObject.contains("model.safetensors: the header does not start with '{'"), "\(notObject)")
        }
    }

    @Test func wrongShapeNamesTheTensorAndTheExpectedShape() throws {
        try withTemporaryDirectory { dir in
            let model = try Transformer(config: untiedConfig, seed: 1)
            try Checkpoint.save(model: model, to: dir)
            let url = dir.appendingPathComponent(Checkpoint.modelFile)
            // Hand edit: the same bytes, declared transposed.
            try editHeader(of: url) {
                $0.replacingOccurrences(of: #""model.layers.1.mlp.down_proj.weight":{"dtype":"F32","shape":[24,64]"#,
                                        with: #""model.layers.1.mlp.down_proj.weight":{"dtype":"F32","shape":[64,24]"#)
            }
            let message = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(message.contains("model.layers.1.mlp.down_proj.weight: expected shape [24, 64], found [64, 24]"), "\(message)")

            // A file written with a smaller k_proj, as a model with other head counts would have.
            var writer = SafeTensorsWriter(metadata: ["format": "pt"])
            for t in model.layout.tensors {
                let shape = t.name == "model.layers.0.self_attn.k_proj.weight" ? [6, 24] : t.shape
                writer.add(t.name, shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *)))
            }
            try writer.write(to: url)
            let k = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(k.contains("model.layers.0.self_attn.k_proj.weight: expected shape [12, 24], found [6, 24]"), "\(k)")
        }
    }

    @Test func missingTensorWrongDtypeAndExtraTensorsAreErrors() throws {
        try withTemporaryDirectory { dir in
            let model = try Transformer(config: tiedConfig, seed: 1)
            try Checkpoint.save(model: model, to: dir)
            let url = dir.appendingPathComponent(Checkpoint.modelFile)
            func rewrite(_ change: (TensorSpec, inout SafeTensorsWriter) -> Void) throws {
                var writer = SafeTensorsWriter()
                for t in model.layout.tensors { change(t, &writer) }
                try writer.write(to: url)
            }
            try rewrite { t, w in if t.name != "model.norm.weight" { w.add(t.name, shape: t.shape, floats: model.params.slice(t.offset, t.count)) } }
            var message = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(message.contains("model.norm.weight: missing from the file (expected shape [16])"), "\(message)")

            try rewrite { t, w in
                if t.kind == .norm { w.add(t.name, shape: t.shape, int32: [Int32](repeating: 1, count: t.count)) }
                else { w.add(t.name, shape: t.shape, floats: model.params.slice(t.offset, t.count)) }
            }
            message = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(message.contains("model.layers.0.input_layernorm.weight: dtype I32 is not a floating-point type"), "\(message)")

            try rewrite { t, w in
                w.add(t.name, shape: t.shape, floats: model.params.slice(t.offset, t.count))
                if t.name == "model.norm.weight" { w.add("model.layers.7.mlp.up_proj.weight", shape: [2], floats: [1, 2]) }
            }
            message = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(message.contains("model.layers.7.mlp.up_proj.weight"), "\(message)")
        }
    }

    @Test func missingFilesAndConfigMismatchAreNamed() throws {
        try withTemporaryDirectory { dir in
            let model = try Transformer(config: untiedConfig, seed: 1)
            try Checkpoint.save(model: model, to: dir)
            var expected = untiedConfig
            expected.dModel = 32
            expected.nKVHeads = 4
            let message = errorText { _ = try Checkpoint.load(from: dir, expecting: expected) }
            #expect(message.contains("config.json: does not match the expected model config"), "\(message)")
            #expect(message.contains("hidden_size: expected 32, found 24"), "\(message)")
            #expect(message.contains("num_key_value_heads: expected 4, found 2"), "\(message)")
            #expect(!message.contains("vocab_size"), "\(message)")
            #expect(try Checkpoint.load(from: dir, expecting: untiedConfig).model.config == untiedConfig)

            let noOptimizer = errorText { try Checkpoint.loadOptimizer(into: AdamW(layout: model.layout), from: dir) }
            #expect(noOptimizer.contains("optimizer.safetensors: missing (Checkpoint.save when given an optimizer writes it)"), "\(noOptimizer)")
            try FileManager.default.removeItem(at: dir.appendingPathComponent(Checkpoint.configFile))
            let noConfig = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(noConfig.contains("config.json: missing (Checkpoint.save writes it)"), "\(noConfig)")

            // After a save interrupted between its two renames, load points at the survivor.
            let latest = dir.appendingPathComponent("latest")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(".latest.old-4242"), withIntermediateDirectories: false)
            let interrupted = errorText { _ = try Checkpoint.load(from: latest) }
            #expect(interrupted.contains("an interrupted save left the previous checkpoint at \(dir.path)/.latest.old-4242"), "\(interrupted)")
        }
    }

    /// Sizes found by the loader fuzz tests (Tests/FuzzTests): each once trapped (an overflow
    /// in a product of sizes) or would have asked for terabytes; now each is an error naming
    /// config.json and the key, raised before the model is allocated.
    @Test func hostileConfigSizesAreErrorsNotCrashes() throws {
        try withTemporaryDirectory { dir in
            try Checkpoint.save(model: Transformer(config: tiedConfig, seed: 1), to: dir)
            let url = dir.appendingPathComponent(Checkpoint.configFile)
            let good = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            func message(_ changes: [String: Any?]) throws -> String {
                var config = good
                for (key, value) in changes { config[key] = value }
                try JSONSerialization.data(withJSONObject: config).write(to: url)
                return errorText { _ = try Checkpoint.load(from: dir) }
            }
            let cases: [([String: Any?], String)] = [
                (["vocab_size": 0], "vocab_size: must be in 1...16777216, got 0"),
                (["vocab_size": -40], "vocab_size: must be in 1...16777216, got -40"),
                (["num_attention_heads": 3], "num_attention_heads: must divide hidden_size 16, got 3"),
                (["num_attention_heads": 0], "num_attention_heads: must divide hidden_size 16, got 0"),
                (["hidden_size": 1 << 32, "num_attention_heads": 1, "num_key_value_heads": 1], "hidden_size: must be in 2...65536"),
                (["hidden_size": Int.max, "intermediate_size": nil], "hidden_size: must be in 2...65536"),
                (["num_hidden_layers": 1 << 40], "num_hidden_layers: must be in 1...1024"),
                (["max_position_embeddings": Int.max], "max_position_embeddings: must be in 1...16777216"),
            ]
            for (changes, expected) in cases {
                let text = try message(changes)
                #expect(text.contains(url.path) && text.contains(expected), "\(changes): \(text)")
            }
            // Valid sizes that do not fit the weights: reported against both files, nothing allocated.
            let big = try message(["hidden_size": 1 << 16, "intermediate_size": 1 << 18, "head_dim": nil])
            #expect(big.contains("model.safetensors: model.embed_tokens.weight: expected shape [40, 65536], found [40, 16]"), "\(big)")
            #expect(big.contains(url.path), "\(big)")
        }
        // The largest valid sizes at once: refused for the machine's memory, not by the allocator.
        let huge = ModelConfig(vocabSize: 1 << 24, dModel: 1 << 16, nLayers: 1 << 10, nHeads: 1, ffnHidden: 1 << 18, maxSeqLen: 1 << 24)
        let text = errorText { _ = try Transformer(config: huge) }
        #expect(text.contains("GiB") && text.contains("more than this machine's"), "\(text)")
    }

    @Test func unreadableOrOutOfRangeStateFilesAreNamed() throws {
        try withTemporaryDirectory { dir in
            let (model, optimizer, _) = try trainedModel(tiedConfig, seed: 5, steps: 1)
            try Checkpoint.save(model: model, optimizer: optimizer, trainerState: TrainerState(step: 1), to: dir)
            let fm = FileManager.default
            // A file replaced by a directory is read as a file and fails naming it.
            for name in [Checkpoint.configFile, Checkpoint.trainerStateFile] {
                let url = dir.appendingPathComponent(name)
                let saved = try Data(contentsOf: url)
                try fm.removeItem(at: url)
                try fm.createDirectory(at: url, withIntermediateDirectories: false)
                let text = errorText { _ = try Checkpoint.load(from: dir) }
                #expect(text.contains("\(url.path): cannot read the file"), "\(text)")
                try fm.removeItem(at: url)
                try saved.write(to: url)
            }
            // A step past any run would overflow when the trainer counts on from it.
            let state = dir.appendingPathComponent(Checkpoint.trainerStateFile)
            try Data(#"{"step": 9223372036854775807}"#.utf8).write(to: state)
            let step = errorText { _ = try Checkpoint.load(from: dir) }
            #expect(step.contains("\(state.path): not a valid trainer state (step: must be in 0...1099511627776"), "\(step)")
            // The optimizer's metadata: hyper-parameters that are not AdamW's name the file.
            let optimizerURL = dir.appendingPathComponent(Checkpoint.optimizerFile)
            let saved = try SafeTensorsFile(contentsOf: optimizerURL)
            var writer = SafeTensorsWriter(metadata: saved.metadata.merging(["hyperparameters": "{}"]) { $1 })
            for t in saved.tensors { writer.add(t.name, shape: t.shape, floats: try saved.floats(t.name)) }
            try writer.write(to: optimizerURL)
            let hyper = errorText { try Checkpoint.loadOptimizer(into: AdamW(layout: model.layout, parameters: optimizer.parameters), from: dir) }
            #expect(hyper.contains("\(optimizerURL.path): __metadata__ \"hyperparameters\" is not AdamW's (missing key beta1)"), "\(hyper)")
        }
    }

    @Test func optimizerForAnotherModelOrWithOtherHyperparametersIsRejected() throws {
        try withTemporaryDirectory { dir in
            let (model, optimizer, _) = try trainedModel(tiedConfig, seed: 5, steps: 1)
            try Checkpoint.save(model: model, optimizer: optimizer, to: dir)
            let other = AdamW(layout: model.layout, parameters: AdamWParameters(weightDecay: 0))
            let message = errorText { try Checkpoint.loadOptimizer(into: other, from: dir) }
            #expect(message.contains("hyper-parameters"), "\(message)")
            let wrongSize = errorText { try Checkpoint.loadOptimizer(into: AdamW(layout: ParameterLayout(untiedConfig)), from: dir) }
            #expect(wrongSize.contains("parameters"), "\(wrongSize)")
        }
    }

    // MARK: Atomic saves

    @Test func failedSaveLeavesThePreviousCheckpointIntact() throws {
        try withTemporaryDirectory { dir in
            let ckpt = dir.appendingPathComponent("latest")
            let (first, firstOptimizer, _) = try trainedModel(untiedConfig, seed: 21, steps: 1)
            try Checkpoint.save(model: first, optimizer: firstOptimizer, trainerState: TrainerState(step: 1), to: ckpt)

            // Fails half-way: model.safetensors and config.json are written before the optimizer
            // (made for another model) is found not to fit.
            let second = try Transformer(config: untiedConfig, seed: 22)
            let wrongOptimizer = AdamW(layout: ParameterLayout(tiedConfig))
            let message = errorText { try Checkpoint.save(model: second, optimizer: wrongOptimizer, trainerState: TrainerState(step: 2), to: ckpt) }
            #expect(message.contains("optimizer holds"), "\(message)")

            let (loaded, state) = try Checkpoint.load(from: ckpt)
            #expect(bits(loaded.params) == bits(first.params))
            #expect(state?.step == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["latest"], "staging files left behind")

            // A parent that is a regular file: nothing can be written, nothing changes.
            let blocker = dir.appendingPathComponent("file")
            try Data("x".utf8).write(to: blocker)
            #expect(errorText { try Checkpoint.save(model: second, to: blocker.appendingPathComponent("ckpt")) }.contains(blocker.path))

            // A successful save replaces the checkpoint as a whole and cleans up after itself.
            try Checkpoint.save(model: second, to: ckpt)
            let (replaced, noState) = try Checkpoint.load(from: ckpt)
            #expect(bits(replaced.params) == bits(second.params))
            #expect(noState == nil, "the old trainer_state.json must not survive a save without one")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["file", "latest"])
        }
    }
}

// MARK: The format itself

@Suite("SafeTensors format")
struct SafeTensorsFormatTests {
    @Test func writerAlignsTheHeaderAndRoundTripsShapes() throws {
        var writer = SafeTensorsWriter(metadata: ["note": "quote \" and \\ and \n"])
        writer.add("scalar", shape: [], floats: [2.5])
        writer.add("empty", shape: [0, 3], floats: [])
        writer.add("matrix", shape: [2, 3], floats: [1, 2, 3, 4, 5, -6])
        writer.add("ids", shape: [3], int32: [-1, 0, 1 << 30])
        let data = writer.encoded()
        let n = Int(data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect((8 + n) % 8 == 0)
        #expect(data[8 + n - 1] == UInt8(ascii: " ") || data[8 + n - 1] == UInt8(ascii: "}"))
        let file = try SafeTensorsFile(data: data)
        #expect(file.metadata == ["note": "quote \" and \\ and \n"])
        #expect(try file.floats("scalar", shape: []) == [2.5])
        #expect(try file.floats("empty", shape: [0, 3]) == [])
        #expect(try file.floats("matrix", shape: [2, 3]) == [1, 2, 3, 4, 5, -6])
        #expect(try file.integers("ids") == [-1, 0, 1 << 30])
        #expect(file.names == ["scalar", "empty", "matrix", "ids"])
    }

    #if !(os(macOS) && arch(x86_64))
    @Test func halfToFloatIsExactForEveryBitPattern() {
        for h in 0...UInt16.max {
            let ours = floatFromHalf(h), reference = Float(Float16(bitPattern: h))
            if reference.isNaN { #expect(ours.isNaN) } else { #expect(ours.bitPattern == reference.bitPattern, "half 0x\(String(h, radix: 16))") }
        }
    }
    #endif

    /// A file with a hand-made header and `dataBytes` zero bytes of data.
    func file(header: String, dataBytes: Int) -> Data {
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(Data(count: dataBytes))
        return data
    }

    @Test func malformedFilesAreRejectedWithTheReason() {
        func message(_ data: Data) -> String { errorText { _ = try SafeTensorsFile(data: data, path: "x.safetensors") } }
        #expect(message(Data([1, 2, 3])).contains("x.safetensors: truncated"))
        var huge = Data(count: 16)
        huge.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(1) << 40, as: UInt64.self) }
        #expect(message(huge).contains("exceeds the limit"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 4)).contains("a: truncated"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8)).contains("overlap"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8)).contains("hole"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 8)).contains("4 bytes after the last tensor"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)).contains("a: data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12"))
        #expect(message(file(header: #"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#, dataBytes: 1)).contains("a: unknown dtype Q4"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4)).contains("non-negative"))
        // 2^61 F32 elements need 2^63 bytes: the byte count itself overflows (a fuzzer find).
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,4]}}"#, dataBytes: 4))
            .contains("a: shape [2305843009213693952] of F32 is too large"))
        #expect(message(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775807]}}"#, dataBytes: 4))
            .contains("a: data_offsets [0, 9223372036854775807] hold 9223372036854775807 bytes, but shape [1] of F32 needs 4"))
        #expect(message(file(header: #"{"__metadata__":{"k":1}}"#, dataBytes: 0)).contains("__metadata__.k is not a string"))
        #expect(message(file(header: "not json", dataBytes: 0)).contains("does not start with '{'"))
    }
}
