// BFloat16: the upper half of a Float's bits (sign, 8 exponent bits, 7 mantissa bits). Used for
// storage only: weights are widened to Float right before a product, so every kernel still
// computes in Float. Widening is exact (a 16-bit shift); narrowing rounds to nearest, ties to
// even, as PyTorch's `tensor.to(torch.bfloat16)` does.

/// One Float rounded to bfloat16 bits; NaN stays a (quiet) NaN, overflow becomes infinity.
@inline(__always)
public func bfloat16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}

/// The Float a bfloat16 holds.
@inline(__always)
public func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// out[i] = bfloat16(inp[i]).   out [n], inp [n]
public func bfloat16FromFloat(_ out: UnsafeMutablePointer<UInt16>, _ inp: UnsafePointer<Float>, _ n: Int) {
    parallelFor(n, grain: 1 << 16) { start, end in
        for i in start..<end { out[i] = bfloat16(inp[i]) }
    }
}

/// out[i] = float(inp[i]).   out [n], inp [n]
public func floatFromBFloat16(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<UInt16>, _ n: Int) {
    parallelFor(n, grain: 1 << 16) { start, end in
        for i in start..<end { out[i] = Float(bitPattern: UInt32(inp[i]) << 16) }
    }
}
