"""The git-lfs custom transfer agent (``git-hf-agent``), registered as ``multipart``.

Nothing heavy is imported here: start-up time is part of every push.
"""
