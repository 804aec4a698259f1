"""``python -m git_hf_agent`` runs the ``git hf`` command (used to start ``serve`` portably)."""

from git_hf_agent.cli.main import main

if __name__ == "__main__":
    main()
