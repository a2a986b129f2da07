"""Prefix tokenization keeps exactly the tokens whole-text tokenization keeps, token for token.

Checked on the shipped validation texts and on adversarial ones (very long words, whitespace runs, CJK, emoji,
combining marks, control characters), with the real MiniLM tokenizer (BERT family) and with byte-level BPE and
metaspace Unigram tokenizers trained here on the validation texts.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers.toy_bundles import minilm_tokenizer_json
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from edge_encoders.prefix_tokenize import PrefixTokenizer, outline, rule_for, untruncated
from edge_encoders.text_tokenizer import TextTokenizer

DATA = Path(__file__).resolve().parents[2] / "data" / "validation"


def _validation_texts() -> list[str]:
    texts = list(json.loads((DATA / "embed_texts.json").read_text()))
    for item in json.loads((DATA / "rerank.json").read_text()):
        texts.append(item["query"])
        texts.extend(item["passages"])
    return texts


def _adversarial() -> list[str]:
    rng = random.Random(7)
    pieces = [
        "word",
        "x" * 150,
        "   ",
        "\t\n",
        "中文字符",
        "日本語の文",
        "🙂",
        "👩‍👩‍👧",
        "e\u0301",
        "a\u0308\u0301",
        "\u00a0",
    ]
    pieces += ["naïve", "[SEP]", "[MASK]", "don't", "3.14159", "\x00", "\u200b", "ﬁ", "Ⅻ", "\u3000", "-", "..."]
    mixed = [" ".join(rng.choice(pieces) for _ in range(rng.randint(50, 400))) for _ in range(20)]
    glued = ["".join(rng.choice(pieces) for _ in range(rng.randint(100, 600))) for _ in range(10)]
    return [
        "a" * 50_000,  # one very long word
        "supercalifragilistic" * 3000,
        " " * 20_000 + "tail",
        "a" + " " * 30_000 + "b c d",
        "word " * 5000,
        "中" * 30_000,
        "中文 " * 5000,
        "🙂" * 20_000,
        "e\u0301" * 20_000,
        "x" + "\u0301" * 20_000,
        ("the quick brown fox " * 200) + "\u0301" * 100,
        "\n" * 10_000 + "end",
        "ab " * 10 + "c" * 40_000 + " d" * 300,
        *mixed,
        *glued,
    ]


def _bpe_tokenizer(texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts, trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    return tok


def _unigram_tokenizer(texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=400, unk_token="<unk>", special_tokens=["<unk>"]))
    return tok


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return _validation_texts() + _adversarial()


@pytest.fixture(scope="module", params=["minilm", "bytelevel-bpe", "metaspace-unigram"])
def tokenizer(request, corpus) -> Tokenizer:
    if request.param == "minilm":
        return Tokenizer.from_file(str(minilm_tokenizer_json()))
    plain = _validation_texts()
    return _bpe_tokenizer(plain) if request.param == "bytelevel-bpe" else _unigram_tokenizer(plain)


def test_every_family_here_is_bounded(tokenizer) -> None:
    assert PrefixTokenizer(tokenizer).bounded


@pytest.mark.parametrize("n", [1, 7, 127, 255, 511])
def test_first_tokens_equal_whole_text_tokens(tokenizer, corpus, n) -> None:
    whole = Tokenizer.from_str(tokenizer.to_str())
    whole.no_truncation()
    whole.no_padding()
    prefix = PrefixTokenizer(tokenizer)
    got = prefix.first_tokens(corpus, n)
    for text, enc in zip(corpus, got, strict=True):
        want = whole.encode(text, add_special_tokens=False)
        assert enc.ids == want.ids[:n], text[:80]
        assert enc.offsets == want.offsets[:n], text[:80]


def test_head_is_prepended_lazily(tokenizer) -> None:
    whole = Tokenizer.from_str(tokenizer.to_str())
    whole.no_truncation()
    head = "query: " + "prompt words " * 3000
    texts = ["cats", "dogs and more dogs " * 100]
    got = PrefixTokenizer(tokenizer).first_tokens(texts, 300, head=head)
    for text, enc in zip(texts, got, strict=True):
        assert enc.ids == whole.encode(head + text, add_special_tokens=False).ids[:300]


def _bundle_tokenizer(tmp_path: Path, max_seq_length: int) -> tuple[TextTokenizer, Tokenizer]:
    ours = TextTokenizer(minilm_tokenizer_json(), max_seq_length)
    reference = Tokenizer.from_file(str(minilm_tokenizer_json()))
    reference.no_padding()
    reference.enable_truncation(max_length=max_seq_length, strategy="longest_first")
    return ours, reference


@pytest.mark.parametrize("max_seq_length", [16, 256])
def test_text_tokenizer_singles_and_pairs_match_tokenizers(tmp_path, corpus, max_seq_length) -> None:
    ours, reference = _bundle_tokenizer(tmp_path, max_seq_length)
    singles = ours.encode(corpus, truncate=True)
    for text, enc in zip(corpus, singles, strict=True):
        want = reference.encode(text)
        assert (enc.ids, enc.type_ids, enc.attention_mask) == (want.ids, want.type_ids, want.attention_mask)
    for head in ("query: ", "a long instruction prompt " * 40):
        for text, enc in zip(corpus, ours.encode(corpus, truncate=True, head=head), strict=True):
            assert enc.ids == reference.encode(head + text).ids, (head[:20], text[:40])
    rng = random.Random(3)
    # both sides over the room with an odd room: the longer side keeps the extra token
    queries = [rng.choice(corpus) for _ in range(6)] + ["short query", "", "x" * 5000, "long query " * 300]
    for query in queries:
        docs = [rng.choice(corpus) for _ in range(15)] + ["a", "", "d " * 200, "d " * 599, "d " * 600, "d " * 700]
        got = ours.encode_pairs([(query, d) for d in docs], truncate=True)
        for doc, enc in zip(docs, got, strict=True):
            want = reference.encode(query, doc)
            assert (enc.ids, enc.type_ids) == (want.ids, want.type_ids), (query[:40], doc[:40])


def test_untruncatable_tokenizers_fall_back_to_whole_text() -> None:
    base = json.loads(Tokenizer.from_file(str(minilm_tokenizer_json())).to_str())
    assert rule_for(base) is not None
    replace = {**base, "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "_"}}
    assert rule_for(replace) is None
    spaced = {**base, "added_tokens": [*base["added_tokens"], {**base["added_tokens"][0], "content": "new york"}]}
    assert rule_for(spaced) is None
    split_off = {**base, "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "split": False}}
    assert rule_for(split_off) is None
    fallback = PrefixTokenizer(Tokenizer.from_str(json.dumps(replace)))
    assert not fallback.bounded
    whole = Tokenizer.from_str(json.dumps(replace))
    text = "some words " * 400
    assert fallback.first_tokens([text], 50)[0].ids == whole.encode(text, add_special_tokens=False).ids[:50]


@pytest.mark.parametrize("n", [16, 255])
def test_lower_bounds_never_exceed_the_real_count(tokenizer, corpus, n: int) -> None:
    whole = Tokenizer.from_str(tokenizer.to_str())
    whole.no_truncation()
    prefix = PrefixTokenizer(tokenizer)
    bounds = prefix.lower_bounds(corpus, n, head="q: ")
    assert bounds is not None
    for text, bound in zip(corpus, bounds, strict=True):
        assert bound <= min(n, len(whole.encode("q: " + text, add_special_tokens=False).ids)), text[:60]


def test_lower_bounds_are_not_vacuous_on_plain_prose(tokenizer) -> None:
    prefix = PrefixTokenizer(tokenizer)
    assert prefix.lower_bounds(["many plain words here " * 100], 255) == [255]


def test_scan_limit_keeps_inputs_with_a_boundary_exact(tokenizer) -> None:
    whole = Tokenizer.from_str(tokenizer.to_str())
    whole.no_truncation()
    ok = "plain words " * 20_000
    got = PrefixTokenizer(tokenizer).first_tokens([ok], 256, max_chars=65536)[0]
    assert got.ids == whole.encode(ok, add_special_tokens=False).ids[:256]


@pytest.mark.parametrize("junk", ["a" * 200_000, "a" + " " * 200_000 + "b"], ids=["one-word", "spaces-only"])
def test_scan_limit_refuses_inputs_without_a_boundary(tokenizer, junk: str) -> None:
    from edge_encoders import UnboundedInputError

    with pytest.raises(UnboundedInputError) as info:
        PrefixTokenizer(tokenizer).first_tokens(["plain words " * 20_000, junk], 256, max_chars=65536)
    assert info.value.index == 1 and "65536 characters" in info.value.message


def _round_trip_untruncated(tok: Tokenizer) -> dict[str, object]:
    """What the untruncated tokenizer must be: the tokenizer's JSON without truncation, padding, post-processor."""
    config = json.loads(tok.to_str())
    config.update(truncation=None, padding=None, post_processor=None)
    round_trip: dict[str, object] = json.loads(Tokenizer.from_str(json.dumps(config)).to_str())
    return round_trip


