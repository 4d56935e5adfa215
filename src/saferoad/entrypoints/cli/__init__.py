"""The ``saferoad`` command line."""
