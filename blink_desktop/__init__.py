"""blink-desktop: connect bank accounts through Basiq Blink from a desktop window."""

__version__ = "0.1.0"
