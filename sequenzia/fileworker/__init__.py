"""FileWorker: the upload/download client behind `sequenzia upload|download|watch`.

It talks to a server's JSON API and `/f/` links over plain HTTP with a Bearer key. It is
synchronous on purpose: a command-line client has no reactor to share, threads give the
parallel part uploads, and Ctrl-C stays an ordinary KeyboardInterrupt.
"""
