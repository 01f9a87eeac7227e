// Kernels: paired forward/backward functions over contiguous Float buffers.
