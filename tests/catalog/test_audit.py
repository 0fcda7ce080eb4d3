"""The audit log in the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

from buttress.catalog import Catalog, audit


def test_records_are_listed_newest_first_and_paged(catalog: Catalog) -> None:
    """Records come back newest first; before_id pages through older ones; filters apply."""
    with catalog.begin() as session:
        for i in range(5):
            audit.record(
                session=session,
                actor=f"a{i % 2}",
                action="x.do",
                outcome="success",
                detail={"i": i},
            )
    with catalog.begin() as session:
        page = audit.get_all(session=session, limit=2)
        assert [r.detail["i"] for r in page] == [4, 3]
        older = audit.get_all(session=session, limit=10, before_id=page[-1].id)
        assert [r.detail["i"] for r in older] == [2, 1, 0]
        assert [r.detail["i"] for r in audit.get_all(session=session, actor="a1")] == [3, 1]
        assert page[0].at.tzinfo is not None
