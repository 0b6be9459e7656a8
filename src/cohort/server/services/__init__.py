"""The service layer: the only code that writes to the store."""
