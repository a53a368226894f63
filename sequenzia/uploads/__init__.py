"""Resumable uploads: a file received in verified parts, then handed to Discord I/O."""
