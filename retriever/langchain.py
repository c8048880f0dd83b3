"""LangChain adapter: the clinrag retriever as a ``BaseRetriever`` (extra ``[langchain]``).

Documents carry the citation metadata (doc id, title, page, section, offsets, scores), so a
chain built on it can cite exactly what was retrieved. ``k`` works as LangChain's standard
retriever tests expect: in the constructor and per ``invoke(query, k=...)``; the other
search parameters (mode, rerank, depth, rerank_top_n, max_per_doc, filters) likewise.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, field_validator

from retriever.types import SearchParams

_PARAMS = {f.name for f in fields(SearchParams)}


class ClinragLangChainRetriever(BaseRetriever):
    retriever: Any
    k: int | None = None                  # None = the retriever's retrieve.k
    search_kwargs: dict[str, Any] = {}    # other SearchParams fields

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("search_kwargs")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        params(value)     # a misspelled parameter is refused here, not at the first query
        return value

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        given = {"k": self.k, **self.search_kwargs, **kwargs}
        hits = self.retriever.search(query, params(given)).hits
        return [
            Document(
                page_content=hit.text,
                metadata={k: v for k, v in hit.to_json().items() if k != "text"},
                id=hit.chunk_id,
            )
            for hit in hits
        ]


def params(given: dict[str, Any]) -> SearchParams:
    """SearchParams from keyword arguments, refusing a name it does not have."""
    unknown = sorted(set(given) - _PARAMS)
    if unknown:
        raise ValueError(f"unknown search parameter(s) {', '.join(unknown)}; expected some "
                         f"of {', '.join(sorted(_PARAMS))}")
    return SearchParams(**given)
