"""``python -m twinspace.cli``: the same as the ``twinspace`` command."""

from twinspace.cli.app import main

main()
