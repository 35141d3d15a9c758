"""Data preparation: face alignment and the LMDB builders the nets read (see docs/data.md)."""
