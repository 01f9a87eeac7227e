// Mutator: seeded mutants of a file's bytes, for the loader fuzz tests.
//
// A mutant is the original after one to three mutations (`Mutation`): byte damage (bit flips,
// truncation, a deleted range, random or invalid-UTF-8 bytes inserted), damage aimed at the
// format's text (a duplicated line or key, a value of the wrong type, a huge, negative or
// non-finite number where a number was, deep nesting) and, for safetensors, a forged header
// length. Two mutations in three of a safetensors file land inside its JSON header, which is
// then framed again with its new length, so they reach the header checks rather than the
// length check. A JSONL file (one JSON value a line) also gets its line structure damaged: a
// line broken in two, two lines run together, Windows line endings.
//
// Reproducing: mutant `i` of seed `s` is always the same bytes,
//     Mutator(seed: s).mutant(i, of: original, format: f)
// and every failure message (and the crash note, CrashNote.swift) prints `mutant #i of seed s`;
// PONDER_FUZZ_SEED=s PONDER_FUZZ_ONLY=i reruns just that mutant (FuzzRun.swift).
//
// The mutator knows each format's literals (YAML `.nan`, JSON `NaN`), never its schema: it aims
// at the loaders' checks, not at producing valid files.
import Foundation
import PonderCore

enum FileFormat: Sendable {
    case yaml, json, safetensors
    /// One JSON value a line (task files): mutated as JSON, plus the line kinds.
    case jsonl
}

enum Mutation: String, CaseIterable, Sendable {
    case flipBits, truncate, deleteRange, insertBytes, nonUTF8
    case duplicateLine, duplicateKey, wrongType, hugeNumber, negativeNumber, nonFinite, deepNesting
    /// The 8-byte header length of a safetensors file (safetensors only).
    case headerLength
    /// A newline inserted anywhere; one newline removed; every "\n" made "\r\n" (JSONL only).
    case breakLine, joinLines, crlfLineEndings

    static let lineKinds: [Mutation] = [.breakLine, .joinLines, .crlfLineEndings]

    /// The kinds a format gets, in a fixed order (the order picks them, so reproduction rests on it).
    static func kinds(for format: FileFormat) -> [Mutation] {
        switch format {
        case .safetensors: allCases.filter { !lineKinds.contains($0) }
        case .jsonl: allCases.filter { $0 != .headerLength }
        case .yaml, .json: allCases.filter { $0 != .headerLength && !lineKinds.contains($0) }
        }
    }
}

struct Mutant: Sendable {
    let index: Int
    let seed: UInt64
    var bytes: [UInt8]
    var kinds: [Mutation] = []
    /// One entry per mutation: what was done where.
    var steps: [String] = []

    var label: String { "mutant #\(index) of seed \(seed) [\(steps.joined(separator: "; "))]" }
}

struct Mutator: Sendable {
    let seed: UInt64

    /// The random stream of mutant `index`: independent of every other mutant's.
    func rng(_ index: Int) -> RNG { RNG(seed: seed).fork("mutant \(index)") }

