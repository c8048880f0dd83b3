"""retriever stage of clinrag."""
