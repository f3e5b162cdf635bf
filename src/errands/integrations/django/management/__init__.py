"""Management commands of the errands Django app."""
