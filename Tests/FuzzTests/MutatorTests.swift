// The mutator's promises, which the fuzz tests' reproduction rests on: a mutant is a function of
// (seed, index, original); mutants differ from the original and from each other; a safetensors
// mutant aimed at the header is framed with its new length; the line kinds reach JSONL only, so
// the other formats' mutants stay what their seeds made them.
import Foundation
import PonderCore
import Testing

@Suite struct MutatorTests {
    static let original = Array(#"{"a": [1, 2.5, "x"], "b": {"c": true}, "d": 12}"#.utf8)

    @Test func aMutantIsAFunctionOfSeedAndIndex() {
        let mutator = Mutator(seed: 42)
        for index in 0..<200 {
            let first = mutator.mutant(index, of: Self.original, format: .json)
            let again = mutator.mutant(index, of: Self.original, format: .json)
            #expect(first.bytes == again.bytes && first.steps == again.steps, "mutant #\(index)")
        }
        let mutants = (0..<200).map { mutator.mutant($0, of: Self.original, format: .json).bytes }
        #expect(Set(mutants).count > 150, "mutants should rarely repeat")
        #expect(mutants.filter { $0 == Self.original }.count < 10, "mutants should rarely equal the original")
        #expect(Mutator(seed: 43).mutant(0, of: Self.original, format: .json).bytes != mutants[0]
                || Mutator(seed: 43).mutant(1, of: Self.original, format: .json).bytes != mutants[1])
    }

    @Test func headerMutantsOfSafetensorsAreFramedWithTheirLength() {
        let header = Array(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        let file = Mutator.frameSafetensors(header: header, data: [0, 0, 128, 63])
        let mutator = Mutator(seed: 7)
        var framed = 0
        for index in 0..<300 {
            let mutant = mutator.mutant(index, of: file, format: .safetensors)
            guard mutant.steps.count == 1, mutant.steps[0].hasPrefix("header: ") else { continue }
            framed += 1
            let split = Mutator.splitSafetensors(mutant.bytes)
            #expect(split?.data == [0, 0, 128, 63], "mutant #\(index): the data section moved")
        }
        #expect(framed > 50)
    }

    @Test func lineKindsAreForJSONLOnly() {
        let json: [Mutation] = [.flipBits, .truncate, .deleteRange, .insertBytes, .nonUTF8, .duplicateLine, .duplicateKey,
                                .wrongType, .hugeNumber, .negativeNumber, .nonFinite, .deepNesting]
        #expect(Mutation.kinds(for: .json) == json && Mutation.kinds(for: .yaml) == json)
        #expect(Mutation.kinds(for: .safetensors) == json + [.headerLength])
        #expect(Mutation.kinds(for: .jsonl) == json + [.breakLine, .joinLines, .crlfLineEndings])

        let text = Array("{\"a\": 1}\n{\"b\": 2}\n".utf8)
        func newlines(_ bytes: [UInt8]) -> Int { bytes.filter { $0 == UInt8(ascii: "\n") }.count }
        var rng = RNG(seed: 5)
        var broken = text, joined = text, crlf = text
        _ = Mutator.apply(.breakLine, to: &broken, format: .jsonl, &rng)
        _ = Mutator.apply(.joinLines, to: &joined, format: .jsonl, &rng)
        _ = Mutator.apply(.crlfLineEndings, to: &crlf, format: .jsonl, &rng)
        #expect(newlines(broken) == 3 && broken.count == text.count + 1)
        #expect(newlines(joined) == 1 && joined.count == text.count - 1)
        #expect(crlf == Array("{\"a\": 1}\r\n{\"b\": 2}\r\n".utf8))
    }
}
