// Tokenization: byte-level BPE and the chat format (DESIGN.md §4).
