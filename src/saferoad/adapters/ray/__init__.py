"""Ray: the distributed executor of ``saferoad evaluate``."""
