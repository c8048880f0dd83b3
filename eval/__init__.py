"""eval stage of clinrag."""
