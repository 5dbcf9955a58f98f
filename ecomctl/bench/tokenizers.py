"""Benchmark/test support: small byte-level tokenizers built in code, so random-weight pipelines need no hub."""

from __future__ import annotations

from typing import Any

QWEN_SPECIALS = ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
                 "<|image_pad|>", "<|video_pad|>")


def _bytes() -> list[str]:
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def clip_tokenizer(max_length: int = 77) -> Any:
    """CLIP BPE tokenizer over the 256 byte symbols (no merges): ids 0..511, bos 512, eos/pad 513."""
    from transformers import CLIPTokenizer

    chars = _bytes()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def qwen_tokenizer() -> Any:
    """Qwen2 BPE tokenizer over byte symbols with the chat/vision special tokens Qwen-Image prompts use."""
    from transformers import Qwen2Tokenizer

    vocab = {c: i for i, c in enumerate(_bytes())}
    vocab["<|endoftext|>"] = len(vocab)
    tok = Qwen2Tokenizer(vocab=vocab, merges=[])
    tok.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIALS)})
    return tok


def t5_tokenizer(max_length: int = 512) -> Any:
    """T5 unigram tokenizer over ASCII letters/digits (enough to exercise FLUX's second text encoder)."""
    from transformers import T5Tokenizer

    symbols = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789▁.,-'"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in symbols]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def qwen_token_ids(tok: Any) -> dict[str, int]:
    ids = tok.convert_tokens_to_ids
    return {"image_token_id": ids("<|image_pad|>"), "video_token_id": ids("<|video_pad|>"),
            "vision_start_token_id": ids("<|vision_start|>"), "vision_end_token_id": ids("<|vision_end|>")}
