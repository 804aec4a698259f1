"""The ``git hf`` command: one thin module per subcommand, registered lazily in ``main``."""
