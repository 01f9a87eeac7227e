// SafeTensors: reader and writer of Hugging Face's safetensors format.
//
// A file is: 8 bytes, the little-endian UInt64 length n of a JSON header; n bytes of UTF-8
// JSON (padded with spaces so the data starts 8-byte aligned); then the raw little-endian data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, offsets
// relative to the start of the data, plus an optional "__metadata__" map of strings to strings.
// The data must be covered exactly: no overlaps, no holes, nothing past the end (the rules of
// the reference implementation, github.com/huggingface/safetensors).
//
// What it is: enough for checkpoints. The writer writes F32 (and I32 for golden inputs); the
// reader returns Float from F32, F16, BF16 and F64 (real checkpoints ship half precision) and
// integers from the integer dtypes. What it is not: a tensor library, a lazy loader or a
// sharded-checkpoint reader. Every error names the file and, where there is one, the tensor.

import Foundation
import Kernels
import PonderCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}

/// A problem with a safetensors file: `file: tensor: message`.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let tensor: String?
    public let message: String

    public init(file: String, tensor: String? = nil, _ message: String) {
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        if let tensor { return "\(file): \(tensor): \(message)" }
        return "\(file): \(message)"
    }
}

public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataRange: Range<Int>
    public var count: Int { shape.reduce(1, *) }
}

/// "[64, 32]": how shapes are written in error messages.
func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

// MARK: Reading

public struct SafeTensorsFile {
    /// The reference implementation's limit; a larger header is a corrupt length field.
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    public let metadata: [String: String]
    /// Every tensor, in data order.
    public let tensors: [SafeTensorInfo]
    private let index: [String: Int]
    private let bytes: Data
    private let dataStart: Int

    /// Reads (memory-maps) a file and validates its header against its size.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafeTensorsError(file: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses a whole file held in memory; `path` only labels errors.
    public init(data: Data, path: String = "<memory>") throws {
        func fail(_ tensor: String, _ message: String) -> SafeTensorsError {
            SafeTensorsError(file: path, tensor: tensor, message)
        }
        func failFile(_ message: String) -> SafeTensorsError { SafeTensorsError(file: path, message) }
        self.path = path
        guard data.count >= 8 else {
            throw failFile("truncated: \(data.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw failFile("header length \(headerLength) exceeds the limit of \(Self.maxHeaderBytes) bytes (corrupt or not a safetensors file)")
        }
        let n = Int(headerLength)
        guard 8 + n <= data.count else {
            throw failFile("truncated: the header claims \(n) bytes but only \(data.count - 8) follow")
        }
        let headerBytes = data.subdata(in: data.startIndex + 8..<data.startIndex + 8 + n)
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw failFile("the header does not start with '{' (not a safetensors file?)")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: headerBytes)
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw failFile("the JSON header does not parse (\(detail))")
        }
        guard let header = parsed as? [String: Any] else { throw failFile("the JSON header is not an object") }