    func mutant(_ index: Int, of original: [UInt8], format: FileFormat) -> Mutant {
        var rng = rng(index)
        var mutant = Mutant(index: index, seed: seed, bytes: original)
        let count = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][rng.nextInt(below: 10)]
        let kinds = Mutation.kinds(for: format)
        for _ in 0..<count {
            let kind = kinds[rng.nextInt(below: kinds.count)]
            mutant.kinds.append(kind)
            if format == .safetensors, kind != .headerLength, rng.nextInt(below: 3) > 0,
               let (header, data) = Self.splitSafetensors(mutant.bytes) {
                var inner = header
                let step = Self.apply(kind, to: &inner, format: .json, &rng)
                mutant.bytes = Self.frameSafetensors(header: inner, data: data)
                mutant.steps.append("header: " + step)
            } else {
                mutant.steps.append(Self.apply(kind, to: &mutant.bytes, format: format, &rng))
            }
        }
        return mutant
    }

    // MARK: Mutations

    /// Applies one mutation; returns what it did.
    static func apply(_ kind: Mutation, to bytes: inout [UInt8], format: FileFormat, _ rng: inout RNG) -> String {
        func position() -> Int { rng.nextInt(below: bytes.count + 1) }
        func pick<T>(_ options: [T]) -> T { options[rng.nextInt(below: options.count)] }
        func replace(_ range: Range<Int>, _ text: String, _ what: String) -> String {
            bytes.replaceSubrange(range, with: Array(text.utf8))
            return "\(what) at byte \(range.lowerBound): \(text.count > 40 ? String(text.prefix(20)) + "..." : text)"
        }
        func insert(_ text: [UInt8], _ what: String) -> String {
            let at = position()
            bytes.insert(contentsOf: text, at: at)
            return "\(what) at byte \(at)"
        }
        /// A number of the text, or (when there is none) an insertion point.
        func numberSite() -> Range<Int> {
            let numbers = numberRanges(bytes)
            if numbers.isEmpty { let at = position(); return at..<at }
            return pick(numbers)
        }

        switch kind {
        case .flipBits:
            guard !bytes.isEmpty else { return insert([0xFF], "flipBits (empty file): inserted 0xFF") }
            let flips = rng.nextInt(in: 1...4)
            var at: [Int] = []
            for _ in 0..<flips {
                let i = rng.nextInt(below: bytes.count)
                bytes[i] ^= 1 << UInt8(rng.nextInt(below: 8))
                at.append(i)
            }
            return "flipBits at bytes \(at)"
        case .truncate:
            let keep = rng.nextInt(below: max(1, bytes.count))
            bytes.removeSubrange(keep...)
            return "truncate to \(keep) bytes"
        case .deleteRange:
            guard !bytes.isEmpty else { return "deleteRange (empty file): nothing" }
            let start = rng.nextInt(below: bytes.count)
            let end = min(bytes.count, start + rng.nextInt(in: 1...64))
            bytes.removeSubrange(start..<end)
            return "deleteRange \(start)..<\(end)"
        case .insertBytes:
            let random = (0..<rng.nextInt(in: 1...16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            return insert(random, "insertBytes \(random.count)")
        case .nonUTF8:
            let sequence: [UInt8] = pick([[0xFF], [0xFE], [0x80], [0xC0, 0x80], [0xC3], [0xE2, 0x82],
                                          [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80]])
            let hex = sequence.map { String(format: "%02X", $0) }.joined(separator: " ")
            if !bytes.isEmpty && rng.nextInt(below: 2) == 0 {
                let at = rng.nextInt(below: bytes.count)
                bytes.replaceSubrange(at..<(at + 1), with: sequence)
                return "nonUTF8 \(hex) replacing byte \(at)"
            }
            return insert(sequence, "nonUTF8 \(hex)")
        case .duplicateLine:
            let lines = lineRanges(bytes)
            if lines.count > 1 {
                let line = pick(lines)
                bytes.insert(contentsOf: bytes[line], at: line.upperBound)
                return "duplicateLine \(line)"
            }
            guard !bytes.isEmpty else { return "duplicateLine (empty file): nothing" }
            let start = rng.nextInt(below: bytes.count)
            let end = min(bytes.count, start + rng.nextInt(in: 1...64))
            bytes.insert(contentsOf: bytes[start..<end], at: end)
            return "duplicateLine (one line): span \(start)..<\(end) doubled"
        case .duplicateKey:
            let keys = keyRanges(bytes, format: format)
            guard !keys.isEmpty else { return insert(Array("\"x\": 1, \"x\": 2".utf8), "duplicateKey (no key found)") }
            let key = pick(keys)
            switch format {
            case .yaml:
                // Repeat the key's whole line right after it: the same key twice in one mapping.
                let line = lineRanges(bytes).first { $0.contains(key.lowerBound) } ?? key
                bytes.insert(contentsOf: bytes[line], at: line.upperBound)
                return "duplicateKey (line) at byte \(line.lowerBound)"
            case .json, .jsonl, .safetensors:
                let copy = Array(bytes[key]) + Array(pick([" 1,", " \"x\",", " null,", " [],", " {},"]).utf8)
                bytes.insert(contentsOf: copy, at: key.lowerBound)
                return "duplicateKey \(String(decoding: bytes[key.lowerBound..<(key.lowerBound + key.count)], as: UTF8.self)) at byte \(key.lowerBound)"
            }
        case .wrongType:
            let sites = numberRanges(bytes) + stringRanges(bytes) + (format == .yaml ? yamlValueRanges(bytes) : [])
            let replacement = format == .yaml
                ? pick(["\"text\"", "[]", "{}", "~", "true", "[1, 2]", "{k: 1}", "0.5", "text", "- a"])
                : pick(["\"text\"", "[]", "{}", "null", "true", "[1, 2]", "{\"k\": 1}", "0.5"])
            guard !sites.isEmpty else { return insert(Array(replacement.utf8), "wrongType (no value found)") }
            return replace(pick(sites), replacement, "wrongType")
        case .hugeNumber:
            let huge = pick(["9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
                             "4294967296", "2147483648", "100000000", "99999999999999999999999999", "1e308", "1e999",
                             "1.7976931348623157e308"])
            return replace(numberSite(), huge, "hugeNumber")
        case .negativeNumber:
            let site = numberSite()
            let digits = String(decoding: bytes[site], as: UTF8.self)
            let negative = pick(["-" + digits, "-1", "-0", "-9223372036854775808", "-1e308"])
            return replace(site, negative, "negativeNumber")
        case .nonFinite:
            let literal = format == .yaml ? pick([".nan", ".inf", "-.inf", ".NaN", "nan", "inf"])
                : pick(["NaN", "Infinity", "-Infinity", "nan", "inf"])
            return replace(numberSite(), literal, "nonFinite")
        case .deepNesting:
            let depth = pick([100, 1_000, 10_000, 100_000])
            let closed = rng.nextInt(below: 2) == 0
            let (open, close) = format == .yaml ? pick([("[", "]"), ("{a: ", "}"), ("- ", "")]) : pick([("[", "]"), ("{\"a\":", "}")])
            var text = String(repeating: open, count: depth) + "1"
            if closed { text += String(repeating: close, count: depth) }
            let sites = numberRanges(bytes) + stringRanges(bytes)
            let site = sites.isEmpty ? numberSite() : pick(sites)
            return replace(site, text, "deepNesting \(depth)\(closed ? "" : " unclosed")")
        case .headerLength:
            let n = bytes.count >= 8 ? bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } : 0
            let value: UInt64 = pick([0, 1, 2, 7, n &- 1, n &+ 1, n &+ 8, UInt64(bytes.count), UInt64(bytes.count) &- 8,
                                      100_000_000, 100_000_001, UInt64(Int.max), 1 << 63, .max])
            if bytes.count < 8 { bytes += [UInt8](repeating: 0, count: 8 - bytes.count) }
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
            return "headerLength \(value)"
        case .breakLine:
            return insert([UInt8(ascii: "\n")], "breakLine")
        case .joinLines:
            let newlines = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\n") }
            guard !newlines.isEmpty else { return "joinLines (one line): nothing" }
            let at = pick(newlines)
            bytes.remove(at: at)
            return "joinLines at byte \(at)"
        case .crlfLineEndings:
            bytes = crlf(bytes)
            return "crlfLineEndings"
        }
    }

    /// The text with every "\n" made "\r\n", as Windows editors save it.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        bytes.flatMap { $0 == UInt8(ascii: "\n") ? [UInt8(ascii: "\r"), $0] : [$0] }
    }

    // MARK: Sites in the text

    /// JSON-style numbers: an optional minus, digits, an optional fraction and exponent.
    static func numberRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        var out: [Range<Int>] = []
        var i = 0
        while i < bytes.count {
            guard isDigit(bytes[i]) else { i += 1; continue }
            let start = i > 0 && bytes[i - 1] == UInt8(ascii: "-") ? i - 1 : i
            while i < bytes.count, isDigit(bytes[i]) || ".eE+-".utf8.contains(bytes[i]) { i += 1 }
            out.append(start..<i)
        }
        return out
    }

    /// Double-quoted strings (escapes skipped), quotes included.
    static func stringRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\"") else { i += 1; continue }
            let start = i
            i += 1
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
            if i < bytes.count { out.append(start..<(i + 1)) }
            i += 1
        }
        return out
    }

    /// Each line with its newline.
    static func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
            out.append(start..<(i + 1))
            start = i + 1
        }
        if start < bytes.count { out.append(start..<bytes.count) }
        return out
    }

    /// Keys: a JSON string followed by `:`, with the colon; in YAML, `word:` at a line's start
    /// (after indentation or `- `), with the colon.
    static func keyRanges(_ bytes: [UInt8], format: FileFormat) -> [Range<Int>] {
        if format != .yaml {
            return stringRanges(bytes).compactMap { r in
                var j = r.upperBound
                while j < bytes.count, bytes[j] == UInt8(ascii: " ") { j += 1 }
                return j < bytes.count && bytes[j] == UInt8(ascii: ":") ? r.lowerBound..<(j + 1) : nil
            }
        }
        return lineRanges(bytes).compactMap { line in
            var j = line.lowerBound
            while j < line.upperBound, bytes[j] == UInt8(ascii: " ") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            let start = j
            while j < line.upperBound, bytes[j] == UInt8(ascii: "_") || (bytes[j] | 0x20 >= 0x61 && bytes[j] | 0x20 <= 0x7A) { j += 1 }
            return j > start && j < line.upperBound && bytes[j] == UInt8(ascii: ":") ? start..<(j + 1) : nil
        }
    }

    /// YAML values: what follows `key: ` up to the end of the line or a ` #` comment.
    static func yamlValueRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        lineRanges(bytes).compactMap { line in
            guard let colon = bytes[line].firstIndex(of: UInt8(ascii: ":")), colon + 2 < line.upperBound,
                  bytes[colon + 1] == UInt8(ascii: " ") else { return nil }
            var end = line.upperBound
            if bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
            if let hash = (colon + 2..<end).first(where: { bytes[$0] == UInt8(ascii: "#") && bytes[$0 - 1] == UInt8(ascii: " ") }) {
                end = hash - 1
            }
            return colon + 2 < end ? (colon + 2)..<end : nil
        }
    }

    // MARK: Safetensors framing

    /// The JSON header and the data after it, when the length field fits the file.
    static func splitSafetensors(_ bytes: [UInt8]) -> (header: [UInt8], data: [UInt8])? {
        guard bytes.count >= 8 else { return nil }
        let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(bytes.count - 8) else { return nil }
        return (Array(bytes[8..<(8 + Int(n))]), Array(bytes[(8 + Int(n))...]))
    }

    static func frameSafetensors(header: [UInt8], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        return out + header + data
    }
}

