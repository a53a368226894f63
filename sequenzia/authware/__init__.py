"""AuthWare: who is asking (sessions, static and API keys) and what they may do."""
