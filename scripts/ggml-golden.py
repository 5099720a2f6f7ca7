#!/usr/bin/env python3
"""Reproduces GGML_GOLDEN in src/engine/gguf/quant/quant.test.ts.

Feeds quantTestVector(4096) (dumped by Node from src/testing/quant-test-vectors.ts, so the input is
exactly the test's) to llama.cpp's own reference quantizers and dequantizers in libggml-base.so
from @node-llama-cpp/linux-x64, and prints sha256 (first 128 bits) of the quantized bytes and of
the dequantized f32 values.

    python3 scripts/ggml-golden.py [path/to/libggml-base.so]
"""
import ctypes
import hashlib
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(
    ROOT, 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so')
N = 4096

# name: (bytes per block, elements per block, quantizer, dequantizer)
TYPES = {
    'q4_0': (18, 32, 'quantize_row_q4_0_ref', 'dequantize_row_q4_0'),
    'q4_1': (20, 32, 'quantize_row_q4_1_ref', 'dequantize_row_q4_1'),
    'q5_0': (22, 32, 'quantize_row_q5_0_ref', 'dequantize_row_q5_0'),
    'q5_1': (24, 32, 'quantize_row_q5_1_ref', 'dequantize_row_q5_1'),
    'q8_0': (34, 32, 'quantize_row_q8_0_ref', 'dequantize_row_q8_0'),
    'q2_K': (84, 256, 'quantize_row_q2_K_ref', 'dequantize_row_q2_K'),
    'q3_K': (110, 256, 'quantize_row_q3_K_ref', 'dequantize_row_q3_K'),
    'q4_K': (144, 256, 'quantize_row_q4_K_ref', 'dequantize_row_q4_K'),
    'q5_K': (176, 256, 'quantize_row_q5_K_ref', 'dequantize_row_q5_K'),
    'q6_K': (210, 256, 'quantize_row_q6_K_ref', 'dequantize_row_q6_K'),
    'iq4_nl': (18, 32, 'quantize_row_iq4_nl_ref', 'dequantize_row_iq4_nl'),
    'iq4_xs': (136, 256, 'quantize_row_iq4_xs_ref', 'dequantize_row_iq4_xs'),
    'f16': (2, 1, 'ggml_fp32_to_fp16_row', 'ggml_fp16_to_fp32_row'),
    'bf16': (2, 1, 'ggml_fp32_to_bf16_row_ref', 'ggml_bf16_to_fp32_row'),
}


def test_vector() -> bytes:
    js = (
        "const { quantTestVector } = await import('./src/testing/quant-test-vectors.ts');"
        f"process.stdout.write(Buffer.from(quantTestVector({N}).buffer));"
    )
    out = subprocess.run(
        ['node', '--import', 'tsx/esm', '--input-type=module', '-e', js],
        cwd=ROOT, check=True, capture_output=True).stdout
    assert len(out) == 4 * N, len(out)
    return out


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:32]


def main() -> None:
    lib = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else LIB)
    x = (ctypes.c_float * N).from_buffer_copy(test_vector())
    for name, (bpb, bs, qfn, dqfn) in TYPES.items():
        q = (ctypes.c_uint8 * (N // bs * bpb))()
        y = (ctypes.c_float * N)()
        getattr(lib, qfn)(x, q, ctypes.c_int64(N))
        getattr(lib, dqfn)(q, y, ctypes.c_int64(N))
        print(f"  {name}: '{sha(bytes(q))}', '{sha(bytes(y))}'")


main()
