"""Exceptions a command raises to end with a clear sentence and the right exit code."""


class UsageProblem(Exception):
    """The command was used wrongly (exit 2). The message is one sentence for the user."""


class CommandFailed(Exception):
    """The command was right but the work failed (exit 1). The message says what failed."""
