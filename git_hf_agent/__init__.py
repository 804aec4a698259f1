"""git-hf-agent: fast, dependable `git push` of huge files to the Hugging Face Hub.

Layers, lowest first:
- ``units``, ``redact``, ``hubconf``: small pure helpers shared by everything.
- ``agent``: the git-lfs custom transfer agent (``git-hf-agent``); its import
  path stays lean so start-up is fast.
- ``localhub``: the embedded local Hub (``git hf serve``).
- ``cli``: the ``git hf`` click commands.
"""

__version__ = "0.1.0"