def test_the_untruncated_tokenizer_is_the_json_round_trip(tokenizer: Tokenizer) -> None:
    tok = Tokenizer.from_str(tokenizer.to_str())  # a copy: the fixture is shared
    tok.enable_truncation(max_length=32)
    tok.enable_padding(length=40)
    raw = untruncated(tok)
    assert json.loads(raw.to_str()) == _round_trip_untruncated(tok)
    assert raw.truncation is None and raw.padding is None and raw.post_processor is None
    assert tok.truncation is not None and tok.padding is not None  # the original is left as it was
    text = "[SEP] some words, " * 40 + "[MASK]"
    assert raw.encode(text, add_special_tokens=False).ids == _whole_ids(tok, text)


def _whole_ids(tok: Tokenizer, text: str) -> list[int]:
    plain = Tokenizer.from_str(tok.to_str())
    plain.no_truncation()
    plain.no_padding()
    return plain.encode(text, add_special_tokens=False).ids


def test_added_tokens_not_reproduced_fall_back_to_the_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where adding the tokens again does not give the same added vocabulary (simulated: the rebuilt tokenizer
    starts with a stray token), the untruncated tokenizer is parsed from the JSON instead."""
    from edge_encoders import prefix_tokenize

    class StrayTokenizer:
        from_str = staticmethod(Tokenizer.from_str)

        def __new__(cls, model: models.Model) -> Tokenizer:
            made = Tokenizer(model)
            made.add_special_tokens(["<stray>"])
            return made

    monkeypatch.setattr(prefix_tokenize, "Tokenizer", StrayTokenizer)
    tok = Tokenizer.from_file(str(minilm_tokenizer_json()))
    raw = untruncated(tok)
    assert raw.token_to_id("<stray>") is None
    assert json.loads(raw.to_str()) == _round_trip_untruncated(tok)


def test_the_outline_is_what_the_json_says(tokenizer: Tokenizer) -> None:
    full = json.loads(tokenizer.to_str())
    parts = outline(tokenizer)
    assert parts["model"] == {"type": full["model"]["type"]}
    assert (parts["normalizer"], parts["pre_tokenizer"]) == (full["normalizer"], full["pre_tokenizer"])
    assert parts["added_tokens"] == [{"content": t["content"]} for t in full["added_tokens"]]
    assert (rule_for(parts) is None) == (rule_for(full) is None)
    if rule_for(full) is not None:
        assert rule_for(parts) == rule_for(full)
