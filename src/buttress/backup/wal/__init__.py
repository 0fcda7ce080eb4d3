"""PostgreSQL WAL archiving and point-in-time recovery.

- :mod:`.names`: WAL file names, LSNs and segment arithmetic (pure);
- :mod:`.header`: a segment's first page header (its address, timeline, system identifier);
- :mod:`.layout`: where archived WAL lives in a target's repository.
"""