        var metadata: [String: String] = [:]
        var infos: [SafeTensorInfo] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw failFile("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw failFile("__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail(name, "the header entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw fail(name, "the header entry has no dtype") }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw fail(name, "unknown dtype \(dtypeName)")
            }
            guard let shapeValues = entry["shape"] as? [Any] else { throw fail(name, "the header entry has no shape") }
            let shape = try shapeValues.map { v -> Int in
                guard let d = v as? Int, d >= 0 else { throw fail(name, "shape \(shapeValues) has an entry that is not a non-negative integer") }
                return d
            }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = offsets[0] as? Int, let end = offsets[1] as? Int, begin >= 0, end >= begin else {
                throw fail(name, "data_offsets must be two integers [begin, end] with 0 <= begin <= end")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail(name, "shape \(shapeText(shape)) is too large") }
                count = product
            }
            let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else { throw fail(name, "shape \(shapeText(shape)) of \(dtype.rawValue) is too large") }
            guard end - begin == expected else {
                throw fail(name, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shapeText(shape)) of \(dtype.rawValue) needs \(expected)")
            }
            infos.append(SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end))
        }

        // The data section must be covered exactly once.
        infos.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name) < ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name) }
        let available = data.count - 8 - n
        var covered = 0
        for t in infos {
            if t.dataRange.lowerBound < covered {
                throw fail(t.name, "data_offsets [\(t.dataRange.lowerBound), \(t.dataRange.upperBound)] overlap the previous tensor, which ends at \(covered)")
            }
            if t.dataRange.lowerBound > covered {
                throw fail(t.name, "data_offsets start at \(t.dataRange.lowerBound), leaving a hole after byte \(covered)")
            }
            if t.dataRange.upperBound > available {
                throw fail(t.name, "truncated: data_offsets end at byte \(t.dataRange.upperBound) but the file holds \(available) data bytes")
            }
            covered = t.dataRange.upperBound
        }
        if covered != available {
            throw failFile("\(available - covered) bytes after the last tensor (the file has trailing data or a tensor is missing from the header)")
        }
        self.metadata = metadata
        self.tensors = infos
        self.index = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
        self.bytes = data
        self.dataStart = 8 + n
    }

    public var names: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> SafeTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's entry, checked against an expected shape when one is given.
    public func entry(_ name: String, shape expected: [Int]? = nil) throws -> SafeTensorInfo {
        guard let t = info(name) else {
            let hint = expected.map { " (expected shape \(shapeText($0)))" } ?? ""
            throw SafeTensorsError(file: path, tensor: name, "missing from the file\(hint)")
        }
        if let expected, t.shape != expected {
            throw SafeTensorsError(file: path, tensor: name, "expected shape \(shapeText(expected)), found \(shapeText(t.shape))")
        }
        return t
    }

    /// Copies a floating-point tensor into `destination` (count elements), converting F16, BF16
    /// and F64 to Float.
    public func read(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        let t = try entry(name, shape: shape)
        let count = t.count
        try bytes.withUnsafeBytes { (all: UnsafeRawBufferPointer) in
            let raw = UnsafeRawBufferPointer(rebasing: all[(dataStart + t.dataRange.lowerBound)..<(dataStart + t.dataRange.upperBound)])
            switch t.dtype {
            case .f32:
                #if _endian(little)
                if count > 0 { UnsafeMutableRawPointer(destination).copyMemory(from: raw.baseAddress!, byteCount: count * 4) }
                #else
                for i in 0..<count { destination[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                #endif
            case .f16:
                for i in 0..<count { destination[i] = floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<count {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    destination[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .f64:
                for i in 0..<count { destination[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            default:
                throw SafeTensorsError(file: path, tensor: name, "dtype \(t.dtype.rawValue) is not a floating-point type Ponder reads (F32, F16, BF16, F64)")
            }
        }
    }

    /// As `read`, into bfloat16 bits: a BF16 tensor is copied as it is, any other goes through
    /// Float and is rounded to nearest-even (one tensor of Floats at a time).
    public func readBFloat16(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<UInt16>) throws {
        let t = try entry(name, shape: shape)
        guard t.dtype == .bf16 else {
            var floats = [Float](repeating: 0, count: t.count)
            try floats.withUnsafeMutableBufferPointer { try read(name, shape: shape, into: $0.baseAddress!) }
            bfloat16FromFloat(destination, floats, t.count)
            return
        }
        bytes.withUnsafeBytes { (all: UnsafeRawBufferPointer) in
            let raw = UnsafeRawBufferPointer(rebasing: all[(dataStart + t.dataRange.lowerBound)..<(dataStart + t.dataRange.upperBound)])
            for i in 0..<t.count { destination[i] = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        }
    }

    /// A floating-point tensor as Floats, checked against `shape` when given.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let t = try entry(name, shape: shape)
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try read(name, shape: t.shape, into: $0.baseAddress!) }
        return out
    }

    /// An integer tensor (I8 to I64, U8 to U64, BOOL) as Ints, checked against `shape` when given.
    public func integers(_ name: String, shape: [Int]? = nil) throws -> [Int] {
        let t = try entry(name, shape: shape)
        return try bytes.withUnsafeBytes { (all: UnsafeRawBufferPointer) -> [Int] in
            let raw = UnsafeRawBufferPointer(rebasing: all[(dataStart + t.dataRange.lowerBound)..<(dataStart + t.dataRange.upperBound)])
            func load<T: FixedWidthInteger>(_: T.Type) -> [Int] {
                (0..<t.count).map { Int(T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))) }
            }
            switch t.dtype {
            case .bool, .u8: return load(UInt8.self)
            case .i8: return load(Int8.self)
            case .i16: return load(Int16.self)
            case .u16: return load(UInt16.self)
            case .i32: return load(Int32.self)
            case .u32: return load(UInt32.self)
            case .i64: return load(Int64.self)
            case .u64:
                return try (0..<t.count).map {
                    let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))
                    guard word <= UInt64(Int.max) else {
                        throw SafeTensorsError(file: path, tensor: name, "U64 value \(word) does not fit an Int")
                    }
                    return Int(word)
                }
            default:
                throw SafeTensorsError(file: path, tensor: name, "dtype \(t.dtype.rawValue) is not an integer type")
            }
        }
    }
}

/// IEEE 754 binary16 to binary32, exact (every half is a float), subnormals, infinities and
/// NaNs included.
@inline(__always)
func floatFromHalf(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:  // zero or subnormal: mantissa * 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    case 0x1F:  // infinity or NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
    }
}

