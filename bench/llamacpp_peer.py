#!/usr/bin/env python3
"""llama.cpp side-by-side generation benchmark for `ponder bench` (batch-1 KV-cache decoding).

Contract
--------
* Optional. Nothing in the build or the tests needs this script; it needs
  `pip install llama-cpp-python gguf` (llama-cpp-python builds llama.cpp from source; CPU only
  is enough, e.g. `CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python gguf`).
* It writes a GGUF file of a random-weight Llama model with the shape of a `torch_peer.py`
  config (the numbers are imported from there): every tensor float32 (general.file_type
  ALL_F32, the token embedding included), tied embeddings (no output.weight), no tokenizer
  (tokenizer.ggml.model "none" with llama.vocab_size dummy tokens: ids in, logits out).
* It loads the file with llama-cpp-python on CPU (`--threads` for both decode and batch
  threads, float32 KV cache unless `--kv-type f16`, flash attention off unless
  `--flash-attn`) and generates one sequence (batch 1) the way `ponder bench --gen-sequences 1`
  and `torch_peer.py --gen-sequences 1` do: a `--prompt-tokens` (32) random prompt evaluated in
  one batch, then `--new-tokens` (128) tokens, the first drawn from the prompt's logits and each
  later one after a single-token decode, sampled at `--temperature` (1, as ponder bench; 0 =
  greedy) in numpy from llama.cpp's logits, no stop token. One short warm-up generation, then
  `--repeats` (3) timed ones; the medians are reported:
    - gen tok/s: new tokens / (prompt evaluation + all decode steps + sampling), the figure that
      `ponder bench` and torch_peer.py print (both time the whole generate call);
    - decode tok/s: (new tokens - 1) / (time of the single-token decode steps + sampling only),
      i.e. the prompt evaluation left out;
    - prefill ms: the prompt evaluation alone.
* Output: a readable table by default; `--json` prints one JSON object instead.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import (CONFIGS, LOW_CPU_USE, NORM_EPS, ROPE_THETA, cpu_seconds, cpu_use,  # noqa: E402 (stdlib only)
                        kv_heads, mlp_hidden)

PROMPT_LEN = 32    # ponder bench: 32-token prompts
NEW_TOKENS = 128   # ponder bench: 128 new tokens
REPEATS = 3        # ponder bench: median of three runs
INSTALL_HINT = "pip install llama-cpp-python gguf"


def require(module):
    try:
        return __import__(module)
    except ImportError as e:
        sys.exit(f"llamacpp_peer.py needs the Python packages llama-cpp-python and gguf "
                 f"({e}); install them with:\n    {INSTALL_HINT}")


# --------------------------------------------------------------------------------------------
# GGUF of a random-weight model
# --------------------------------------------------------------------------------------------

def write_gguf(path, name, cfg, max_len, seed=0):
    gguf = require("gguf")
    import numpy as np

    d, L, H, KV = cfg["d_model"], cfg["n_layers"], cfg["n_heads"], kv_heads(cfg)
    hd, hidden, V = d // H, mlp_hidden(cfg), cfg["vocab"]
    rng = np.random.default_rng(seed)

    def normal(*shape):  # numpy shape (rows = output features, columns = input features)
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"ponder-random-{name}")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(max(max_len, cfg["seq"]))
    w.add_embedding_length(d)
    w.add_block_count(L)
    w.add_feed_forward_length(hidden)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(NORM_EPS)
    w.add_rope_freq_base(cfg.get("rope_theta", ROPE_THETA))
    w.add_vocab_size(V)
    w.add_tokenizer_model("none")  # no tokenizer: llama.cpp adds vocab_size dummy tokens

    w.add_tensor("token_embd.weight", normal(V, d))
    for i in range(L):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", normal(H * hd, d))
        w.add_tensor(p + "attn_k.weight", normal(KV * hd, d))
        w.add_tensor(p + "attn_v.weight", normal(KV * hd, d))
        w.add_tensor(p + "attn_output.weight", normal(d, H * hd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", normal(hidden, d))
        w.add_tensor(p + "ffn_up.weight", normal(hidden, d))
        w.add_tensor(p + "ffn_down.weight", normal(d, hidden))
    w.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    # No output.weight: llama.cpp ties the LM head to token_embd.weight.

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_summary(path):
    gguf = require("gguf")
    r = gguf.GGUFReader(path)
    types = sorted({t.tensor_type.name for t in r.tensors})
    params = sum(int(t.n_elements) for t in r.tensors)
    ft = r.fields.get("general.file_type")
    file_type = int(ft.parts[ft.data[0]][0]) if ft is not None else None
    return {"tensor_types": types, "params": params, "file_type": file_type,
            "tensors": len(r.tensors), "bytes": os.path.getsize(path)}


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------

def llama_cpp_versions(llama_cpp):
    info = {"llama_cpp_python": getattr(llama_cpp, "__version__", "?")}
    lib = getattr(getattr(llama_cpp, "llama_cpp", None), "_lib", None)
    for fn in ("ggml_version", "ggml_commit"):
        try:
            f = getattr(lib, fn)
            import ctypes
            f.restype, f.argtypes = ctypes.c_char_p, []
            info[fn] = f().decode()
        except Exception:
            pass
    try:
        info["system_info"] = llama_cpp.llama_print_system_info().decode().strip()
    except Exception:
        pass
    return info


def run_config(name, args, gguf_path):
    llama_cpp = require("llama_cpp")
    import numpy as np

    cfg = CONFIGS[name]
    V = cfg["vocab"]
    n_ctx = args.prompt_tokens + args.new_tokens
    kv_type = {"f32": llama_cpp.GGML_TYPE_F32, "f16": llama_cpp.GGML_TYPE_F16}[args.kv_type]
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=gguf_path, n_ctx=n_ctx, n_batch=args.prompt_tokens,
                          n_ubatch=args.prompt_tokens, n_threads=args.threads,
                          n_threads_batch=args.threads, logits_all=False, flash_attn=args.flash_attn,
                          type_k=kv_type, type_v=kv_type, n_gpu_layers=0, verbose=args.verbose)
    load_s = time.perf_counter() - t0
    assert llm.n_vocab() == V, f"model has {llm.n_vocab()} tokens, config {V}"
    ctx = llm.ctx
    threads_used = (llama_cpp.llama_n_threads(ctx), llama_cpp.llama_n_threads_batch(ctx))

    gen = np.random.default_rng(2)
    prompt = [int(x) for x in gen.integers(0, V, args.prompt_tokens)]

    def pick():
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(V,))
        if args.temperature <= 0:
            return int(logits.argmax())
        z = logits / args.temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        return int(gen.choice(V, p=p))

    def generate(new_tokens):
        llm.reset()  # n_tokens = 0: the next eval clears the KV cache from position 0
        t_start = time.perf_counter()
        llm.eval(prompt)
        out = [pick()]
        t_prefill = time.perf_counter()
        for _ in range(new_tokens - 1):
            llm.eval([out[-1]])
            out.append(pick())
        t_end = time.perf_counter()
        return out, t_prefill - t_start, t_end - t_prefill, t_end - t_start

    generate(8)  # warm-up
    runs = []
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    for _ in range(args.repeats):
        out, prefill_s, decode_s, total_s = generate(args.new_tokens)
        assert len(out) == args.new_tokens
        runs.append(dict(gen_tokens_per_s=args.new_tokens / total_s,
                         decode_tokens_per_s=(args.new_tokens - 1) / decode_s,
                         prefill_ms=prefill_s * 1e3, total_s=total_s))
    use = cpu_use(cpu_seconds() - cpu0, time.perf_counter() - wall0, args.threads)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {
        "vocab": V, "d_model": cfg["d_model"], "n_layers": cfg["n_layers"],
        "n_heads": cfg["n_heads"], "kv_heads": kv_heads(cfg), "mlp_hidden": mlp_hidden(cfg),
        "rope_theta": cfg.get("rope_theta", ROPE_THETA),
        "gguf": gguf_summary(gguf_path), "load_s": load_s,
        "n_ctx": llama_cpp.llama_n_ctx(ctx), "threads_used": list(threads_used),
        "gen_sequences": 1, "gen_prompt_tokens": args.prompt_tokens,
        "gen_new_tokens": args.new_tokens, "repeats": args.repeats, "runs": runs,
        **med, "cpu_use": use,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "versions": llama_cpp_versions(llama_cpp),
    }


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def print_table(result):
    v = result["versions"]
    ggml = ", ".join(f"{k} {v[k]}" for k in ("ggml_version", "ggml_commit") if k in v)
    print(f"llama.cpp via llama-cpp-python {v.get('llama_cpp_python', '?')} ({ggml or 'ggml version unknown'}) "
          f"on CPU, float32 weights, {result['kv_type']} KV cache, flash attention "
          f"{'on' if result['flash_attn'] else 'off'}, {result['threads']} threads, sampling: {result['sampling']}")
    if "system_info" in v:
        print(f"system info: {v['system_info']}")
    print(f"generation: batch 1, {result['prompt_tokens']}-token random prompt, {result['new_tokens']} new tokens, "
          f"KV cache; 1 warm-up, median of {result['repeats']}")
    header = (f"{'config':<12}{'params':>10}{'weights':>10}{'gen tok/s':>11}{'decode tok/s':>14}"
              f"{'prefill ms':>12}{'threads':>9}{'peak RSS':>11}{'CPU use':>9}   runs (gen tok/s)")
    print(header)
    print("-" * len(header))
    low = []
    for name, r in result["configs"].items():
        if "error" in r:
            print(f"{name:<12}  failed: {r['error']}")
            continue
        runs = ", ".join(f"{x['gen_tokens_per_s']:.1f}" for x in r["runs"])
        print(f"{name:<12}{r['gguf']['params'] / 1e6:>9.2f}M{'/'.join(r['gguf']['tensor_types']):>10}"
              f"{r['gen_tokens_per_s']:>11.1f}{r['decode_tokens_per_s']:>14.1f}{r['prefill_ms']:>12.1f}"
              f"{'/'.join(map(str, r['threads_used'])):>9}{r['peak_rss_mb']:>8.0f} MB{r['cpu_use'] * 100:>8.0f}%   {runs}")
        if r["cpu_use"] < LOW_CPU_USE:
            low.append(name)
    print("gen tok/s = new tokens / (prompt evaluation + decode steps + sampling), as ponder bench and "
          "torch_peer.py;\ndecode tok/s = (new tokens - 1) / (single-token decode steps + sampling only); "
          "threads = decode/batch threads llama.cpp reports;\nCPU use = CPU time / (wall time x threads) "
          "over the timed runs")
    if low:
        print(f"warning: CPU use below {LOW_CPU_USE:.0%} for {', '.join(low)}: other processes took part "
              "of the cores, so these figures are low; rerun on a quiet machine")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="smollm-135m", help="comma-separated subset of: " + ",".join(CONFIGS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt-tokens", type=int, default=PROMPT_LEN)
    p.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    p.add_argument("--repeats", type=int, default=REPEATS)
    p.add_argument("--temperature", type=float, default=1.0, help="0 means greedy")
    p.add_argument("--kv-type", choices=["f32", "f16"], default="f32",
                   help="KV cache type (llama.cpp's own default is f16)")
    p.add_argument("--flash-attn", action="store_true", help="llama.cpp flash attention")
    p.add_argument("--gguf", help="GGUF file to use (one config only); written there if missing, "
                                  "else built in a temporary directory")
    p.add_argument("--verbose", action="store_true", help="llama.cpp's own log on stderr")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s): {', '.join(unknown)}")
    if args.gguf and len(names) != 1:
        p.error("--gguf takes one config")
    if args.new_tokens < 2 or args.prompt_tokens < 1 or args.repeats < 1 or args.threads < 1:
        p.error("--new-tokens must be at least 2; --prompt-tokens, --repeats, --threads at least 1")
    require("llama_cpp")
    require("gguf")

    result = {
        "benchmark": "llamacpp_peer", "threads": args.threads, "dtype": "float32",
        "kv_type": args.kv_type, "flash_attn": args.flash_attn,
        "sampling": "greedy" if args.temperature <= 0 else f"temperature {args.temperature:g}",
        "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "repeats": args.repeats,
        "timed": "gen: prompt eval + (new_tokens-1) single-token decodes + sampling; "
                 "decode: the single-token decodes + sampling only",
        "configs": {},
    }
    for name in names:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = args.gguf or os.path.join(tmp, f"{name}-f32.gguf")
                if not os.path.exists(path):
                    write_gguf(path, name, CONFIGS[name], args.prompt_tokens + args.new_tokens)
                r = run_config(name, args, path)
                result["versions"] = r.pop("versions")
                result["configs"][name] = r
        except Exception as e:  # report and go on with the other configs
            result["configs"][name] = {"error": f"{type(e).__name__}: {e}"}
    result.setdefault("versions", {})
    ok = [r for r in result["configs"].values() if "error" not in r]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0 if len(ok) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
