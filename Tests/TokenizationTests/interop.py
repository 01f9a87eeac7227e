"""Reference side of Ponder's tokenizer.json interoperability tests (Tests/TokenizationTests).

The Swift tests call this script with the Hugging Face `tokenizers` package:

  interop.py encode TOKENIZER_JSON TEXT_FILE
      Load a tokenizer.json (written by Ponder) and print, as JSON, the ids of the text with
      special tokens recognised ("special") and with them treated as plain text ("plain").

  interop.py train KIND CORPUS_FILE VOCAB_SIZE OUT_JSON
      Train a byte-level BPE tokenizer of style KIND (gpt2, llama3, qwen2) on the corpus and
      save it as tokenizer.json, for Ponder to load.

Exit status 3 means `tokenizers` is not installed (`make deps` installs it).
"""
import json
import sys

try:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
except ImportError:
    print("the Python package `tokenizers` is not importable; `make deps` installs it", file=sys.stderr)
    sys.exit(3)

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def encode(tokenizer_path, text_path):
    tok = Tokenizer.from_file(tokenizer_path)
    with open(text_path, encoding="utf-8", newline="") as f:
        text = f.read()
    special = tok.encode(text, add_special_tokens=False).ids
    tok.encode_special_tokens = True
    plain = tok.encode(text, add_special_tokens=False).ids
    print(json.dumps({"special": special, "plain": plain, "decoded": tok.decode(special, skip_special_tokens=False)}))


def train(kind, corpus_path, vocab_size, out_path):
    tok = Tokenizer(models.BPE(ignore_merges=(kind == "llama3")))
    if kind == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        pattern = LLAMA3 if kind == "llama3" else QWEN2
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    if kind == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([corpus_path], trainer)
    tok.save(out_path)


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        encode(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