// MARK: Writing

/// Collects tensors in order, then writes them as one file: header, then data in the order added.
public struct SafeTensorsWriter {
    public var metadata: [String: String]
    private var entries: [(name: String, dtype: SafeTensorsDType, shape: [Int], range: Range<Int>)] = []
    private var payload = Data()

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public var names: [String] { entries.map(\.name) }

    /// Adds a float32 tensor; `values` holds shape.product elements.
    public mutating func add(_ name: String, shape: [Int], _ values: UnsafeBufferPointer<Float>) {
        precondition(values.count == shape.reduce(1, *), "safetensors writer: \(name) has \(values.count) values for shape \(shapeText(shape))")
        #if _endian(little)
        appendRaw(name, .f32, shape, UnsafeRawBufferPointer(values))
        #else
        let words = values.map { $0.bitPattern.littleEndian }
        words.withUnsafeBytes { appendRaw(name, .f32, shape, $0) }
        #endif
    }

    public mutating func add(_ name: String, shape: [Int], floats: [Float]) {
        floats.withUnsafeBufferPointer { add(name, shape: shape, $0) }
    }

    /// Adds an int32 tensor (token ids and the like).
    public mutating func add(_ name: String, shape: [Int], int32 values: [Int32]) {
        precondition(values.count == shape.reduce(1, *), "safetensors writer: \(name) has \(values.count) values for shape \(shapeText(shape))")
        let words = values.map(\.littleEndian)
        words.withUnsafeBytes { appendRaw(name, .i32, shape, $0) }
    }

    private mutating func appendRaw(_ name: String, _ dtype: SafeTensorsDType, _ shape: [Int], _ raw: UnsafeRawBufferPointer) {
        precondition(name != "__metadata__" && !entries.contains { $0.name == name }, "safetensors writer: duplicate tensor name \(name)")
        let begin = payload.count
        payload.append(contentsOf: raw)
        entries.append((name, dtype, shape, begin..<payload.count))
    }

    /// The length field and the JSON header, padded with spaces so the data starts 8-byte aligned.
    func headerBytes() -> Data {
        var items: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonStringLiteral($0)):\(jsonStringLiteral(metadata[$0]!))" }
            items.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        for e in entries {
            let shape = e.shape.map(String.init).joined(separator: ",")
            items.append("\(jsonStringLiteral(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(e.range.lowerBound),\(e.range.upperBound)]}")
        }
        var header = Data(("{" + items.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var out = Data(capacity: 8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(header)
        return out
    }

    /// The complete file.
    public func encoded() -> Data { headerBytes() + payload }

    /// Writes the file atomically: to `NAME.tmp-<pid>` beside it, then renamed over `url`.
    public func write(to url: URL) throws {
        try writeFileAtomically([headerBytes(), payload], to: url)
    }
}

/// Writes `parts`, one after the other, to `NAME.tmp-<pid>` next to `url`, flushes the file to
/// disk and renames it over `url` (rename(2) replaces atomically: a reader sees the old file or
/// the new one, never a part).
func writeFileAtomically(_ parts: [Data], to url: URL) throws {
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent("\(url.lastPathComponent).tmp-\(getpid())")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else {
        throw ModelError.checkpoint("\(temporary.path): cannot create (\(String(cString: strerror(errno))))")
    }
    var failure: String?
    for part in parts where failure == nil {
        failure = part.withUnsafeBytes { raw -> String? in
            var done = 0
            while done < raw.count {
                let n = writeSome(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return "write failed (\(String(cString: strerror(errno))))" }
                done += n
            }
            return nil
        }
    }
    if failure == nil, fsync(fd) != 0 { failure = "fsync failed (\(String(cString: strerror(errno))))" }
    close(fd)
    if failure == nil, rename(temporary.path, url.path) != 0 {
        failure = "cannot rename to \(url.path) (\(String(cString: strerror(errno))))"
    }
    if let failure {
        unlink(temporary.path)
        throw ModelError.checkpoint("\(temporary.path): \(failure)")
    }
}

@inline(__always)
private func writeSome(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
