"""Builders the tests share (nets, datasets, faces, committed results); fixtures are in the conftest.py files."""
