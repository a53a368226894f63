"""Spanned files: the format (captions, hashing, splitting) shared by upload, CDS, backup and reindex."""
