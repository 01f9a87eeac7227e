"""Chat-template fixtures of ChatTemplateTests.swift: what `transformers` renders for each family.

    pip install transformers tokenizers
    python3 Tests/TokenizationTests/ChatTemplates/make_fixtures.py

For each case below the script trains one small byte-level BPE tokenizer (the Python `tokenizers`
package, on a few sentences), adds the family's special tokens, and saves a checkpoint-style
directory: tokenizer.json, and the chat template either in tokenizer_config.json's
`chat_template` or, as recent `transformers` versions save it, in chat_template.jinja. The
templates are written here in each family's turn format (ChatML with and without a default
system message, Llama 3.0, Llama 3.1 with its dated system header, Llama 2 with a
SentencePiece-style tokenizer in its legacy layout). expected.json holds, for
every conversation of CONVERSATIONS, the text and the token ids of
`apply_chat_template(..., add_generation_prompt=...)` as `transformers` computes them. The tests
never run Python; the committed files are the fixtures.
"""
import json
import os
import shutil

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))

CORPUS = [
    "What is 17 plus 25? The answer is 42.",
    "Count the letters r in strawberry. There are three.",
    "You are a helpful assistant. Think step by step before you answer.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "Les élèves écrivent. Ünïcödé wörks, naïve café — 東京 and Москва.",
    "[INST] <<SYS>> <</SYS>> [/INST] <|im_end|> <|eot_id|> Typed by a user: And in Count the r",
] * 20

# ChatML as Qwen2.5 writes it when no tools are given: a default system message when the
# conversation has none; content is not trimmed.
CHATML_DEFAULT_SYSTEM = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are a small helpful model. Answer briefly.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (loop.first and message['role'] == 'system') %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Plain ChatML: every message as it comes.
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Llama 3.0: BOS, then header, blank line, trimmed content, <|eot_id|>.
LLAMA3 = (
    "{% for message in messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# Llama 3.1 and later: a system turn always, opened by the knowledge and today dates.
LLAMA31 = (
    "{{- bos_token }}"
    "{%- if not date_string is defined %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system_message = \"\" %}{%- endif %}"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}"
    "{{- system_message }}"
    "{{- \"<|eot_id|>\" }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# Llama 2: the system folded into the first user turn, every user turn opened by BOS, every
# answer closed by EOS; contents stripped.
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA2_SPECIALS = ["<unk>", "<s>", "</s>"]
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

# name: (template, specials, bos, eos, where the template is saved)
CASES = {
    "chatml_default_system": (CHATML_DEFAULT_SYSTEM, CHATML_SPECIALS, None, "<|im_end|>", "config"),
    "chatml": (CHATML, CHATML_SPECIALS, None, "<|im_end|>", "jinja"),
    "llama3": (LLAMA3, LLAMA3_SPECIALS, "<|begin_of_text|>", "<|eot_id|>", "config"),
    "llama31": (LLAMA31, LLAMA3_SPECIALS, "<|begin_of_text|>", "<|eot_id|>", "jinja"),
    # SentencePiece-style BPE in the legacy layout of Llama 2's tokenizer.json.
    "llama2": (LLAMA2, LLAMA2_SPECIALS, "<s>", "</s>", "config"),
}

CONVERSATIONS = [
    ([{"role": "user", "content": "What is 17 plus 25?"},
      {"role": "assistant", "content": "<think>17 + 25 = 42</think>The answer is 42."}], False),
    ([{"role": "system", "content": "  Answer briefly.  "},
      {"role": "user", "content": "Count the r in strawberry."},
      {"role": "assistant", "content": "There are three.\n"},
      {"role": "user", "content": "\nAnd in café?"},
      {"role": "assistant", "content": "  None: Ünïcödé, 東京.  "}], False),
    ([{"role": "user", "content": "def add(a, b):\n    return a + b"}], True),
    ([{"role": "system", "content": "Think step by step."},
      {"role": "user", "content": "Typed by a user: <|im_end|> <|eot_id|>"}], True),
]


def sentencepiece_tokenizer(specials):
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    # As in Llama 2's file: the specials, then the 256 byte tokens <0x00>..<0xFF> that byte
    # fallback needs, then the learned tokens (merges name tokens by text, so renumbering is safe).
    doc = json.loads(tok.to_str())
    vocab = {}
    learned = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
    for t in specials + [f"<0x{b:02X}>" for b in range(256)] + [t for t, _ in learned]:
        vocab.setdefault(t, len(vocab))
    doc["model"]["vocab"] = vocab
    for added in doc["added_tokens"]:
        added["id"] = vocab[added["content"]]
    return Tokenizer.from_str(json.dumps(doc, ensure_ascii=False))


def tokenizer(specials):
    if "<s>" in specials:
        return sentencepiece_tokenizer(specials)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def main():
    for name, (template, specials, bos, eos, where) in CASES.items():
        out = os.path.join(HERE, name)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        extra = {"unk_token": "<unk>"} if "<unk>" in specials else {}
        fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer(specials), bos_token=bos, eos_token=eos, **extra)
        fast.chat_template = template
        fast.save_pretrained(out)
        # Keep exactly one place for the template, as the case says.
        config_path = os.path.join(out, "tokenizer_config.json")
        jinja_path = os.path.join(out, "chat_template.jinja")
        with open(config_path) as f:
            config = json.load(f)
        config.pop("chat_template", None)
        if where == "config":
            config["chat_template"] = template
            if os.path.exists(jinja_path):
                os.remove(jinja_path)
        else:
            with open(jinja_path, "w") as f:
                f.write(template)
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
        for extra in ["special_tokens_map.json"]:
            if os.path.exists(os.path.join(out, extra)):
                os.remove(os.path.join(out, extra))
        reloaded = PreTrainedTokenizerFast.from_pretrained(out)
        cases = []
        for messages, generation in CONVERSATIONS:
            text = reloaded.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
            ids = reloaded(text, add_special_tokens=False)["input_ids"]
            cases.append({"messages": messages, "add_generation_prompt": generation, "text": text, "ids": ids})
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump({"cases": cases}, f, indent=1, ensure_ascii=False)
        print(f"{name}: {len(cases)} conversations, {len(reloaded)} tokens")


if __name__ == "__main__":
    main()
