"""Reference side of Ponder's tokenizer.json interoperability tests (Tests/TokenizationTests).

The Swift tests call this script with the Hugging Face `tokenizers` package:

  interop.py encode TOKENIZER_JSON TEXT_FILE
      Load a tokenizer.json (written by Ponder) and print, as JSON, the ids of the text with
      special tokens recognised ("special") and with them treated as plain text ("plain"), and
      the decoded text of each ("decoded", "decoded_plain").

  interop.py encode-each TOKENIZER_JSON TEXTS_JSON
      The same for each string of a JSON array on its own: {"special": [[ids]], "plain":
      [[ids]], "decoded": [text]}.

  interop.py train KIND CORPUS_FILE VOCAB_SIZE OUT_JSON
      Train a byte-level BPE tokenizer of style KIND (gpt2, llama3, qwen2) on the corpus and
      save it as tokenizer.json, for Ponder to load.

  interop.py train-spm LAYOUT CORPUS_FILE VOCAB_SIZE OUT_JSON
      Train a SentencePiece-style BPE (Llama 2 / Mistral: byte fallback, <unk> <s> </s>, the 256
      <0xXX> tokens after them) on the corpus and save it in LAYOUT: "legacy" (normalizer
      Prepend + Replace, no pre-tokenizer, decoder Replace/ByteFallback/Fuse/Strip),
      "metaspace-first" (Metaspace first, split false, the same decoder), "metaspace-always"
      (Metaspace always, split true, Metaspace decoder) or "metaspace-unk" (that without byte
      fallback: unknown characters become <unk>, fused).

  interop.py corpus OUT_FILE BYTES SEED
      Write a deterministic multilingual corpus of at least BYTES UTF-8 bytes (see `corpus`).

  interop.py fixtures OUT_SWIFT
      Write SentencePieceFixtures.swift: five small SentencePiece-style tokenizer.json files
      (legacy, metaspace-first, metaspace-unk, metaspace-first with a merge listed twice, and
      metaspace-first with split = true and ignore_merges) and the ids `tokenizers` gives for their sample texts, for the tests that run
      without Python.

Exit status 3 means `tokenizers` is not installed (`make deps` installs it).
"""
import json
import os
import random
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
    print(json.dumps({"special": special, "plain": plain, "decoded": tok.decode(special, skip_special_tokens=False),
                      "decoded_plain": tok.decode(plain, skip_special_tokens=False)}))


def encode_each(tokenizer_path, texts_path):
    """Like encode, for each text of a JSON array on its own (so each starts a text)."""
    tok = Tokenizer.from_file(tokenizer_path)
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    special = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    decoded = tok.decode_batch(special, skip_special_tokens=False)
    tok.encode_special_tokens = True
    plain = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    print(json.dumps({"special": special, "plain": plain, "decoded": decoded}))


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


# --- SentencePiece-style BPE -------------------------------------------------------------------

SPM_SPECIALS = ["<unk>", "<s>", "</s>"]


