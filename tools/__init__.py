"""User commands and the modules they share."""
