"""The web role's HTTP face: health endpoints now; the gallery and API in later issues."""
