"""Training for the retrieval stage (``clinrag train reranker``): see ``reranker``."""
