"""The ``twinspace`` command line: run a participant, drive a connector, run the demo.

``main`` is the console-script entry point (``twinspace = "twinspace.cli:main"``).
"""

from twinspace.cli.app import app, main

__all__ = ["app", "main"]
