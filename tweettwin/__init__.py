"""tweettwin: turn your own posts into a small language model that writes posts in your voice.

``import tweettwin`` never imports torch: ML entry points are loaded on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
