"""The gallery: browsing and searching the library (pages, the records API, feeds)."""
