"""clinrag: shared settings, record types and the umbrella command line.

The pipeline stages live in the top-level packages ``ingest`` -> ``retriever`` ->
``generator`` -> ``eval``; this package holds only what all of them share.
"""

__version__ = "0.1.0"
