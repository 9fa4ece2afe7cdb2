"""Train the small world's byte-level BPE tokenizer (``python -m courselib.world.tokenizer``).

Byte-level BPE as in GPT-2, with one change for arithmetic: digits are always split into
single tokens, so ``1642`` is ``1 6 4 2`` and the model can learn place value. Two special
tokens: ``<|endoftext|>`` (end of a dialogue; also used as BOS/UNK, as in GPT-2) and
``<|pad|>`` (padding). Saved as a ``PreTrainedTokenizerFast`` folder that
``transformers.AutoTokenizer.from_pretrained(folder)`` loads offline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from courselib.world.data import load_split
from courselib.world.world import EOS_TOKEN, PAD_TOKEN, TOWNS

TOKENIZER_DIR = Path(__file__).resolve().parents[2] / "datasets" / "tokenizer"
VOCAB_SIZE = 1024
MODEL_MAX_LENGTH = 256


def training_texts() -> list[str]:
    """The corpus the tokenizer learns from: every training dialogue plus the town table."""
    texts = [rec["text"].replace(EOS_TOKEN, "") for rec in load_split("train")]
    texts += [" ".join(str(v) for v in town.values()) for town in TOWNS]
    return texts


def train_tokenizer(vocab_size: int = VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """Train byte-level BPE on the world (deterministic) and wrap it for transformers."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_texts(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=MODEL_MAX_LENGTH,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=TOKENIZER_DIR)
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    args = parser.parse_args()
    tokenizer = train_tokenizer(args.vocab_size)
    tokenizer.save_pretrained(args.out)
    print(f"vocab size {len(tokenizer)}; saved to {args.out}")


if __name__ == "__main__":
    main()
