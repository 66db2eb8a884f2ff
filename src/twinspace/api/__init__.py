"""HTTP adapters: thin FastAPI routers over the connector services."""
