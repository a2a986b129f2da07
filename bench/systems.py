"""One adapter per system under test, all with the same two calls: embed(texts, batch_size) and rerank().

Each adapter imports its library lazily, inside load(), so that a worker process pays only for the system it
measures (and cold-start/RSS figures are that system's own). Every adapter pins the thread count it is given.
"""

from __future__ import annotations

from typing import Any


class System:
    """Base: `spec` is the JSON-able description the parent hands to the worker."""

    def __init__(self, spec: dict[str, Any], threads: int) -> None:
        self.spec = spec
        self.threads = threads

    def load(self) -> None:
        raise NotImplementedError

    def embed(self, texts: list[str], batch_size: int) -> Any:
        raise NotImplementedError

    def rerank(self, query: str, passages: list[str]) -> Any:
        raise NotImplementedError


class EdgeEmbed(System):
    def load(self) -> None:
        from edge_encoders import BatchPolicy, Embedder, SessionConfig

        policy = BatchPolicy(**self.spec["policy"]) if self.spec.get("policy") else BatchPolicy()
        self.model = Embedder.from_bundle(
            self.spec["bundle"], session_config=SessionConfig(intra_op_threads=self.threads), batch_policy=policy
        )

    def embed(self, texts: list[str], batch_size: int) -> Any:
        return self.model.embed(texts)


class EdgeRerank(System):
    def load(self) -> None:
        from edge_encoders import BatchPolicy, Reranker, SessionConfig

        policy = BatchPolicy(**self.spec["policy"]) if self.spec.get("policy") else BatchPolicy()
        # spinning False: the Lambda image's settings (EDGE_THREAD_SPINNING=false), where a bundle's run hint applies
        config = SessionConfig(intra_op_threads=self.threads, allow_spinning=self.spec.get("spinning", True))
        self.model = Reranker.from_bundle(self.spec["bundle"], session_config=config, batch_policy=policy)

    def rerank(self, query: str, passages: list[str]) -> Any:
        return self.model.rerank(query, passages)


def _torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class STTorch(System):
    def load(self) -> None:
        _torch_threads(self.threads)
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(self.spec["model"], device="cpu")

    def embed(self, texts: list[str], batch_size: int) -> Any:
        return self.model.encode(texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)


class STOnnx(System):
    """sentence-transformers' own ONNX backend (optimum ORTModel) on a given .onnx file."""

    def load(self) -> None:
        _torch_threads(self.threads)
        import onnxruntime as ort
        from sentence_transformers import SentenceTransformer

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self.model = SentenceTransformer(
            self.spec["folder"],
            device="cpu",
            backend="onnx",
            model_kwargs={
                "file_name": self.spec["file_name"],
                "provider": "CPUExecutionProvider",
                "session_options": options,
            },
        )

    def embed(self, texts: list[str], batch_size: int) -> Any:
        return self.model.encode(texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)


class FastEmbed(System):
    """fastembed's TextEmbedding on a local folder (FACTS.md recipe), no hub."""

    def load(self) -> None:
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        name = "local/bench-minilm"
        TextEmbedding.add_custom_model(
            model=name,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf=name),
            dim=384,
            model_file="model.onnx",
        )
        self.model = TextEmbedding(name, specific_model_path=self.spec["folder"], threads=self.threads)

    def embed(self, texts: list[str], batch_size: int) -> Any:
        return list(self.model.embed(texts, batch_size=batch_size))


class CETorch(System):
    def load(self) -> None:
        _torch_threads(self.threads)
        from sentence_transformers import CrossEncoder

        kwargs: dict[str, Any] = {"device": "cpu"}
        if self.spec.get("num_labels"):
            kwargs["num_labels"] = self.spec["num_labels"]
        self.model = CrossEncoder(self.spec["model"], **kwargs)

    def rerank(self, query: str, passages: list[str]) -> Any:
        return self.model.rank(query, passages, show_progress_bar=False)


# the libraries each system imports: the cold-start probe imports them first to time imports apart from loading
IMPORTS: dict[str, tuple[str, ...]] = {
    "edge": ("edge_encoders",),
    "edge-rerank": ("edge_encoders",),
    "st-torch": ("sentence_transformers",),
    "st-onnx": ("sentence_transformers", "optimum.onnxruntime"),
    "fastembed": ("fastembed",),
    "ce-torch": ("sentence_transformers",),
}

ADAPTERS: dict[str, type[System]] = {
    "edge": EdgeEmbed,
    "edge-rerank": EdgeRerank,
    "st-torch": STTorch,
    "st-onnx": STOnnx,
    "fastembed": FastEmbed,
    "ce-torch": CETorch,
}


def make_system(spec: dict[str, Any], threads: int) -> System:
    try:
        return ADAPTERS[spec["type"]](spec, threads)
    except KeyError:
        raise ValueError(f"unknown system type {spec.get('type')!r}; known: {sorted(ADAPTERS)}") from None
