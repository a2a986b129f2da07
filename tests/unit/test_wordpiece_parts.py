"""wordpiece_parts: MiniLM's tokenizer rebuilt from its vocabulary file and the rest of its JSON gives the same
ids, type ids, tokens and offsets as tokenizer.json on every kind of text; the parts are written only where
they rebuild the tokenizer exactly, used only when the image build's record vouches for them, and anything
else loads tokenizer.json as before."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle, minilm_tokenizer_json
from tokenizers import Tokenizer, models, pre_tokenizers

from edge_encoders import Embedder, Reranker, load_cache, wordpiece_parts
from edge_encoders.manifest import read_manifest
from edge_encoders.text_tokenizer import TextTokenizer, TokenizerCache

DATA = Path(__file__).resolve().parents[2] / "data" / "validation"


def _texts() -> list[str]:
    """The shipped validation texts and hostile ones: accents, CJK, emoji, control and zero-width characters,
    words past WordPiece's 100-character limit, the special tokens written out, whitespace only."""
    texts = list(json.loads((DATA / "embed_texts.json").read_text()))
    for item in json.loads((DATA / "rerank.json").read_text()):
        texts.extend([item["query"], *item["passages"]])
    pieces = ["naïve", "Ærøskøbing", "e\u0301", "a\u0308\u0301", "中文字符", "日本語の文", "한국어", "🙂", "ﬁ", "Ⅻ"]
    pieces += ["👩\u200d👩\u200d👧", "ÉCOLE", "İstanbul", "ß", "مرحبا"]
    pieces += ["\x00", "\x07", "\u200b", "\u00a0", "\u3000", "\ufeff", "\t\n", "x" * 101, "y" * 100, "3.14159"]
    pieces += ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "##ing", "don't"]
    rng = random.Random(11)
    texts += [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(150)]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(50)]
    return [*texts, *pieces, "", " ", "supercalifragilistic" * 40]


def _same(a: Tokenizer, b: Tokenizer, texts: list[str]) -> None:
    for special in (True, False):
        for x, y in zip(
            a.encode_batch(texts, add_special_tokens=special),
            b.encode_batch(texts, add_special_tokens=special),
            strict=True,
        ):
            assert (x.ids, x.type_ids, x.tokens, x.offsets) == (y.ids, y.type_ids, y.tokens, y.offsets)
    pairs = list(zip(texts[::2], texts[1::2], strict=False))
    for x, y in zip(a.encode_batch(pairs), b.encode_batch(pairs), strict=True):
        assert (x.ids, x.type_ids, x.offsets) == (y.ids, y.type_ids, y.offsets)


@pytest.fixture(scope="module")
def minilm_parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("parts")
    parts = wordpiece_parts.write(minilm_tokenizer_json(), folder)
    assert parts is not None
    return parts


def test_parts_rebuild_minilm_token_for_token(minilm_parts: tuple[Path, Path]) -> None:
    whole = Tokenizer.from_file(str(minilm_tokenizer_json()))
    whole.no_truncation()  # the parts leave both out: TextTokenizer sets them from the manifest
    whole.no_padding()
    rebuilt = wordpiece_parts.load(*minilm_parts)
    assert rebuilt.to_str() == whole.to_str()
    assert rebuilt.get_vocab_size() == whole.get_vocab_size() == 30522
    _same(rebuilt, whole, _texts())


def test_text_tokenizer_from_parts_encodes_the_same(minilm_parts: tuple[Path, Path]) -> None:
    """Through TextTokenizer (truncation, prefix tokenization of long texts, pairs), with a short limit."""
    texts = _texts()
    a = TextTokenizer(minilm_tokenizer_json(), 24, parts=minilm_parts)
    b = TextTokenizer(minilm_tokenizer_json(), 24)
    for x, y in zip(a.encode(texts, truncate=True), b.encode(texts, truncate=True), strict=True):
        assert (x.ids, x.type_ids) == (y.ids, y.type_ids)
    pairs = [(texts[0], t) for t in texts[:80]]
    for x, y in zip(a.encode_pairs(pairs, truncate=True), b.encode_pairs(pairs, truncate=True), strict=True):
        assert (x.ids, x.type_ids) == (y.ids, y.type_ids)
    assert (a.pad_id, a.single_room, a.pair_room) == (b.pad_id, b.single_room, b.pair_room)


