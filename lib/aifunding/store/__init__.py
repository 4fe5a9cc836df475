"""Uploaded packages kept under the hash of their content, so a link can name one: a folder or PostgreSQL.

Imports nothing above ``aifunding.data``. ``config.open_store`` picks the backend from ``AIFUNDING_STORE``.
"""
