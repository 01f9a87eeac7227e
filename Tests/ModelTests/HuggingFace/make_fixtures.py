"""Tiny random Hugging Face checkpoints and what `transformers` computes on them: the fixtures of
HuggingFaceTests.swift.

    pip install torch==2.13.0 transformers
    python3 Tests/ModelTests/HuggingFace/make_fixtures.py

For each case below the script builds a random model with `transformers` (eager attention,
float32), saves it as `transformers` does (config.json, model.safetensors, or shards with
model.safetensors.index.json), and writes expected.json: two prompts of token ids, the logits of
every position, and the greedy continuation of each prompt, computed by `transformers` loading
the saved files back in float32 (for the BF16 case: the BF16 weights, widened, as Ponder reads
them). The tests never run Python or PyTorch; the committed files
are the fixtures.

The other direction: ponder_llama_tied/ and ponder_qwen2_bias/ hold checkpoints that Ponder's
Checkpoint.save wrote (`PONDER_WRITE_HF_FIXTURES=1 swift test --filter HuggingFaceTests` writes
them); this script loads each with AutoModelForCausalLM, says so if transformers misses or
ignores a tensor, and writes the logits it computes to their expected.json, which the tests hold
Ponder's own logits to.
"""
import json
import os
import shutil

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 96
PROMPTS = [[1, 17, 42, 5, 88, 23, 9, 61, 30, 2], [7, 7, 50, 13, 95, 0]]
NEW_TOKENS = 8
COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
              num_attention_heads=4, max_position_embeddings=64, rms_norm_eps=1e-5)

CASES = {
    # Llama, tied embeddings, grouped-query attention (4 query heads over 2 KV heads).
    "llama_tied_gqa": (LlamaForCausalLM, LlamaConfig(**COMMON, num_key_value_heads=2, tie_word_embeddings=True), {}),
    # Llama 3 style: untied, rope_theta 500000, rope_scaling llama3, BF16 weights.
    "llama3_rope_bf16": (LlamaForCausalLM, LlamaConfig(
        **COMMON, num_key_value_heads=2, tie_word_embeddings=False, rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 16}), {"dtype": torch.bfloat16}),
    # Linear position interpolation, multi-head attention, tied.
    "llama_linear_rope": (LlamaForCausalLM, LlamaConfig(
        **COMMON, num_key_value_heads=4, tie_word_embeddings=True,
        rope_scaling={"rope_type": "linear", "factor": 2.0}), {}),
    # Qwen2: q/k/v biases, untied, rope_theta 1e6, saved in shards.
    "qwen2_bias_sharded": (Qwen2ForCausalLM, Qwen2Config(
        **COMMON, num_key_value_heads=2, tie_word_embeddings=False, rope_theta=1000000.0,
        use_sliding_window=False), {"max_shard_size": "40KB"}),
}


PONDER_SAVED = ["ponder_llama_tied", "ponder_qwen2_bias"]


def build(name, cls, config, options):
    torch.manual_seed(sum(map(ord, name)))
    config._attn_implementation = "eager"
    model = cls(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)  # larger than the default init, so logits are O(1) and greedy has clear winners
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    if options.get("dtype") is not None:
        model = model.to(options["dtype"])
    model.save_pretrained(out, max_shard_size=options.get("max_shard_size", "2GB"), safe_serialization=True)
    os.remove(os.path.join(out, "generation_config.json"))
    # The reference is transformers reading the saved files back in float32, as a user would.
    model = cls.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    expected = {"prompts": PROMPTS, "logits": [], "greedy": [], "min_margin": None}
    margins = []
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = torch.tensor([prompt])
            expected["logits"].append(model(ids).logits[0].tolist())
            seq = list(prompt)
            for _ in range(NEW_TOKENS):  # greedy by recomputation, recording how clear each choice was
                last = model(torch.tensor([seq])).logits[0, -1]
                top = torch.topk(last, 2).values
                margins.append(float(top[0] - top[1]))
                seq.append(int(last.argmax()))
            expected["greedy"].append(seq[len(prompt):])
    expected["min_margin"] = min(margins)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)
    files = sorted(os.listdir(out))
    print(f"{name}: {files}, smallest greedy margin {min(margins):.4f}")


def check_ponder_saved(name):
    out = os.path.join(HERE, name)
    model, info = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager",
                                                       output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{name}: transformers did not load Ponder's checkpoint cleanly: {problems}")
    model.eval()
    vocab = model.config.vocab_size
    prompts = [[p % vocab for p in prompt] for prompt in PROMPTS]
    with torch.no_grad():
        logits = [model(torch.tensor([p])).logits[0].tolist() for p in prompts]
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"prompts": prompts, "logits": logits, "architecture": type(model).__name__}, f)
    print(f"{name}: loaded as {type(model).__name__}, no missing or unexpected tensors")


def main():
    for name, (cls, config, options) in CASES.items():
        build(name, cls, config, options)
    for name in PONDER_SAVED:
        if os.path.exists(os.path.join(HERE, name, "config.json")):
            check_ponder_saved(name)
        else:
            print(f"{name}: not written yet (PONDER_WRITE_HF_FIXTURES=1 swift test --filter HuggingFaceTests)")


if __name__ == "__main__":
    main()
