// A checkpoint's weights: model.safetensors, or the shards that model.safetensors.index.json
// maps every tensor to (how `transformers` saves a model larger than its shard size).
import Foundation

struct WeightFiles {
    static let indexFile = "model.safetensors.index.json"

    /// What errors name: model.safetensors, or the index.
    let path: String
    private let files: [SafeTensorsFile]
    private let owner: [String: Int]
    let names: [String]

    init(directory: URL) throws {
        let single = directory.appendingPathComponent(Checkpoint.modelFile)
        let index = directory.appendingPathComponent(Self.indexFile)
        guard !FileManager.default.fileExists(atPath: single.path), FileManager.default.fileExists(atPath: index.path) else {
            let file = try SafeTensorsFile(contentsOf: Checkpoint.existing(Checkpoint.modelFile, in: directory, writtenBy: "Checkpoint.save"))
            path = file.path
            files = [file]
            names = file.names
            owner = Dictionary(uniqueKeysWithValues: file.names.map { ($0, 0) })
            return
        }
        path = index.path
        struct Index: Decodable { var weight_map: [String: String] }
        let map: [String: String]
        do {
            map = try JSONDecoder().decode(Index.self, from: Data(contentsOf: index)).weight_map
        } catch let error as DecodingError {
            throw ModelError.checkpoint("\(index.path): not a shard index (\(Checkpoint.describe(error)); it needs \"weight_map\": {tensor: file})")
        }
        var shards: [String: Int] = [:], opened: [SafeTensorsFile] = [], owner: [String: Int] = [:]
        for (name, shard) in map.sorted(by: { $0.key < $1.key }) {
            guard !shard.contains("/"), !shard.hasPrefix(".") else {
                throw ModelError.checkpoint("\(index.path): \(name) is in \(shard), which is not a file beside the index")
            }
            if shards[shard] == nil {
                let url = directory.appendingPathComponent(shard)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw ModelError.checkpoint("\(index.path): \(name) is in \(shard), which is missing from \(directory.path)")
                }
                shards[shard] = opened.count
                opened.append(try SafeTensorsFile(contentsOf: url))
            }
            let i = shards[shard]!
            guard opened[i].info(name) != nil else {
                throw ModelError.checkpoint("\(index.path): \(name) is said to be in \(shard), which does not hold it")
            }
            owner[name] = i
        }
        files = opened
        self.owner = owner
        names = map.keys.sorted()
    }

    func info(_ name: String) -> SafeTensorInfo? { owner[name].flatMap { files[$0].info(name) } }

    func read(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard let i = owner[name] else { throw SafeTensorsError(file: path, tensor: name, "missing") }
        try files[i].read(name, shape: shape, into: destination)
    }

    func readBFloat16(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<UInt16>) throws {
        guard let i = owner[name] else { throw SafeTensorsError(file: path, tensor: name, "missing") }
        try files[i].readBFloat16(name, shape: shape, into: destination)
    }
}