def spm_json(trained, layout):
    """The tokenizer.json of a Llama 2 style file from a trained Metaspace BPE: <unk> <s> </s>,
    then <0x00>..<0xFF>, then the learned tokens, with the normalizer, pre-tokenizer and decoder
    of LAYOUT."""
    doc = json.loads(trained.to_str())
    learned = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {}
    for t in SPM_SPECIALS + [f"<0x{b:02X}>" for b in range(256)] + [t for t, _ in learned]:
        if t not in vocab:
            vocab[t] = len(vocab)
    doc["model"]["vocab"] = vocab
    doc["model"]["unk_token"] = "<unk>"
    doc["model"]["byte_fallback"] = True
    doc["model"]["fuse_unk"] = True
    doc["added_tokens"] = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True} for t in SPM_SPECIALS]
    sequence_decoder = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    if layout == "legacy":
        doc["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        doc["pre_tokenizer"] = None
        doc["decoder"] = sequence_decoder
    elif layout == "metaspace-first":
        doc["normalizer"] = None
        doc["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
        doc["decoder"] = sequence_decoder
    elif layout in ("metaspace-always", "metaspace-unk"):
        doc["normalizer"] = None
        doc["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
        doc["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    else:
        sys.exit(f"unknown layout {layout}")
    if layout == "metaspace-unk":
        # No byte fallback: an unknown character is <unk>, consecutive ones fused.
        doc["model"]["byte_fallback"] = False
    text = json.dumps(doc, ensure_ascii=False, indent=None)
    Tokenizer.from_str(text)  # `tokenizers` must accept what the tests load
    return text


def train_spm(corpus_path, vocab_size, limit_alphabet):
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=SPM_SPECIALS,
                                  limit_alphabet=limit_alphabet)
    tok.train([corpus_path], trainer)
    return tok


# --- the multilingual corpus ---------------------------------------------------------------------

FRENCH = "déjà vu où çà être naïve garçon élève français hôpital forêt cœur œuvre Noël crème brûlée".split()
GERMAN = "Größe Straße über schön Mädchen Fußball Äpfel Öl Übung weiß heißen Grüße Bär".split()
VIETNAMESE = "Tiếng Việt người nước Hà Nội phở cảm ơn xin chào đường được những trường học".split()
GREEK = "Ελληνικά καλημέρα ευχαριστώ θάλασσα φιλοσοφία ψυχή ώρα Αθήνα".split()
CYRILLIC = "русский язык привет спасибо Москва здравствуйте ёлка щука Україна".split()
ARABIC = "العربية مرحبا شكرا كتاب مدرسة السلام عليكم القاهرة".split()
HEBREW = "עברית שלום תודה ספר ירושלים בוקר טוב".split()
DEVANAGARI = "हिन्दी नमस्ते धन्यवाद भारत किताब विद्यालय संस्कृतम्".split()
THAI = "ภาษาไทย สวัสดี ขอบคุณ กรุงเทพมหานคร โรงเรียน".split()
CJK = "中文字符 日本語のテキスト 東京 北京大学 漢字 ひらがな カタカナ 你好世界".split()
HANGUL = "한국어 안녕하세요 감사합니다 서울 대한민국 한글".split()
EMOJI = ["😀", "👍", "👍🏽", "👨‍👩‍👧", "👩🏾‍💻", "🏳️‍🌈", "❤️", "🇫🇷", "🇯🇵", "🙂", "🤖", "👋🏻", "🧑🏿‍🚀", "✨"]
CODE = ["def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }\n",
        "if err != nil {\n\treturn err\n}\n", "SELECT id, name FROM users WHERE age >= 18;\n",
        "let xs = [1, 2, 3].map { $0 * 2 }\n", "<div class=\"note\">&nbsp;</div>\r\n"]
SCRIPT_RANGES = [(0x0370, 0x03FF), (0x0400, 0x04FF), (0x0590, 0x05FF), (0x0600, 0x06FF), (0x0900, 0x097F),
                 (0x0E00, 0x0E7F), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x3040, 0x30FF)]
RARE_RANGES = [(0x20000, 0x2A6DF), (0x1D400, 0x1D7FF), (0x10000, 0x1007F), (0xE000, 0xF8FF), (0x2800, 0x28FF),
               (0x1F000, 0x1F02B), (0x16A0, 0x16F8), (0x13000, 0x1342E), (0x0300, 0x036F)]


def english_words(rng):
    path = "/usr/share/dict/american-english"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            words = [w.strip() for w in f if w.strip()]
        if words:
            return words
    # No word list: pronounceable made-up words.
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "ing", "ed", "er", "s"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(20000)]


def corpus(out_path, target_bytes, seed):
    """Paragraphs mixing every script, emoji, code and odd whitespace until TARGET_BYTES."""
    rng = random.Random(seed)
    english = english_words(rng)
    word_lists = [FRENCH, GERMAN, VIETNAMESE, GREEK, CYRILLIC, ARABIC, HEBREW, DEVANAGARI, THAI, CJK, HANGUL]

    def scalar(ranges):
        lo, hi = rng.choice(ranges)
        return chr(rng.randint(lo, hi))

    def combining():
        return rng.choice("aeiouncAEIOU") + "".join(chr(rng.randint(0x0300, 0x036F)) for _ in range(rng.randint(1, 3)))

    def piece():
        r = rng.random()
        if r < 0.40:
            return rng.choice(english)
        if r < 0.60:
            return rng.choice(rng.choice(word_lists))
        if r < 0.66:
            return "".join(scalar(SCRIPT_RANGES) for _ in range(rng.randint(1, 6)))
        if r < 0.70:
            return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
        if r < 0.74:
            return str(rng.randint(0, 10 ** rng.randint(1, 9))) + rng.choice(["", ".", ",", "%", ".5"])
        if r < 0.76:
            return rng.choice(CODE)
        if r < 0.79:
            return combining()
        if r < 0.81:
            return "".join(scalar(RARE_RANGES) for _ in range(rng.randint(1, 3)))
        if r < 0.83:
            return rng.choice(["e\u0301", "\u00e9", "n\u0303", "\u212b", "A\u030a", "\ufb01", "\u2581", "\u2581\u2581x", "<s>", "</s>", "<unk>", "<0x41>",
                               "\u0301x", "<s> ", "</s>\u2581", "<s></s>", " \u0301", "\u2581\u0301"])
        if r < 0.86:
            return rng.choice(".,;:!?\"'()[]{}-–—…«»„“”/\\@#$%^&*+=<>|~`")
        return rng.choice(english).capitalize()

    def gap():
        r = rng.random()
        if r < 0.80:
            return " "
        return rng.choice(["  ", "   ", "\t", "\n", "\r\n", " \n", "\n\n", "\t\t", "\u00a0", "\u3000", "", "      "])

    parts = []
    size = 0
    while size < target_bytes:
        paragraph = []
        if rng.random() < 0.1:
            paragraph.append(rng.choice([" ", "  ", "\t", "\n"]))
        for _ in range(rng.randint(5, 80)):
            paragraph.append(piece())
            paragraph.append(gap())
        paragraph.append(rng.choice(["\n", "\n\n", "\r\n", "\n \n"]))
        text = "".join(paragraph)
        parts.append(text)
        size += len(text.encode("utf-8"))
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(parts))


