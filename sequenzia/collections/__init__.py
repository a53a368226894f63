"""Favourites and albums: a user's own collections of records."""
