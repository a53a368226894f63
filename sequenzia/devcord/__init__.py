"""devcord: a Discord emulator (REST, Gateway, CDN, OAuth2) for tests and the embedded setup.

Built from Discord's own documents (shared/reference): discord.py runs against it
unmodified. It imports only Twisted, autobahn, Pillow and the standard library; nothing in
the product imports it but the service wiring that starts it embedded and the CLI.
"""
