"""JuneFS: the structured view of everything stored (servers → channels → records)."""
