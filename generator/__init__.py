"""generator stage of clinrag."""