// MARK: Checkpoint directories

/// What can happen to a whole file of a checkpoint directory.
enum FileMutation: String, CaseIterable, Sendable {
    /// Deleted; replaced by a directory of its name; emptied.
    case deleteFile, replaceWithDirectory, emptyFile
    /// Another file's bytes under its name.
    case otherFilesBytes
    /// The same file of another model's checkpoint: copied from the wrong run.
    case otherModelsFile
}

/// A checkpoint directory with one file damaged: its bytes mutated (`Mutant`), or the file
/// deleted, replaced by a directory, emptied, or given another file's bytes or the same file
/// of another model.
struct DirectoryMutant: Sendable {
    let index: Int
    let seed: UInt64
    /// The file that was damaged.
    let target: String
    var files: [String: [UInt8]]
    var directories: [String] = []
    var kinds: [String] = []
    var steps: [String] = []

    var label: String { "checkpoint mutant #\(index) of seed \(seed), \(target) [\(steps.joined(separator: "; "))]" }

    /// Writes the directory afresh at `url`.
    func write(to url: URL) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, bytes) in files { try FuzzDirectory.write(bytes, to: url.appendingPathComponent(name)) }
        for name in directories { try fm.createDirectory(at: url.appendingPathComponent(name), withIntermediateDirectories: false) }
    }
}

