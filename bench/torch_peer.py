#!/usr/bin/env python3
"""PyTorch side-by-side benchmark for `ponder bench` (DESIGN.md section 11).

Contract
--------
* Optional. Nothing in the build or the tests needs this script or PyTorch; only the
  Makefile target `bench-peers` runs it (after installing torch==2.13.0 if it is missing).
* It trains and samples the same Llama-style configs as `ponder bench` (tiny, small, medium, and
  on request smollm-135m, with grouped-query attention),
  in PyTorch on CPU, float32, with `--threads` torch threads (default os.cpu_count()):
    - training: random token batches; forward + cross-entropy + backward + AdamW step
      (lr 3e-4, weight decay 0.1); 2 warm-up steps, then the median time of N timed steps
      (N chosen so that each config takes a few seconds) -> tokens/s = B*T / step time;
    - model FLOPs per token and the achieved GFLOP/s, as a share of the sgemm rate measured in
      the same process (torch.matmul, 512x512x512 float32, median of many runs; measured before
      and after the model runs and the higher median kept, since the cores may be shared);
    - generation: batched decoding with a hand-written KV cache (prefill once, then one token
      per step for the whole batch), 32-token random prompt, 128 new tokens, for 64 sequences
      and the reference batch of each config -> tokens/s = sequences * new tokens / time
      (median over a few runs after a warm-up);
    - peak resident memory (getrusage ru_maxrss).
* Each config runs in its own child process, so its peak RSS is its own.
* Output: a readable table by default; `--json` prints one JSON object instead.

FLOPs convention (PaLM appendix B; `ponder bench` uses the same one):
    flops_per_token = 6 * P + 12 * n_layers * T * d_model
P counts the weights of every matrix multiply (q, k, v, o, gate, up, down in each layer, and the
LM head even though it is tied to the embedding); the embedding lookup and the norms are left out.
The attention term counts QK^T and AV (2 matmuls x 2 flops per multiply-add x 3 for forward and
backward = 12) over the full T x T score matrix, i.e. the causal mask is ignored.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CONFIGS = {
    # name: vocab, d_model, layers, heads, seq, batch, reference decode batch
    "tiny": dict(vocab=512, d_model=128, n_layers=4, n_heads=4, seq=128, batch=32, ref_seqs=32),
    "small": dict(vocab=4096, d_model=256, n_layers=6, n_heads=8, seq=256, batch=16, ref_seqs=16),
    "medium": dict(vocab=8192, d_model=512, n_layers=8, n_heads=8, seq=256, batch=8, ref_seqs=None),
    # SmolLM2-135M's shape: grouped-query attention, its own MLP width and RoPE base.
    "smollm-135m": dict(vocab=49152, d_model=576, n_layers=30, n_heads=9, kv_heads=3, hidden=1536, rope_theta=100000.0,
                        seq=256, batch=4, ref_seqs=None),
}

GEN_SEQS = 64
PROMPT_LEN = 32
NEW_TOKENS = 128
ROPE_THETA = 10000.0
LOW_CPU_USE = 0.85
NORM_EPS = 1e-5


def swiglu_hidden(d_model):
    """8/3 * d_model rounded up to a multiple of 64."""
    return -(-8 * d_model // (3 * 64)) * 64


def mlp_hidden(cfg):
    return cfg.get("hidden") or swiglu_hidden(cfg["d_model"])


def kv_heads(cfg):
    return cfg.get("kv_heads", cfg["n_heads"])


def matmul_params(cfg):
    d, h = cfg["d_model"], mlp_hidden(cfg)
    kv_width = kv_heads(cfg) * (d // cfg["n_heads"])
    per_layer = 2 * d * d + 2 * d * kv_width + 3 * d * h
    return cfg["n_layers"] * per_layer + cfg["vocab"] * d


def flops_per_token(cfg):
    return 6 * matmul_params(cfg) + 12 * cfg["n_layers"] * cfg["seq"] * cfg["d_model"]


# --------------------------------------------------------------------------------------------
# Model (only imported in the child process, where torch is loaded)
# --------------------------------------------------------------------------------------------

def build_model_classes(torch):
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.weight

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def apply_rope(x, cos, sin):
        # x: (B, H, T, hd); cos, sin: (T, hd)
        return x * cos + rotate_half(x) * sin

    class Attention(nn.Module):
        def __init__(self, d, n_heads, n_kv):
            super().__init__()
            self.n_heads, self.n_kv, self.head_dim = n_heads, n_kv, d // n_heads
            self.gqa = dict(enable_gqa=True) if n_kv != n_heads else {}
            self.q_proj = nn.Linear(d, d, bias=False)
            self.k_proj = nn.Linear(d, n_kv * self.head_dim, bias=False)
            self.v_proj = nn.Linear(d, n_kv * self.head_dim, bias=False)
            self.o_proj = nn.Linear(d, d, bias=False)

        def _heads(self, x, n):
            b, t, _ = x.shape
            return x.view(b, t, n, self.head_dim).transpose(1, 2)

        def forward(self, x, cos, sin, cache=None, pos=0):
            b, t, d = x.shape
            q = apply_rope(self._heads(self.q_proj(x), self.n_heads), cos, sin)
            k = apply_rope(self._heads(self.k_proj(x), self.n_kv), cos, sin)
            v = self._heads(self.v_proj(x), self.n_kv)
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True, **self.gqa)
            else:
                kc, vc = cache
                kc[:, :, pos:pos + t] = k
                vc[:, :, pos:pos + t] = v
                if t > 1:  # prefill from an empty cache: plain causal attention over the prompt
                    y = F.scaled_dot_product_attention(q, k, v, is_causal=True, **self.gqa)
                else:      # one new token attends to every cached position
                    y = F.scaled_dot_product_attention(q, kc[:, :, :pos + 1], vc[:, :, :pos + 1], **self.gqa)
            return self.o_proj(y.transpose(1, 2).reshape(b, t, d))

    class MLP(nn.Module):
        def __init__(self, d, hidden):
            super().__init__()
            self.gate_proj = nn.Linear(d, hidden, bias=False)
            self.up_proj = nn.Linear(d, hidden, bias=False)
            self.down_proj = nn.Linear(hidden, d, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class Block(nn.Module):
        def __init__(self, d, n_heads, n_kv, hidden):
            super().__init__()
            self.input_layernorm = RMSNorm(d)
            self.self_attn = Attention(d, n_heads, n_kv)
            self.post_attention_layernorm = RMSNorm(d)
            self.mlp = MLP(d, hidden)

        def forward(self, x, cos, sin, cache=None, pos=0):
            x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, pos)
            return x + self.mlp(self.post_attention_layernorm(x))

    class Llama(nn.Module):
        def __init__(self, cfg, max_len):
            super().__init__()
            d = cfg["d_model"]
            self.cfg = cfg
            self.embed_tokens = nn.Embedding(cfg["vocab"], d)
            self.layers = nn.ModuleList(
                Block(d, cfg["n_heads"], kv_heads(cfg), mlp_hidden(cfg)) for _ in range(cfg["n_layers"]))
            self.norm = RMSNorm(d)
            hd = d // cfg["n_heads"]
            inv_freq = 1.0 / (cfg.get("rope_theta", ROPE_THETA) ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
            angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)
            angles = torch.cat((angles, angles), dim=-1)  # HF rotate-half layout
            self.register_buffer("rope_cos", angles.cos(), persistent=False)
            self.register_buffer("rope_sin", angles.sin(), persistent=False)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    nn.init.normal_(p, mean=0.0, std=0.02)

        def forward(self, idx, caches=None, pos=0):
            t = idx.shape[1]
            cos, sin = self.rope_cos[pos:pos + t], self.rope_sin[pos:pos + t]
            x = self.embed_tokens(idx)
            for i, layer in enumerate(self.layers):
                x = layer(x, cos, sin, None if caches is None else caches[i], pos)
            return F.linear(self.norm(x), self.embed_tokens.weight)  # tied LM head

        def new_caches(self, batch, max_len):
            cfg = self.cfg
            hd = cfg["d_model"] // cfg["n_heads"]
            shape = (batch, kv_heads(cfg), max_len, hd)
            return [(torch.empty(shape), torch.empty(shape)) for _ in range(cfg["n_layers"])]

    return Llama


# --------------------------------------------------------------------------------------------
# Measurements (child process)
# --------------------------------------------------------------------------------------------

def measure_sgemm(torch, n=512, runs=60):
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    for _ in range(10):
        torch.matmul(a, b, out=c)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_use(cpu_s, wall_s, threads):
    """Share of `threads` cores this process actually got; well below 1 means other processes
    competed for the cores and the timings are low."""
    return cpu_s / (wall_s * threads)


def measure_training(torch, model, cfg, budget_s, min_steps, max_steps, threads):
    F = torch.nn.functional
    # Weight decay on every parameter (norm gains included): the cost is the same either way.
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    B, T, V = cfg["batch"], cfg["seq"], cfg["vocab"]
    gen = torch.Generator().manual_seed(1)

    def step():
        tokens = torch.randint(0, V, (B, T + 1), generator=gen)
        t0 = time.perf_counter()
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0, loss.item()

    warm = [step()[0] for _ in range(2)]
    n_steps = max(min_steps, min(max_steps, int(budget_s / max(warm[-1], 1e-6))))
    times, losses = [], []
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    for _ in range(n_steps):
        dt, loss = step()
        times.append(dt)
        losses.append(loss)
    use = cpu_use(cpu_seconds() - cpu0, time.perf_counter() - wall0, threads)
    return statistics.median(times), n_steps, losses[-1], use


def generate(torch, model, prompts, new_tokens, temperature, gen):
    batch, plen = prompts.shape
    caches = model.new_caches(batch, plen + new_tokens)
    out = torch.empty(batch, new_tokens, dtype=torch.long)

    def pick(logits):
        if temperature <= 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits / temperature, dim=-1)
        return torch.multinomial(probs, 1, generator=gen).squeeze(-1)

    logits = model(prompts, caches, 0)[:, -1]
    for i in range(new_tokens):
        tok = pick(logits)
        out[:, i] = tok
        if i + 1 < new_tokens:
            logits = model(tok.unsqueeze(1), caches, plen + i)[:, -1]
    return out


def measure_generation(torch, model, cfg, seqs, repeats, temperature, threads):
    gen = torch.Generator().manual_seed(2)
    prompts = torch.randint(0, cfg["vocab"], (seqs, PROMPT_LEN), generator=gen)
    with torch.inference_mode():
        generate(torch, model, prompts, 8, temperature, gen)  # warm-up
        times = []
        cpu0 = cpu_seconds()
        for _ in range(repeats):
            t0 = time.perf_counter()
            generate(torch, model, prompts, NEW_TOKENS, temperature, gen)
            times.append(time.perf_counter() - t0)
        use = cpu_use(cpu_seconds() - cpu0, sum(times), threads)
    return seqs * NEW_TOKENS / statistics.median(times), use


def run_config(name, args):
    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    cfg = CONFIGS[name]
    Llama = build_model_classes(torch)
    # RoPE tables cover generation too: tiny decodes 32 + 128 = 160 positions past its seq 128.
    model = Llama(cfg, max(cfg["seq"], PROMPT_LEN + NEW_TOKENS))

    sgemm = measure_sgemm(torch)
    budget, min_steps, max_steps = (0.5, 2, 4) if args.quick else (4.0, 3, 40)
    step_s, n_steps, last_loss, train_use = measure_training(torch, model, cfg, budget,
                                                             min_steps, max_steps, args.threads)
    tokens_per_s = cfg["batch"] * cfg["seq"] / step_s
    fpt = flops_per_token(cfg)
    gflops = fpt * tokens_per_s / 1e9

    model.eval()
    if args.gen_sequences:
        seq_counts = sorted({int(x) for x in args.gen_sequences.split(",")})
    else:
        seq_counts = sorted({GEN_SEQS} | ({cfg["ref_seqs"]} if cfg["ref_seqs"] else set()))
    repeats = 1 if args.quick else 3
    gen = {str(s): measure_generation(torch, model, cfg, s, repeats, args.temperature,
                                      args.threads)
           for s in seq_counts}
    # The cores are shared: a busy neighbour only ever lowers the measured sgemm rate, so it is
    # measured before and after the model runs and the higher median is the reference.
    sgemm_runs = [sgemm, measure_sgemm(torch)]
    sgemm = max(sgemm_runs)

    return {
        "vocab": cfg["vocab"], "d_model": cfg["d_model"], "n_layers": cfg["n_layers"],
        "n_heads": cfg["n_heads"], "seq": cfg["seq"], "batch": cfg["batch"],
        "swiglu_hidden": mlp_hidden(cfg),
        "params": sum(p.numel() for p in model.parameters()),
        "matmul_params": matmul_params(cfg),
        "train_steps": n_steps,
        "train_step_ms": step_s * 1e3,
        "train_last_loss": last_loss,
        "train_tokens_per_s": tokens_per_s,
        "flops_per_token": fpt,
        "gflops": gflops,
        "sgemm_gflops": sgemm,
        "sgemm_gflops_before_after": sgemm_runs,
        "sgemm_share": gflops / sgemm,
        "gen_prompt_tokens": PROMPT_LEN,
        "gen_new_tokens": NEW_TOKENS,
        "gen_tokens_per_s": {k: v[0] for k, v in gen.items()},
        "train_cpu_use": train_use,
        "gen_cpu_use": {k: v[1] for k, v in gen.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_version": torch.__version__,
    }


# --------------------------------------------------------------------------------------------
# Driver (parent process)
# --------------------------------------------------------------------------------------------

def print_table(result):
    print(f"PyTorch {result['torch_version']} on CPU, float32, {result['threads']} threads, "
          f"sampling: {result['sampling']}")
    print(f"FLOPs/token = 6*P + 12*L*T*d (P = matmul weights incl. tied LM head); "
          f"generation: {PROMPT_LEN}-token prompt, {NEW_TOKENS} new tokens, KV cache")
    header = (f"{'config':<8}{'params':>10}{'ms/step':>10}{'train tok/s':>13}"
              f"{'MFLOP/tok':>11}{'GFLOP/s':>9}{'sgemm':>8}{'share':>7}"
              f"{'gen tok/s (seqs)':>32}{'peak RSS':>11}{'CPU use':>9}")
    print(header)
    print("-" * len(header))
    low = []
    for name, r in result["configs"].items():
        if "error" in r:
            print(f"{name:<8}  failed: {r['error']}")
            continue
        use = min([r["train_cpu_use"]] + list(r["gen_cpu_use"].values()))
        gen = ", ".join(f"{v:,.0f} ({k})" for k, v in
                        sorted(r["gen_tokens_per_s"].items(), key=lambda kv: int(kv[0])))
        print(f"{name:<8}{r['params'] / 1e6:>9.2f}M{r['train_step_ms']:>10.1f}"
              f"{r['train_tokens_per_s']:>13,.0f}{r['flops_per_token'] / 1e6:>11.1f}"
              f"{r['gflops']:>9.1f}{r['sgemm_gflops']:>8.1f}{r['sgemm_share'] * 100:>6.1f}%"
              f"{gen:>32}{r['peak_rss_mb']:>8.0f} MB{use * 100:>8.0f}%")
        if use < LOW_CPU_USE:
            low.append(name)
    print("sgemm = torch.matmul 512x512x512 GFLOP/s (higher of the medians before and after the "
          "model runs); share = GFLOP/s / sgemm;\npeak RSS per config (own process); CPU use = "
          "CPU time / (wall time x threads) in the timed parts, the lower of training and "
          "generation")
    if low:
        print(f"warning: CPU use below {LOW_CPU_USE:.0%} for {', '.join(low)}: other processes "
              "took part of the cores, so these figures are low; rerun on a quiet machine")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="tiny,small,medium",
                   help="comma-separated subset of: " + ",".join(CONFIGS))
    p.add_argument("--quick", action="store_true",
                   help="short timing (smoke test; figures are noisier)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature for generation; 0 means greedy")
    p.add_argument("--gen-sequences", default="",
                   help="comma-separated generation batch sizes, e.g. 1,16,64 (default: 64 and "
                        "the config's reference batch), as `ponder bench --gen-sequences`")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:
        print(json.dumps(run_config(args.child, args)))
        return 0

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s): {', '.join(unknown)}")

    result = {
        "benchmark": "torch_peer",
        "torch_version": None,
        "threads": args.threads,
        "dtype": "float32",
        "sampling": "greedy" if args.temperature <= 0 else f"temperature {args.temperature:g}",
        "flops_convention": "6*P + 12*n_layers*T*d_model",
        "quick": args.quick,
        "configs": {},
    }
    for name in names:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name,
               "--threads", str(args.threads), "--temperature", str(args.temperature),
               "--gen-sequences", args.gen_sequences]
        if args.quick:
            cmd.append("--quick")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
            result["configs"][name] = {"error": err}
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        result["torch_version"] = r.pop("torch_version")
        result["configs"][name] = r
    ok = [r for r in result["configs"].values() if "error" not in r]
    result["peak_rss_mb"] = max((r["peak_rss_mb"] for r in ok), default=None)

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0 if len(ok) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
