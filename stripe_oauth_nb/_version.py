"""The toolkit's version (a foundation module: anything may read it without importing the root)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
