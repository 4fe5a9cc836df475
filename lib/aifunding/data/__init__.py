"""Rows and their rules of form.

Models, the table registry, the schema, reading and parsing files, references, the programme tree
and the validation report. Imports nothing above it.
"""
