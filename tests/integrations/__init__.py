"""Tests of the web-framework integrations, each driving its example app over real HTTP."""
