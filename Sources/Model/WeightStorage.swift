// How a model holds its weights. A model to train holds F32 parameters and F32 gradients
// (8 bytes a parameter, before AdamW's moments). A frozen model, such as the reference of grpo,
// ppo and dpo that only ever runs forward, holds no gradients: 4 bytes a parameter in F32, or 2
// in BF16, whose forward widens one layer at a time into an F32 scratch (Transformer.forwardPass)
// so the F32 weights never exist all at once.

import Kernels

/// The storage type of a frozen model's weights.
public enum WeightDType: String, Codable, Sendable, CaseIterable {
    case float32, bfloat16
}

extension Transformer {
    public enum Storage: Sendable, Equatable {
        /// F32 parameters and gradients.
        case trainable
        /// Parameters only, in `WeightDType`; backward stops with a precondition failure.
        case frozen(WeightDType)
    }
}

/// An owned, contiguous run of bfloat16 values (their bits), as `FloatBuffer` is of Floats.
public final class BFloat16Buffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<UInt16>

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 2, alignment: 64)
        pointer = raw.bindMemory(to: UInt16.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: count)
    }

    deinit { pointer.deallocate() }

    public subscript(i: Int) -> Float { float(bfloat16: pointer[i]) }
}
