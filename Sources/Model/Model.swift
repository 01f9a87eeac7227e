// Model: the Llama-style transformer.
