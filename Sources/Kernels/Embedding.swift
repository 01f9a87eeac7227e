// Token embedding: a row lookup into the [V, C] table.

/// out[n, :] = table[tokens[n], :]
///   out    [N, C]
///   tokens [N]      ids in 0..<V
///   table  [V, C]
public func embeddingForward(
    _ out: UnsafeMutablePointer<Float>,
    _ tokens: UnsafePointer<Int32>, _ table: UnsafePointer<Float>,
    _ N: Int, _ C: Int
) {
    for n in 0..<N {
        (out + n * C).update(from: table + Int(tokens[n]) * C, count: C)
    }
}

/// The same lookup from a bfloat16 table, rows widened to Float.
///   out [N, C]   tokens [N]   table [V, C] bfloat16 bits
public func embeddingForward(
    _ out: UnsafeMutablePointer<Float>,
    _ tokens: UnsafePointer<Int32>, _ table: UnsafePointer<UInt16>,
    _ N: Int, _ C: Int
) {
    for n in 0..<N {
        floatFromBFloat16(out + n * C, table + Int(tokens[n]) * C, C)
    }
}

/// dtable[tokens[n], :] += dout[n, :]
///   dtable [V, C]   dout [N, C]   tokens [N]
public func embeddingBackward(
    _ dtable: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ tokens: UnsafePointer<Int32>,
    _ N: Int, _ C: Int
) {
    for n in 0..<N {
        let row = dtable + Int(tokens[n]) * C
        let d = dout + n * C
        for c in 0..<C { row[c] += d[c] }
    }
}
