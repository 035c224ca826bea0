"""Attacks that once lost data, hung or printed a traceback, replayed so they stay closed.

``attacks`` builds the bad inputs (FIFOs, ``/dev/zero`` links, symlink loops, tampered weights
metadata and caches, non-float weights, malformed registries, damaged run folders, malicious pickles,
stale temporaries, escape sequences in names); each ``test_*_attacks`` module replays those aimed at
one command: restore, eval, train, the weights loader, the synthetic benchmark cache, and the
one-line-error contract.
"""
