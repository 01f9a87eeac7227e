#!/usr/bin/env python3
"""Interoperability check between Ponder's safetensors code and the Python `safetensors` package.

Usage: safetensors_check.py IN OUT

Reads IN (a file Ponder wrote) with the package, which validates the header as strictly as the
reference implementation does, and writes OUT with the package:
  - every tensor of IN, unchanged, under its own name (Ponder compares them bit for bit);
  - interop.f16 and interop.bf16: half-precision tensors, with interop.f16_as_f32 and
    interop.bf16_as_f32 holding the exact float32 values they stand for;
  - interop.i32: int32 values;
  - metadata: IN's metadata, plus `python_names` (IN's tensor names, comma separated).
CheckpointTests.swift runs it. Exit status 3 means the package is missing: `make deps` installs it.
"""

import sys

try:
    import numpy as np
    import safetensors
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
except ImportError as error:
    print(f"safetensors_check.py: {error}; `make deps` installs the Python packages numpy and safetensors",
          file=sys.stderr)
    sys.exit(3)


def save_with_bf16(tensors, bf16_bits, path, metadata):
    """Writes numpy tensors plus one BF16 tensor (given as uint16 bit patterns) with the package.
    numpy has no bfloat16, so the BF16 tensor goes through the package's lower-level serializer."""
    specs = {}
    keep_alive = []
    for name, array in list(tensors.items()) + [("interop.bf16", bf16_bits)]:
        array = np.ascontiguousarray(array)
        keep_alive.append(array)
        dtype = "bfloat16" if name == "interop.bf16" else array.dtype.name
        if hasattr(safetensors, "TensorSpec"):  # safetensors >= 0.7
            specs[name] = safetensors.TensorSpec(dtype=dtype, shape=array.shape,
                                                 data_ptr=array.ctypes.data, data_len=array.nbytes)
        else:
            specs[name] = {"dtype": dtype, "shape": list(array.shape), "data": array.tobytes()}
    safetensors.serialize_file(specs, path, metadata=metadata)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    tensors = load_file(source)
    with safe_open(source, framework="np") as f:
        metadata = dict(f.metadata() or {})
        names = list(f.keys())

    half = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6.0e-8, 1.0e-5, 0.333251953125, np.inf, -np.inf],
                    dtype=np.float16)
    wide = np.array([1.0, -3.140625, 1.0e-30, 3.0e38, 0.0, -7.5], dtype=np.float32)
    bf16_bits = (wide.view(np.uint32) >> 16).astype(np.uint16)  # truncated; bf16_as_f32 is exact
    out = dict(tensors)
    out["interop.f16"] = half.reshape(2, 5)
    out["interop.f16_as_f32"] = half.astype(np.float32).reshape(2, 5)
    out["interop.bf16_as_f32"] = (bf16_bits.astype(np.uint32) << 16).view(np.float32)
    out["interop.i32"] = np.array([-1, 0, 7, 2**31 - 1], dtype=np.int32)
    metadata["python_names"] = ",".join(names)
    metadata["python_safetensors"] = safetensors.__version__
    save_with_bf16(out, bf16_bits, target, metadata)
    print(f"read {len(tensors)} tensors from {source}; wrote {len(out) + 1} to {target}")


if __name__ == "__main__":
    main()
