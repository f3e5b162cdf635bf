"""Exports and reports: an errands task and a Django task, started from views."""