extension Mutator {
    /// Mutant `index` of a checkpoint directory (file name -> bytes; `otherModel` holds another
    /// model's checkpoint): one file in ten loses its whole self, the rest get a byte mutant in
    /// their own format.
    func directoryMutant(_ index: Int, of files: [String: [UInt8]], otherModel: [String: [UInt8]]) -> DirectoryMutant {
        var rng = RNG(seed: seed).fork("directory \(index)")
        let names = files.keys.sorted()
        let target = names[rng.nextInt(below: names.count)]
        var mutant = DirectoryMutant(index: index, seed: seed, target: target, files: files)
        guard rng.nextInt(below: 10) == 0, let original = files[target] else {
            let format: FileFormat = target.hasSuffix(".safetensors") ? .safetensors : .json
            let inner = self.mutant(index, of: files[target] ?? [], format: format)
            mutant.files[target] = inner.bytes
            mutant.kinds = inner.kinds.map(\.rawValue)
            mutant.steps = inner.steps
            return mutant
        }
        let kind = FileMutation.allCases[rng.nextInt(below: FileMutation.allCases.count)]
        mutant.kinds = [kind.rawValue]
        switch kind {
        case .deleteFile:
            mutant.files[target] = nil
            mutant.steps = ["deleted"]
        case .replaceWithDirectory:
            mutant.files[target] = nil
            mutant.directories = [target]
            mutant.steps = ["replaced by a directory"]
        case .emptyFile:
            mutant.files[target] = []
            mutant.steps = ["emptied"]
        case .otherFilesBytes:
            let other = names.filter { $0 != target }[rng.nextInt(below: names.count - 1)]
            mutant.files[target] = files[other] ?? original
            mutant.steps = ["holds \(other)'s bytes"]
        case .otherModelsFile:
            mutant.files[target] = otherModel[target] ?? original
            mutant.steps = ["copied from another model's checkpoint"]
        }
        return mutant
    }
}
