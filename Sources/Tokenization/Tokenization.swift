// Tokenization: byte-level BPE, SentencePiece-style BPE (loaded only), and the chat format
// (DESIGN.md §4).
//
// What this module is:
//   SpecialToken.swift       the twelve atomic chat tokens and their fixed id order
//   PreTokenizer.swift       the split into pieces (GPT-2, Llama 3, Qwen2 = Ponder patterns)
//   Tokenizer.swift          encode / decode (Int32 ids), piece cache, errors
//   SentencePieceBPE.swift   the character-level BPE of Llama 2 / Mistral files: byte fallback,
//                            Metaspace, Prepend/Replace normalizers, their decoders
//   BPETrainer.swift         training from a corpus, incremental pair counts, deterministic ties
//   TokenizerJSON.swift      Hugging Face tokenizer.json, save and load
//   SentencePieceJSON.swift  loading SentencePiece-style tokenizer.json (saving writes it back)
//   StreamingDecoder.swift   token-by-token text output that never splits a character
//   ChatFormat.swift         Conversation -> (ids, loss mask), prompt for sampling, parser back
//   ChatTemplate.swift       the turn formats of Hub families (ChatML, Llama 3, Llama 2),
//                            recognised from a checkpoint's chat template; render, mask, parse
//   TokenizerBenchmark.swift the figures `ponder bench` prints, on a seeded synthetic corpus
//
// Choices, in one place:
//   - Ids are Int32 (what the model consumes). A Ponder vocabulary is bytes (ids 0-255, id =
//     byte), then one token per merge, then the special tokens; vocabSize counts all of them.
//   - Every digit is its own pre-token (the Qwen2 split), so numbers never merge.
//   - A rendered conversation starts with <|endoftext|> as its beginning-of-sequence token
//     (in Ponder's format; a Hub family's format starts as its template does).
//   - The loss mask is [Float] (1 = learn, 0 = context), ready to multiply per-token losses.
//   - encode never adds BOS/EOS on its own; callers (the chat format, the pretraining packer)
//     place <|endoftext|> where they want it.
//
// What it is not: no Unigram or WordPiece models, no BPE dropout, no training of
// SentencePiece-style tokenizers (they are loaded from a checkpoint's tokenizer.json), no
// normalizers beyond NFC (byte-level) and Prepend/Replace (SentencePiece-style); loading such a
// tokenizer.json fails with an error that names the feature.
