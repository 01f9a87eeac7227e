// Collective: the ranks of a data-parallel job and the few collectives the trainers need
// (DESIGN.md §11). Every rank holds the whole model and takes a share of each step's work; one
// sum over the flat gradient buffer per optimizer step joins them. `SingleProcess` is the job of
// one rank, where every collective is the identity; the MPI implementation lives in the
// Distributed target, which alone links Open MPI.
//
// Contract: every rank calls the same collectives in the same order with the same shapes (the
// trainers guarantee it: their control flow depends only on (seed, step) and on values every
// rank holds). A collective that cannot complete (a rank died, one hangs past the timeout) ends
// the whole job with an error naming the collective; it never returns a partial result.

/// Bytes and seconds spent in collectives since the job started (for the step-time split).
public struct CollectiveTraffic: Sendable, Equatable {
    /// Payload bytes this rank sent into reductions, broadcasts and gathers.
    public var bytes: Int = 0
    /// Seconds this rank spent inside collectives, waiting for the others included.
    public var seconds: Double = 0

    public init(bytes: Int = 0, seconds: Double = 0) {
        self.bytes = bytes
        self.seconds = seconds
    }

    public static func - (a: Self, b: Self) -> Self { Self(bytes: a.bytes - b.bytes, seconds: a.seconds - b.seconds) }
}

public protocol Collective: AnyObject, Sendable {
    /// This process's index, 0 ..< size; rank 0 writes the store and the checkpoints.
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum over the ranks, in place.
    func sum(_ values: UnsafeMutableBufferPointer<Float>)
    func sum(_ values: inout [Double])
    /// Rank 0's bytes, on every rank.
    func broadcast(_ bytes: [UInt8]) -> [UInt8]
    /// Every rank's bytes, in rank order, on every rank.
    func gather(_ bytes: [UInt8]) -> [[UInt8]]
    func barrier()
    /// Ends every rank of the job with `message` on standard error.
    func abort(_ message: String) -> Never
    var traffic: CollectiveTraffic { get }
}

extension Collective {
    public var isDistributed: Bool { size > 1 }
    public var isLeader: Bool { rank == 0 }

    /// This rank's contiguous share of `count` items: [count * rank / size, count * (rank + 1) / size).
    /// Shares differ by at most one item; with more ranks than items some shares are empty.
    public func share(of count: Int) -> Range<Int> {
        (count * rank / size)..<(count * (rank + 1) / size)
    }

    /// Rank 0's decision, on every rank.
    public func broadcast(_ flag: Bool) -> Bool {
        size == 1 ? flag : broadcast([flag ? 1 : 0]) == [1]
    }
}

/// A job of one process: every collective is the identity.
public final class SingleProcess: Collective {
    public static let shared = SingleProcess()
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {}
    public func sum(_ values: inout [Double]) {}
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
    public func gather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func barrier() {}
    public func abort(_ message: String) -> Never { fatalError(message) }
    public var traffic: CollectiveTraffic { CollectiveTraffic() }
}

/// FNV-1a over the 32-bit words of a buffer: the weight fingerprint ranks compare to prove they
/// hold the same model (any differing bit changes it with overwhelming probability).
public func fingerprint(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for value in values { hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01b3 }
    return hash
}
