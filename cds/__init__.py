"""Content Distribution System: authorised, audited file access and spanned-file assembly."""