# --- committed fixtures --------------------------------------------------------------------------

FIXTURE_SAMPLES = [
    "Hello world", " Hello  world ", "café cafe\u0301 naïve e\u0301 Ünïcödé", "Ελληνικά русский 中文 한국어 😀👍🏽",
    "<s>Hello</s> world", "a<s>b", "line one\nline two\r\n\ttab", "\u2581already\u2581marked", "", " ",
    "rare: \U00020001 \U0001D400 ☃", "👨‍👩‍👧 and 12345", "helloworldthetokenizeralreadymarked", "linetwotabrareandnaïve",
]


def swift_string(s):
    """A Swift string literal of S: ASCII as is, everything else as \\u{...} escapes."""
    out = []
    for c in s:
        if c in "\\\"":
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append("\\u{%X}" % ord(c))
    return '"' + "".join(out) + '"'


def fixtures(out_swift):
    """Five small tokenizer.json files and `tokenizers`' ids for FIXTURE_SAMPLES."""
    import tempfile
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "corpus.txt")
        words = ["hello", "world", "the", "tokenizer", "line", "one", "two", "marked", "already", "café", "cafe\u0301", "naïve",
                 "Hello", "a", "b", "tab", "rare", "and"]
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(400):
                f.write(" ".join(rng.choice(words) for _ in range(12)) + "\n")
        trained = train_spm(path, 330, 40)
        out = ["// Generated by `python3 interop.py fixtures SentencePieceFixtures.swift` (Tests/TokenizationTests);",
               "// do not edit. Five small SentencePiece-style tokenizer.json files and the ids the Python",
               f"// `tokenizers` package ({__import__('tokenizers').__version__}) gives for each sample text:",
               "// special = with <s> </s> <unk> recognised, plain = without.", "",
               "enum SentencePieceFixtures {",
               "    struct Case { var text: String; var special: [Int32]; var plain: [Int32]; var decoded: String }", ""]
        samples_swift = ",\n".join("        " + swift_string(t) for t in FIXTURE_SAMPLES)
        out.append("    static let samples: [String] = [\n" + samples_swift + ",\n    ]\n")
        for layout, name in [("legacy", "legacy"), ("metaspace-first", "metaspace"), ("metaspace-unk", "unk"),
                             ("duplicate-merge", "duplicateMerge"), ("ignore-merges", "ignoreMerges")]:
            if layout == "ignore-merges":
                # Metaspace first with split = true, and ignore_merges: a word in the vocabulary
                # is that token.
                doc = json.loads(spm_json(trained, "metaspace-first"))
                doc["pre_tokenizer"]["split"] = True
                doc["model"]["ignore_merges"] = True
                text = json.dumps(doc, ensure_ascii=False)
            elif layout == "duplicate-merge":
                # A merge listed twice: `tokenizers` ranks the pair by its later place.
                # The first merge whose repetition changes the ids of a sample.
                doc = json.loads(spm_json(trained, "metaspace-first"))
                base = Tokenizer.from_str(json.dumps(doc, ensure_ascii=False))
                for merge in doc["model"]["merges"]:
                    doc["model"]["merges"].append(merge)
                    text = json.dumps(doc, ensure_ascii=False)
                    changed = Tokenizer.from_str(text)
                    if any(changed.encode(t).ids != base.encode(t).ids for t in FIXTURE_SAMPLES):
                        break
                    doc["model"]["merges"].pop()
            else:
                text = spm_json(trained, layout)
            tok = Tokenizer.from_str(text)
            out.append(f"    /// Layout {layout}.")
            out.append(f"    static let {name}JSON = #\"\"\"\n{text}\n\"\"\"#\n")
            cases = []
            for t in FIXTURE_SAMPLES:
                tok.encode_special_tokens = False
                special = tok.encode(t, add_special_tokens=False).ids
                tok.encode_special_tokens = True
                plain = tok.encode(t, add_special_tokens=False).ids
                decoded = tok.decode(special, skip_special_tokens=False)
                cases.append(f"        Case(text: {swift_string(t)}, special: {special}, plain: {plain}, decoded: {swift_string(decoded)})")
            out.append(f"    static let {name}Cases: [Case] = [\n" + ",\n".join(cases) + ",\n    ]\n")
        out.append("}\n")
    with open(out_swift, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        encode(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "encode-each":
        encode_each(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "train-spm":
        with open(sys.argv[5], "w", encoding="utf-8") as f:
            f.write(spm_json(train_spm(sys.argv[3], int(sys.argv[4]), 400), sys.argv[2]))
    elif sys.argv[1] == "corpus":
        corpus(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
