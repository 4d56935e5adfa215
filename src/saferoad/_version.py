"""saferoad's version, in a module of its own: the application reads it from here rather than
from the package root, whose type-checking imports reach the public API and through it the
composition root (an import chain application -> entrypoints -> adapters otherwise)."""

__version__ = "0.1.0"
