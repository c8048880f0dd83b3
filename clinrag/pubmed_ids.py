"""The PubMed id in a benchmark's document reference, read one way everywhere.

BioASQ names documents by URL (``http://www.ncbi.nlm.nih.gov/pubmed/23001136``), sometimes
with a trailing ``/``; ingest, evaluation and training must agree on the id, or a gold
document is indexed under one name and looked up under another.
"""

from __future__ import annotations

import re
from typing import Any

_PMID_AT_END = re.compile(r"(\d+)\s*/?\s*$")


def pmid_of(reference: Any) -> str | None:
    """The PMID a URL or bare id ends with (a trailing ``/`` allowed), or None."""
    match = _PMID_AT_END.search(str(reference))
    return match.group(1) if match else None


def pubmed_doc_id(reference: Any) -> str | None:
    """clinrag's document id (``pubmed:PMID``) for a reference, or None without a PMID."""
    pmid = pmid_of(reference)
    return f"pubmed:{pmid}" if pmid else None
