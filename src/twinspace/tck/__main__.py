"""``python -m twinspace.tck``: print the Eclipse DSP TCK configuration for this connector."""

from twinspace.tck.properties import main

raise SystemExit(main())
