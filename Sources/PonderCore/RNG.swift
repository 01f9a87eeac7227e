// RNG: the one seeded random-number generator of Ponder.
//
// xoshiro256** (Blackman & Vigna, 2018) seeded through SplitMix64, as the authors recommend.
// Its whole state is four UInt64 words, so it is Codable and a checkpoint restores a stream
// exactly. It is a value type: copying it forks the stream, which is how a trainer hands
// independent-but-reproducible streams to its parts (`fork(_:)` names them).
// Not cryptographic.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public struct RNG: RandomNumberGenerator, Codable, Sendable, Equatable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        func splitmix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// The four state words, for saving; `init(state:)` restores them.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    public init(state: [UInt64]) {
        precondition(state.count == 4 && state.contains { $0 != 0 }, "RNG state must be four words, not all zero")
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
    }

    public init(from decoder: Decoder) throws {
        let words = try decoder.singleValueContainer().decode([UInt64].self)
        guard words.count == 4, words.contains(where: { $0 != 0 }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "RNG state must be four 64-bit words, not all zero"))
        }
        self.init(state: words)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(state)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = RNG.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = RNG.rotl(s3, 45)
        return result
    }

    /// A new generator derived from this one and a label, leaving this one unchanged:
    /// the same parent and label always give the same child stream.
    public func fork(_ label: String) -> RNG {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a over the label, mixed with the state
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return RNG(seed: h ^ s0 ^ RNG.rotl(s2, 23))
    }

    /// Uniform Float in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform Double in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal sample (Box-Muller; the second value of the pair is discarded so the
    /// state stays four words).
    public mutating func nextGaussian() -> Double {
        var u1 = nextDouble()
        while u1 <= Double.leastNormalMagnitude { u1 = nextDouble() }
        let u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Uniform integer in 0..<n, unbiased.
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0)
        return Int(next(upperBound: UInt64(n)))
    }

    /// Uniform integer in the closed range.
    public mutating func nextInt(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + nextInt(below: range.upperBound - range.lowerBound + 1)
    }
}
