"""Ingest: read posts from archives, exports and fetched accounts, clean them, write a dataset.

``sources/`` (archive and file readers), ``fetch/`` (Mastodon, Bluesky, X APIs), ``clean``
(the filters), ``dataset`` (split + manifest), ``prepare`` (all of it in one call), ``options``.
"""
