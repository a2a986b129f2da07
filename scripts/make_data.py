"""Write the text sets the build ships under data/ from the hand-written material in edge_devtools.texts
(devtools/edge_devtools/texts/).

Deterministic (fixed seed, no model calls): re-running it rewrites byte-identical files. The outputs are
committed; this script only documents how they were put together and lets them be regenerated after an edit.

    .venv/bin/python scripts/make_data.py

Outputs
- data/validation/embed_texts.json  ~200 texts: queries, passages of every length (several beyond 256 tokens),
                                    other languages, code, punctuation, emoji, single characters, numbers, URLs
- data/validation/rerank.json       50 queries x 20 passages: same-topic passages, near-topic hard negatives,
                                    random other topics, long passages (relevant and not)
- data/calibration.txt              ~330 lines for static int8 calibration and int8/uint8 output ranges; no line
                                    equals a validation text (stand-in topics + separate edge cases)
- data/standin/queries.json         80 queries and
- data/standin/passages.json        passages the stand-in reranker is fine-tuned on (topics disjoint from validation)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from edge_devtools.texts.special import CALIBRATION_SPECIAL, VALIDATION_SPECIAL
from edge_devtools.texts.topics_standin import STANDIN_TOPICS
from edge_devtools.texts.topics_validation import VALIDATION_TOPICS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SEED = 20240521


def windows(sentences: list[str], rng: random.Random) -> list[str]:
    """Passages of 1-4 consecutive sentences, so lengths vary from one line to a short paragraph."""
    spans = [(0, 2), (2, 3), (3, 5), (5, 8), (1, 4), (6, 7), (4, 6), (0, 1)]
    out = []
    for start, end in spans:
        out.append(" ".join(sentences[start:end]))
    rng.shuffle(out)
    return out


def long_passage(topic: list[str], other: list[str]) -> str:
    """A page-like passage well past 256 tokens: a whole topic, then unrelated material (like a web page)."""
    return " ".join(topic) + "\n\n" + " ".join(other[:5])


def build_rerank(rng: random.Random) -> tuple[list[dict[str, object]], list[str], list[str]]:
    topics = VALIDATION_TOPICS
    passages_by_topic = {name: windows(sents, rng) for name, _group, sents, _q in topics}
    groups: dict[str, list[str]] = {}
    for name, group, _s, _q in topics:
        groups.setdefault(group, []).append(name)
    longs = {}
    for i, (name, _group, sents, _q) in enumerate(topics):
        other = topics[(i + 7) % len(topics)][2]
        longs[name] = long_passage(sents, other)

    items: list[dict[str, object]] = []
    for name, group, _sents, queries in topics:
        near = [t for t in groups[group] if t != name]
        far = [t for t, g, _s, _q in topics if g != group]
        for q_index, query in enumerate(queries):
            own = passages_by_topic[name]
            chosen = own[0:5] if q_index == 0 else own[3:8]  # same-topic passages, overlapping sets
            hard = [rng.choice(passages_by_topic[t]) for t in rng.sample(near, min(2, len(near)))]
            rest = [rng.choice(passages_by_topic[t]) for t in rng.sample(far, 11)]
            long_other = longs[rng.choice(far)]
            passages = [*chosen, *hard, *rest, longs[name], long_other]
            passages = list(dict.fromkeys(passages))
            while len(passages) < 20:
                extra = rng.choice(passages_by_topic[rng.choice(far)])
                if extra not in passages:
                    passages.append(extra)
            rng.shuffle(passages)
            items.append({"query": query, "passages": passages[:20]})
    all_passages = [p for name in passages_by_topic for p in passages_by_topic[name]]
    return items, all_passages, list(longs.values())


def build_embed_texts(
    rng: random.Random, rerank: list[dict[str, object]], passages: list[str], longs: list[str]
) -> list[str]:
    queries = [str(item["query"]) for item in rerank]
    short = [s for _n, _g, sents, _q in VALIDATION_TOPICS for s in sents]
    texts: list[str] = []
    texts += queries  # 50 queries
    texts += rng.sample(short, 30)  # single sentences
    texts += rng.sample(passages, 30)  # 1-4 sentence passages
    texts += longs[:8]  # ~300-400 tokens: beyond max_seq_length 256
    everything = " ".join(short[:60])
    texts.append(everything)  # ~1200 tokens: beyond the 512 position embeddings too
    german = VALIDATION_SPECIAL[0] + " " + VALIDATION_SPECIAL[1]
    texts.append(" ".join([german] * 12))  # long non-English text
    texts.append("\n".join(VALIDATION_SPECIAL[32:40] * 3))  # long code
    texts += VALIDATION_SPECIAL
    return list(dict.fromkeys(texts))


def build_standin(rng: random.Random) -> tuple[list[str], list[str]]:
    queries: list[str] = []
    passages: list[str] = []
    for _name, sents, qs in STANDIN_TOPICS:
        queries += qs
        passages += windows(sents, rng)
        passages += sents[::3]  # a few single sentences too
    return queries, list(dict.fromkeys(passages))


def build_calibration(rng: random.Random, queries: list[str], passages: list[str]) -> list[str]:
    sentences = [s for _n, sents, _q in STANDIN_TOPICS for s in sents]
    lines = sentences + queries + rng.sample(passages, 60) + CALIBRATION_SPECIAL
    lines = [line.replace("\n", " ").strip() for line in lines if line.strip()]
    lines = list(dict.fromkeys(lines))
    rng.shuffle(lines)
    return lines


def main() -> None:
    rng = random.Random(SEED)
    rerank, passages, longs = build_rerank(rng)
    embed_texts = build_embed_texts(rng, rerank, passages, longs)
    standin_queries, standin_passages = build_standin(rng)
    calibration = build_calibration(rng, standin_queries, standin_passages)
    overlap = set(calibration) & set(embed_texts)
    if overlap:
        raise SystemExit(f"calibration and validation texts overlap: {sorted(overlap)[:3]}")

    def dump(path: Path, data: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    dump(DATA / "validation" / "embed_texts.json", embed_texts)
    dump(DATA / "validation" / "rerank.json", rerank)
    dump(DATA / "standin" / "queries.json", standin_queries)
    dump(DATA / "standin" / "passages.json", standin_passages)
    (DATA / "calibration.txt").write_text("\n".join(calibration) + "\n", encoding="utf-8")
    print(
        f"embed_texts {len(embed_texts)}, rerank {len(rerank)} queries x 20, calibration {len(calibration)} lines, "
        f"standin {len(standin_queries)} queries / {len(standin_passages)} passages"
    )


if __name__ == "__main__":
    main()
