"""LangChain adapter: the clinrag retriever as a ``BaseRetriever`` (extra ``[langchain]``).

Documents carry the citation metadata (doc id, title, page, section, offsets, scores), so a
chain built on it can cite exactly what was retrieved.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class ClinragLangChainRetriever(BaseRetriever):
    retriever: Any
    search_kwargs: dict[str, Any] = {}

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.search(query, **self.search_kwargs)
        return [
            Document(
                page_content=hit.text,
                metadata={k: v for k, v in hit.to_json().items() if k != "text"},
                id=hit.chunk_id,
            )
            for hit in hits
        ]
