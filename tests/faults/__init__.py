"""Fault injectors for the store tests."""
