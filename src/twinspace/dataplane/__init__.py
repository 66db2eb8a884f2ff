"""The data plane: tokens bound to transfers, asset sources, HTTP pull and push."""
