"""A WordPiece tokenizer.json kept as two files that load faster than it: its vocabulary as text, one token per
line in id order, and the rest of the JSON with an empty vocabulary, without truncation and padding (TextTokenizer
sets both from the manifest).

Why: loading MiniLM's tokenizer.json is mostly building its 30,522-entry vocabulary, and parsing it out of the
JSON first (serde's generic maps) costs about a third on top: measured at a cold start, 14-22 ms of CPU from
tokenizer.json against 11-16 ms from these parts. `tokenizers` reads such a vocabulary file natively
(`WordPiece.from_file`, the format of BERT's vocab.txt); everything else is parsed from the small rest.

The parts are only ever written next to a tokenizer they rebuild exactly: `write` loads them back and compares
the serialized tokenizer with the original's (truncation and padding aside, which TextTokenizer replaces),
and writes nothing when any part differs (a token with a line break or trailing space, gaps in the ids, an
added token the vocabulary does not hold at its id, another model type).
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.models import WordPiece

VOCAB_SUFFIX = ".vocab.txt"
REST_SUFFIX = ".rest.json"


def part_paths(folder: Path, tokenizer_file: str) -> tuple[Path, Path]:
    """Where the vocabulary and the rest of tokenizer_file are written in folder."""
    name = Path(tokenizer_file).name
    return folder / f"{name}{VOCAB_SUFFIX}", folder / f"{name}{REST_SUFFIX}"


def load(vocab: Path, rest: Path) -> Tokenizer:
    """The tokenizer rebuilt from its parts; ValueError when they do not fit together."""
    rest_text = rest.read_text(encoding="utf-8")
    config = json.loads(rest_text)
    skeleton = Tokenizer.from_str(rest_text)  # everything but the vocabulary (its added tokens get other ids)
    model = config["model"]
    tokenizer = Tokenizer(
        WordPiece.from_file(
            str(vocab),
            unk_token=model["unk_token"],
            continuing_subword_prefix=model["continuing_subword_prefix"],
            max_input_chars_per_word=model["max_input_chars_per_word"],
        )
    )
    for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        component = getattr(skeleton, part)
        if component is not None:
            setattr(tokenizer, part, component)
    tokenizer.encode_special_tokens = skeleton.encode_special_tokens
    added = skeleton.get_added_tokens_decoder()
    for index in sorted(added):  # the skeleton numbered them in the file's order
        token = added[index]
        (tokenizer.add_special_tokens if token.special else tokenizer.add_tokens)([token])
    for entry in config.get("added_tokens") or []:
        if tokenizer.token_to_id(entry["content"]) != entry["id"]:
            raise ValueError(f"added token {entry['content']!r} does not get its id {entry['id']} from the vocabulary")
    return tokenizer


def write(tokenizer_json: Path, folder: Path) -> tuple[Path, Path] | None:
    """Write the two parts of tokenizer_json into folder if they rebuild it exactly (the same serialized state,
    truncation and padding aside: text_tokenizer.content_digest); else write nothing."""
    from edge_encoders.text_tokenizer import content_digest  # at build only; text_tokenizer imports this module

    vocab_path, rest_path = part_paths(folder, tokenizer_json.name)
    vocab_path.unlink(missing_ok=True)
    rest_path.unlink(missing_ok=True)
    config = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model = config.get("model") if isinstance(config, dict) else None
    if not isinstance(model, dict) or model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        return None
    vocab: dict[str, int] = model["vocab"]
    ordered = sorted(vocab, key=vocab.__getitem__)
    if [vocab[token] for token in ordered] != list(range(len(ordered))):
        return None  # the file format numbers lines from 0 without gaps
    if any("\n" in token or "\r" in token or token != token.rstrip() for token in ordered):
        return None  # one token per line, trailing whitespace stripped on reading
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path.write_text("".join(f"{token}\n" for token in ordered), encoding="utf-8", newline="\n")
    rest = {**config, "truncation": None, "padding": None, "model": {**model, "vocab": {}}}
    rest_path.write_text(json.dumps(rest, ensure_ascii=False), encoding="utf-8")
    try:
        rebuilt = load(vocab_path, rest_path).to_str()
        same = content_digest(rebuilt) == content_digest(Tokenizer.from_file(str(tokenizer_json)).to_str())
    except Exception:  # parts that do not fit: ValueError, KeyError, or tokenizers' own untyped errors
        same = False
    if not same:
        vocab_path.unlink()
        rest_path.unlink()
        return None
    return vocab_path, rest_path