def _with_vocab(tmp_path: Path, vocab: dict[str, int]) -> Path:
    config = json.loads(minilm_tokenizer_json().read_text(encoding="utf-8"))
    config["model"]["vocab"] = vocab
    config["added_tokens"] = []
    config["post_processor"] = None
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "vocab",
    [
        {"[UNK]": 0, "a": 1, "b": 3},  # a gap in the ids
        {"[UNK]": 0, "a\nb": 1},  # a line break inside a token
        {"[UNK]": 0, "a ": 1},  # trailing whitespace, stripped on reading
    ],
    ids=["gap", "line break", "trailing space"],
)
def test_a_vocabulary_the_file_format_cannot_hold_gets_no_parts(tmp_path: Path, vocab: dict[str, int]) -> None:
    source = _with_vocab(tmp_path, vocab)
    assert wordpiece_parts.write(source, tmp_path / "out") is None
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_small_exact_vocabulary_gets_parts(tmp_path: Path) -> None:
    """The refusals above are about those vocabularies, not about small ones."""
    source = _with_vocab(tmp_path, {"[UNK]": 0, "a": 1, "##b": 2, "é": 3})
    parts = wordpiece_parts.write(source, tmp_path / "out")
    assert parts is not None
    whole = Tokenizer.from_file(str(source))
    whole.no_truncation()
    whole.no_padding()
    _same(wordpiece_parts.load(*parts), whole, ["ab", "a b é", "zz"])


def test_another_model_type_gets_no_parts(tmp_path: Path) -> None:
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    source = tmp_path / "tokenizer.json"
    tok.save(str(source))
    assert wordpiece_parts.write(source, tmp_path / "out") is None


def test_parts_whose_added_tokens_miss_their_ids_are_refused(minilm_parts: tuple[Path, Path], tmp_path: Path) -> None:
    vocab, rest = minilm_parts
    lines = vocab.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]  # [PAD] no longer at id 0
    moved = tmp_path / vocab.name
    moved.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[PAD\]"):
        wordpiece_parts.load(moved, rest)


def test_unloadable_parts_fall_back_to_tokenizer_json(
    minilm_parts: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rest = tmp_path / "rest.json"
    rest.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="edge_encoders"):
        tok = TextTokenizer(minilm_tokenizer_json(), 32, parts=(minilm_parts[0], rest))
    assert "cannot load the tokenizer from" in caplog.text
    assert tok.encode(["hello world"], truncate=True)[0].ids == [101, 7592, 2088, 102]


def test_image_build_records_the_parts_and_bundles_load_them(tmp_path: Path) -> None:
    plain = make_toy_embed_bundle(tmp_path / "plain")[0]
    built = make_toy_embed_bundle(tmp_path / "built")[0]
    load_cache.build(built)
    manifest = read_manifest(built)
    parts = load_cache.tokenizer_parts(built, manifest, verify=True)
    assert parts is not None and all(p.parent == built / load_cache.CACHE_DIR for p in parts)
    assert load_cache.tokenizer_parts(plain, read_manifest(plain), verify=True) is None
    texts = [t for t in _texts()[:64] if t.strip()]
    np.testing.assert_array_equal(Embedder.from_bundle(built).embed(texts), Embedder.from_bundle(plain).embed(texts))
    cache = TokenizerCache()
    reranker_dir = make_toy_rerank_bundle(tmp_path / "rerank")[0]
    load_cache.build(reranker_dir)
    a = Embedder.from_bundle(built, tokenizers=cache)
    b = Reranker.from_bundle(reranker_dir, tokenizers=cache)
    assert a.tokenizer is b.tokenizer and len(cache) == 1


@pytest.mark.parametrize("damage", ["vocab truncated", "vocab altered", "rest altered", "stale record", "old record"])
def test_damaged_or_stale_parts_are_not_used(tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    bundle = make_toy_embed_bundle(tmp_path / "b")[0]
    load_cache.build(bundle)
    manifest = read_manifest(bundle)
    vocab, rest = load_cache.tokenizer_parts(bundle, manifest, verify=True) or pytest.fail("no parts written")
    record_path = bundle / load_cache.CACHE_DIR / "tokenizer.json.content.json"
    record = json.loads(record_path.read_text())
    if damage == "vocab truncated":
        vocab.write_bytes(vocab.read_bytes()[:-100])
    elif damage.endswith("altered"):  # same size, other bytes: only the sha256 check (verify=True) can tell
        target = vocab if damage.startswith("vocab") else rest
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    elif damage == "stale record":
        record["source_sha256"] = "0" * 64
    else:  # written by an image build before the parts existed
        del record["parts"]
    record_path.write_text(json.dumps(record))
    assert load_cache.tokenizer_parts(bundle, manifest, verify=True) is None
    if damage.endswith("truncated"):
        assert "not using the split tokenizer" in caplog.text
        assert load_cache.tokenizer_parts(bundle, manifest, verify=False) is None
    texts = ["hello world", "naïve 中文 🙂"]
    plain = make_toy_embed_bundle(tmp_path / "plain")[0]
    np.testing.assert_array_equal(Embedder.from_bundle(bundle).embed(texts), Embedder.from_bundle(plain).embed(texts))
