"""twinspace: a data space for federated local digital twins.

The connector speaks the Dataspace Protocol 2025-1; see ``twinspace.app.create_app``.
"""

__version__ = "0.1.0"
