"""How the server process uses memory."""
