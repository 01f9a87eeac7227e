// ByteStringTable: an open-addressing hash set of byte strings, keyed by unsafe byte slices.
//
// Encoding and training both look up millions of short pieces. A Dictionary keyed by [UInt8]
// would allocate an array per lookup; this table hashes the slice in place and stores every key
// once in a flat arena. It only grows (or is emptied whole); entry indices are stable, so callers
// keep per-entry data in parallel arrays. Not thread-safe on its own.

struct ByteStringTable {
    private var arena: [UInt8] = []
    private var keyStart: [Int32] = []
    private var keyLength: [Int32] = []
    private var hashes: [UInt64] = []
    /// Slots hold entry index + 1; 0 is empty. Capacity is a power of two.
    private var slots: [Int32] = [Int32](repeating: 0, count: 1024)

    var count: Int { keyStart.count }
    var arenaBytes: Int { arena.count }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // FNV-1a, then a final mix so the low bits (the slot index) depend on every byte.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        return h ^ (h >> 32)
    }

    /// Index of `key`, or nil.
    func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[slot])
            if s == 0 { return nil }
            let e = s - 1
            if hashes[e] == h && equals(e, key) { return e }
            slot = (slot + 1) & mask
        }
    }

    /// Index of `key`, inserting it if absent; `inserted` tells which.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (index: Int, inserted: Bool) {
        if let e = find(key, hash: h) { return (e, false) }
        if (count + 1) * 2 > slots.count { grow() }
        let e = count
        keyStart.append(Int32(arena.count))
        keyLength.append(Int32(key.count))
        hashes.append(h)
        arena.append(contentsOf: key)
        place(e)
        return (e, true)
    }

    /// The bytes of entry `e`.
    func key(_ e: Int) -> ArraySlice<UInt8> {
        let s = Int(keyStart[e])
        return arena[s..<(s + Int(keyLength[e]))]
    }

    mutating func removeAll() {
        arena.removeAll(keepingCapacity: true)
        keyStart.removeAll(keepingCapacity: true)
        keyLength.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        slots = [Int32](repeating: 0, count: 1024)
    }

    @inline(__always)
    private func equals(_ e: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = Int(keyLength[e])
        guard n == key.count else { return false }
        let s = Int(keyStart[e])
        return arena.withUnsafeBufferPointer { a in
            for i in 0..<n where a[s + i] != key[i] { return false }
            return true
        }
    }

    private mutating func place(_ e: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hashes[e]) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(e + 1)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        for e in 0..<count { place(e) }
    }
}
