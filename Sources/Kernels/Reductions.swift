// Row reductions and exponentials in explicit SIMD.
//
// Swift keeps IEEE semantics, so it never reorders a Float sum on its own and a plain
// `sum += x[i]` loop runs one element at a time. These helpers accumulate in 16 lanes, which
// changes rounding slightly (like every BLAS) and is 8-16x faster. Every kernel's row sums,
// maxima, dot products and softmax exponentials go through here.

public typealias Lanes = SIMD16<Float>

@inline(__always) func load(_ p: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always) func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}

/// e^x lane by lane, the same range reduction and polynomial as `fastExp`.
@inline(__always)
public func fastExp(_ x: Lanes) -> Lanes {
    // Masked replacement compiles to vmaxps/vminps; pointwiseMin/Max go lane by lane.
    var xc = x
    xc.replace(with: -87.3, where: xc .< -87.3)
    xc.replace(with: 88.7, where: xc .> 88.7)
    // Adding 1.5 * 2^23 rounds to an integer that then sits in the low mantissa bits.
    let magic = Lanes(repeating: 12_582_912.0)
    let shifted = xc * 1.442_695_04 + magic
    let n = shifted - magic
    let r = xc - n * 0.693_359_375 + n * 2.121_944_40e-4
    var p = Lanes(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    p = p * r * r + r + 1
    let bits = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Lanes.self)
}

/// sum(x[0..<n])
@inline(__always)
public func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Lanes(), i = 0
    while i + 16 <= n { acc += load(x + i); i += 16 }
    var s = acc.sum()
    while i < n { s += x[i]; i += 1 }
    return s
}

/// max(x[0..<n]); -inf when n == 0
@inline(__always)
public func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Lanes(repeating: -.infinity), i = 0
    while i + 16 <= n {
        let v = load(x + i)
        acc.replace(with: v, where: v .> acc)
        i += 16
    }
    var m = acc.max()
    while i < n { m = max(m, x[i]); i += 1 }
    return m
}

/// sum(a * b)
@inline(__always)
public func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Lanes(), i = 0
    while i + 16 <= n { acc.addProduct(load(a + i), load(b + i)); i += 16 }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// sum(a * b * c)
@inline(__always)
public func rowDot3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Lanes(), i = 0
    while i + 16 <= n { acc.addProduct(load(a + i) * load(b + i), load(c + i)); i += 16 }
    var s = acc.sum()
    while i < n { s += a[i] * b[i] * c[i]; i += 1 }
    return s
}

/// out[i] = exp(scale * (x[i] - shift)); returns the sum. `out` may alias `x`.
@inline(__always)
public func expShifted(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                       shift: Float, scale: Float = 1) -> Float {
    var acc = Lanes(), i = 0
    while i + 16 <= n {
        let e = fastExp((load(x + i) - shift) * scale)
        store(e, out + i)
        acc += e
        i += 16
    }
    var s = acc.sum()
    while i < n { let e = fastExp((x[i] - shift) * scale); out[i] = e; s += e; i += 1 }
    return s
}

/// (sum exp(x - shift), sum exp(x - shift) * x) without writing anything.
@inline(__always)
public func expStats(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> (sum: Float, weighted: Float) {
    var acc = Lanes(), wacc = Lanes(), i = 0
    while i + 16 <= n {
        let v = load(x + i)
        let e = fastExp(v - shift)
        acc += e
        wacc.addProduct(e, v)
        i += 16
    }
    var s = acc.sum(), w = wacc.sum()
    while i < n { let e = fastExp(x[i] - shift); s += e; w += e * x[i]; i += 1 }
    return (s, w)
}

/// x[i] *= k
@inline(__always)
public func rowScale(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ k: Float) {
    for i in 0..<n { x[i] *= k }
}
