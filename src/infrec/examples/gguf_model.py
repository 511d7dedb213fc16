"""A small Llama model in GGUF with random weights, made on the spot: the test and bench model of
`infrec/llamacpp`, so nothing is downloaded from a model hub at run time.

It is a real Llama graph (token embedding, RMS norms, rotary attention, SwiGLU feed-forward,
output head), so llama.cpp spends real CPU per token in proportion to its size — what a thread
setting changes — while its text is nonsense. Its vocabulary is SentencePiece-style: control
tokens, the 256 byte tokens every SPM vocabulary falls back to, and `WORDS` words ``▁w<k>``. The
output head gives every word a large-norm row and the control and byte tokens a zero row, so a
sampled answer is words only (whole tokens, valid UTF-8) and never ends early at the end-of-text
token: answers run to ``max_tokens``, as a token benchmark needs.

Standalone on purpose (needs only `numpy` and `gguf`, no infrec): it runs in the engine's own
environment (`make llamacpp`). ``python gguf_model.py OUT.gguf [--embd 512 --layers 4 ...]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

WORDS = 512
CONTROL = ("<unk>", "<s>", "</s>")
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_BYTE = 1, 2, 3, 6


def build(path: Path, embd: int = 512, layers: int = 4, heads: int = 8, ff: int = 1536, context: int = 2048,
          seed: int = 0) -> Path:
    """Write the model to `path` (float32 weights); returns `path`."""
    import gguf
    import numpy as np

    if embd % heads:
        raise ValueError(f"--embd {embd} must be a multiple of --heads {heads}")
    rng = np.random.default_rng(seed)
    tokens = [*CONTROL, *(f"<0x{b:02X}>" for b in range(256)), *(f"\u2581w{k}" for k in range(WORDS))]
    types = [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL, *([TYPE_BYTE] * 256), *([TYPE_NORMAL] * WORDS)]
    scores = [0.0] * (len(CONTROL) + 256) + [-float(k) for k in range(WORDS)]
    vocab = len(tokens)
    words_from = len(CONTROL) + 256

    def weight(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("infrec-tiny-llama")
    writer.add_context_length(context)
    writer.add_embedding_length(embd)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(embd // heads)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)

    writer.add_tensor("token_embd.weight", weight(vocab, embd) * np.sqrt(embd).astype(np.float32))
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(embd, embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(ff, embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(ff, embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(embd, ff))
    writer.add_tensor("output_norm.weight", np.ones(embd, dtype=np.float32))
    head = np.zeros((vocab, embd), dtype=np.float32)
    head[words_from:] = weight(WORDS, embd) * 8.0     # logits spread wide: words win, specials never
    writer.add_tensor("output.weight", head)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--embd", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--ff", type=int, default=1536)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    build(a.out, a.embd, a.layers, a.heads, a.ff, a.context, a.seed)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
