"""Cohere's `input_type` and Jina's `task` onto the bundle's prompts.

A model trained with prompts (e.g. {"query": "query: ", "passage": "passage: "}) must get the right one, or
its vectors are silently worse. A model without a matching prompt (MiniLM has none) embeds the text as is,
which is what it was trained on; a prompt the request names but the model lacks is therefore not an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_encoders import Manifest
from handler.errors import ApiError

# request value -> prompt names to look for in the bundle, first match wins
COHERE_INPUT_TYPES: dict[str, tuple[str, ...]] = {
    "search_query": ("query", "search_query"),
    "search_document": ("document", "passage", "search_document", "corpus"),
    "classification": ("classification",),
    "clustering": ("clustering",),
}
JINA_TASKS: dict[str, tuple[str, ...]] = {
    "retrieval.query": ("query", "retrieval.query"),
    "retrieval.passage": ("passage", "document", "retrieval.passage", "corpus"),
    "text-matching": ("text-matching", "sts"),
    "classification": ("classification",),
    "separation": ("separation", "clustering"),
}


@dataclass(frozen=True)
class PromptChoice:
    """The embedder's prompt_name and prompt arguments (both None: the model's default prompt)."""

    name: str | None = None
    text: str | None = None


def choose_prompt(manifest: Manifest, value: str | None, table: dict[str, tuple[str, ...]], field: str) -> PromptChoice:
    """The prompt for a Cohere input_type / Jina task: the bundle's matching prompt_name, or an empty literal
    prompt when the model has none for it; the model's default when `value` is None."""
    if value is None:
        return PromptChoice()
    if value not in table:
        allowed = ", ".join(sorted(table))
        raise ApiError(422, "invalid_request", f"{field} must be one of {allowed}; got {value!r}")
    for name in table[value]:
        if name in manifest.prompts:
            return PromptChoice(name=name)
    return PromptChoice(text="")
