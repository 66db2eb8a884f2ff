"""``python -m twinspace.cli``: the same as the ``twinspace`` command."""

from twinspace.cli.app import main

if __name__ == "__main__":  # not when a spawned child (a twin writer) imports it
    main()
