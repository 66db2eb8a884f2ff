"""Usage control end to end: IDS usage-control classes, automated negotiation, management."""
