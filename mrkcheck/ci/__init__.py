"""Continuous integration: the project file, running its entries, JUnit/JSON/GitHub reports."""
