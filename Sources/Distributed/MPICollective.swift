// Distributed: data parallelism over MPI (Open MPI from Debian, DESIGN.md §11).
//
// `ponder` started by `mpirun -np N` finds Open MPI's variables in its environment and joins the
// job (`MPICollective.joinIfLaunched`); started any other way it never calls MPI and runs as one
// process (`SingleProcess`), whatever the library linked in.
// Every collective is non-blocking underneath and polled (COpenMPI/shim.h): a rank waiting for
// the others sleeps instead of spinning, and a collective that has not completed after
// `timeout` seconds (PONDER_MPI_TIMEOUT, default 3600: rank 0 alone runs the eval stages while
// the others wait) aborts the whole job with a message naming it. A rank that dies makes
// `mpirun` end the others.
import COpenMPI
import Foundation
import PonderCore

public final class MPICollective: Collective, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let timeout: Double
    private var counters = CollectiveTraffic()
    public var traffic: CollectiveTraffic { counters }

    /// Whether this process was started by `mpirun` (Open MPI's launcher sets these).
    public static func launchedByMPI(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// Joins the MPI job when started by `mpirun`; nil otherwise (then nothing calls MPI).
    public static func joinIfLaunched() throws -> MPICollective? {
        guard launchedByMPI() else { return nil }
        var rank: Int32 = 0, size: Int32 = 0
        let rc = ponder_mpi_start(&rank, &size)
        guard rc == 0 else { throw DistributedError("MPI_Init_thread failed: \(errorText(rc))") }
        let timeout = ProcessInfo.processInfo.environment["PONDER_MPI_TIMEOUT"].flatMap(Double.init) ?? 3600
        return MPICollective(rank: Int(rank), size: Int(size), timeout: timeout)
    }

    private init(rank: Int, size: Int, timeout: Double) {
        self.rank = rank
        self.size = size
        self.timeout = timeout
    }

    /// MPI_Finalize, once every rank is done.
    public func finish() { _ = ponder_mpi_finish() }

    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error (rank \(rank) of \(size)): \(message)\n".utf8))
        ponder_mpi_abort(1)
        exit(1)
    }

    /// Runs one collective, counts its bytes and time, and aborts the job when it fails.
    private func collective(_ name: String, bytes: Int, _ call: () -> Int32) {
        let start = ponder_mpi_now()
        let rc = call()
        counters.seconds += ponder_mpi_now() - start
        counters.bytes += bytes
        if rc == -1 {
            abort("MPI \(name) did not complete in \(Int(timeout)) s: another rank died or hangs (PONDER_MPI_TIMEOUT sets the limit)")
        }
        if rc != 0 { abort("MPI \(name) failed: \(Self.errorText(rc))") }
    }

    /// MPI counts are 32-bit: long buffers go in chunks.
    private static let chunk = 1 << 28

    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        guard size > 1, let base = values.baseAddress else { return }
        var offset = 0
        while offset < values.count {
            let n = min(Self.chunk, values.count - offset)
            collective("allreduce of \(values.count) floats", bytes: n * 4) { ponder_mpi_sum_floats(base + offset, Int32(n), timeout) }
            offset += n
        }
    }

    public func sum(_ values: inout [Double]) {
        guard size > 1, !values.isEmpty else { return }
        let n = values.count
        values.withUnsafeMutableBufferPointer { buffer in
            collective("allreduce of \(n) doubles", bytes: n * 8) { ponder_mpi_sum_doubles(buffer.baseAddress!, Int32(n), timeout) }
        }
    }

    public func broadcast(_ bytes: [UInt8]) -> [UInt8] {
        guard size > 1 else { return bytes }
        var length = Int64(rank == 0 ? bytes.count : 0)  // rank 0's length first
        withUnsafeMutableBytes(of: &length) { raw in
            collective("broadcast of a length", bytes: 8) { ponder_mpi_broadcast(raw.baseAddress!, 8, timeout) }
        }
        var buffer = rank == 0 ? bytes : [UInt8](repeating: 0, count: Int(length))
        if buffer.isEmpty { return buffer }
        let n = buffer.count
        buffer.withUnsafeMutableBytes { raw in
            collective("broadcast of \(n) bytes", bytes: n) { ponder_mpi_broadcast(raw.baseAddress!, Int32(n), timeout) }
        }
        return buffer
    }

    public func gather(_ bytes: [UInt8]) -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        var counts = [Int32](repeating: 0, count: size)
        counts.withUnsafeMutableBufferPointer { all in
            collective("allgather of lengths", bytes: 4) { ponder_mpi_gather_int(Int32(bytes.count), all.baseAddress!, timeout) }
        }
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<size { offsets[r] = offsets[r - 1] + counts[r - 1] }
        let total = Int(offsets[size - 1] + counts[size - 1])
        var all = [UInt8](repeating: 0, count: max(total, 1))
        bytes.withUnsafeBytes { mine in
            all.withUnsafeMutableBytes { out in
                collective("allgather of \(total) bytes", bytes: bytes.count) {
                    ponder_mpi_gather_bytes(mine.baseAddress, Int32(bytes.count), out.baseAddress!, counts, offsets, timeout)
                }
            }
        }
        return (0..<size).map { r in Array(all[Int(offsets[r])..<Int(offsets[r] + counts[r])]) }
    }

    public func barrier() {
        guard size > 1 else { return }
        collective("barrier", bytes: 0) { ponder_mpi_barrier(timeout) }
    }

    static func errorText(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: 512)
        ponder_mpi_error_string(code, &text, Int32(text.count))
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return message.isEmpty ? "MPI error \(code)" : message
    }
}

public struct DistributedError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
