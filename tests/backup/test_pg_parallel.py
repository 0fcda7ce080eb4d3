"""The parallel restore of a streamed pg_dump custom-format archive, against the real server:
the archive's head is read as pg_restore reads it, tables load side by side (batched when
small, a large one over several COPYs, spilled to disk when the stream must run ahead past rows
too wide to cut), and every way the stream can go wrong ends in a clear error."""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError
from buttress.backup.sources.pg_archive import Short, read_head
from buttress.backup.sources.pg_parallel import ParallelRestoreSink, eligible
from buttress.backup.sources.postgresql import PostgresSource, _RestoreSink

RICH = '''
CREATE SCHEMA "odd schema";
CREATE TABLE c_wide (id int PRIMARY KEY, blob text);
INSERT INTO c_wide SELECT i, repeat(md5(i::text), 3000) FROM generate_series(1, 40) i;
CREATE TABLE big (id bigserial PRIMARY KEY, payload text, n numeric);
INSERT INTO big (payload, n)
  SELECT repeat(md5(i::text), 8), i / 7.0 FROM generate_series(1, 20000) i;
CREATE INDEX big_payload ON big (left(payload, 10));
COMMENT ON TABLE big IS 'the big one';
CREATE TABLE child (id serial PRIMARY KEY, big_id bigint REFERENCES big (id));
INSERT INTO child (big_id) SELECT i FROM generate_series(1, 500) i;
CREATE TABLE empty (id int PRIMARY KEY);
CREATE TABLE "odd schema"."Tricky ""name""" (k text, v bytea, j jsonb, t text);
INSERT INTO "odd schema"."Tricky ""name""" VALUES
  (E'tab\\there', '\\x00ff', '{"a": [1, null]}', E'back\\\\slash and new\\nline'),
  (NULL, NULL, NULL, 'ünïcödé ✓');
DO $$ BEGIN
  FOR i IN 1..12 LOOP
    EXECUTE format('CREATE TABLE small_%s (id int PRIMARY KEY, v text)', i);
    EXECUTE format('INSERT INTO small_%s SELECT g, repeat(''s'', g) FROM generate_series(1, %s) g',
                   i, i * 3);
  END LOOP;
END $$;
COMMENT ON INDEX big_payload IS 'first ten';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;
CREATE TRIGGER child_touch BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION touch();
CREATE UNIQUE INDEX child_big ON child (big_id);
CREATE VIEW big_count AS SELECT count(*) AS n FROM big;
CREATE MATERIALIZED VIEW early AS SELECT id FROM big WHERE id < 100;
'''

CONTENT = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


SCHEMA = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')
UNION ALL SELECT tgrelid::regclass::text, tgname, '' FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT objoid::regclass::text, description, '' FROM pg_description
  WHERE classoid = 'pg_class'::regclass
ORDER BY 1, 2
"""


def _content(dsn: str) -> dict[str, str]:
    """Every table's and materialized view's rows, as one digest each; constraints, triggers
    and comments."""
    out = {}
    with psycopg.connect(dsn) as conn:
        out["schema"] = repr(conn.execute(SCHEMA).fetchall())
        for schema, table in conn.execute(CONTENT).fetchall():
            query = sql.SQL(
                "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {}.{} t"
            ).format(sql.Identifier(schema), sql.Identifier(table))
            row = conn.execute(query).fetchone()
            assert row is not None
            out[f"{schema}.{table}"] = f"{row[0]}:{row[1]}"
    return out


def _dump(dsn: str) -> bytes:
    """A custom-format dump through a pipe, as a backup takes it (no data offsets)."""
    return subprocess.run(
        ["pg_dump", "--format=custom", "--compress=0", "--dbname", dsn],
        check=True,
        capture_output=True,
    ).stdout


def _new_db(pg_server: str, name: str) -> str:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return re.sub(r"/[^/]*$", f"/{name}", pg_server)


def _drop_db(pg_server: str, name: str) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sink(dsn: str, jobs: int, memory: int, tmp: Path) -> ParallelRestoreSink:
    args = ["pg_restore", "--no-password", "--exit-on-error", "--dbname", dsn]
    env = dict(os.environ)
    return ParallelRestoreSink(
        args, env, jobs, tmp, lambda: _RestoreSink(args, env, jobs, tmp), memory=memory
    )


def _feed(sink: ParallelRestoreSink, data: bytes) -> None:
    for piece in _pieces(data):
        sink.write(piece)
    sink.finish("restore")


def _pieces(data: bytes) -> list[bytes]:
    """The stream cut the awkward way: 7-byte pieces through the head and the first blocks,
    then 64 KiB ones."""
    cut = 7 * 5715  # a multiple of 7: the two kinds of pieces meet exactly
    small = [data[i : i + 7] for i in range(0, min(cut, len(data)), 7)]
    return small + [data[i : i + 65536] for i in range(cut, len(data), 65536)]


@pytest.fixture
def rich(pg_database: str) -> str:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(RICH)
    return pg_database


def test_the_head_is_read_as_pg_restore_reads_it(rich: str, tmp_path: Path) -> None:
    dump = _dump(rich)
    head = read_head(dump)
    path = tmp_path / "dump"
    path.write_bytes(dump)
    listing = subprocess.run(
        ["pg_restore", "--list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    ids = [int(m[1]) for m in re.finditer(r"^(\d+);", listing, re.M)]
    # pg_restore lists every entry it would restore (not the database's own), in TOC order
    assert [e.dump_id for e in head.entries if e.dump_id in set(ids)] == ids
    assert {e.desc for e in head.entries if e.dump_id not in set(ids)} <= {
        *_SPECIAL,
        "DATABASE",
        "DATABASE PROPERTIES",
        "COMMENT",
    }
    data = {int(m[1]) for m in re.finditer(r"^(\d+); \d+ \d+ TABLE DATA ", listing, re.M)}
    assert {e.dump_id for e in head.entries if e.had_dumper} == data
    assert len(data) == 17  # big, c_wide, child, empty, the tricky one, 12 small ones
    big = next(e for e in head.entries if e.desc == "TABLE DATA" and e.tag == "big")
    assert big.copy_stmt.startswith("COPY public.big (id, payload, n) FROM stdin;")
    assert not head.compressed
    with pytest.raises(Short):
        read_head(dump[: head.size - 1])
    with pytest.raises(CorruptBackupError, match="not a pg_dump custom-format archive"):
        read_head(b"PGDMX" + dump[5:])


_SPECIAL = {"ENCODING", "STDSTRINGS", "SEARCHPATH"}  # not in pg_restore --list


def test_tables_load_side_by_side_batched_and_spilled(
    rich: str, pg_server: str, tmp_path: Path
) -> None:
    dump = _dump(rich)
    target = _new_db(pg_server, "buttress_parallel_rich")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        _feed(sink, dump)
        assert sink._fallback is None
        assert any(len(w.ids) > 1 for w in sink._workers)  # small tables batched
        # c_wide's 96 KB rows are wider than the 64 KiB pieces: no cut is proven in a piece,
        # so its worker keeps the block and the stream runs ahead of it to the next table
        assert any(w.spool.written > 0 for w in sink._workers)
        head = sink.head
        assert head is not None
        ids = {e.tag: e.dump_id for e in head.entries if e.had_dumper}
        loaders = collections.Counter(i for w in sink._workers for i in w.ids)
        assert loaders[ids["big"]] >= 2  # a large table loads over several COPYs at once
        assert loaders[ids["c_wide"]] == 1
        assert len(sink._workers) < 17 + 2  # 17 tables with data, small ones batched
        assert sink._claimed  # indexes and keys of loaded tables built while others loaded
        assert _content(target) == _content(rich)
        source = PostgresSource(rich)
        assert source.inspect(target) == source.inspect(rich)  # schema, counts, sequences
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_rich")
    assert list(tmp_path.iterdir()) == []  # the TOC and spill files are gone


def test_large_objects_go_to_the_sequential_restore(
    pg_database: str, pg_server: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE docs (id int, body oid)")
        conn.execute("INSERT INTO docs VALUES (1, lo_from_bytea(0, 'hello'))")
    target = _new_db(pg_server, "buttress_parallel_lo")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        _feed(sink, _dump(pg_database))
        assert sink._fallback is not None
        with psycopg.connect(target) as conn:
            row = conn.execute("SELECT lo_get(body) FROM docs").fetchone()
            assert row is not None
            assert bytes(row[0]) == b"hello"
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_lo")


def test_a_stream_cut_short_is_named(rich: str, pg_server: str, tmp_path: Path) -> None:
    dump = _dump(rich)
    target = _new_db(pg_server, "buttress_parallel_cut")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        with pytest.raises(CorruptBackupError, match="ended inside its table data"):
            _feed(sink, dump[: len(dump) * 2 // 3])
        sink.abort()
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_cut")


def test_a_damaged_block_header_is_named(rich: str, pg_server: str, tmp_path: Path) -> None:
    dump = bytearray(_dump(rich))
    head = read_head(dump)
    dump[head.size + 2] ^= 0x40  # the first block's dump id
    target = _new_db(pg_server, "buttress_parallel_bad")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        with pytest.raises(CorruptBackupError, match="unexpected data block"):
            _feed(sink, bytes(dump))
        sink.abort()
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_bad")


def test_a_failing_worker_stops_the_restore_with_its_error(
    rich: str, pg_server: str, tmp_path: Path
) -> None:
    """The table of a later block vanishes after the schema was restored: pg_restore's own
    error reaches the caller (the stream stops), and no worker is left running."""
    dump = _dump(rich)
    head = read_head(dump)
    last = [e for e in head.entries if e.had_dumper][-1]
    target = _new_db(pg_server, "buttress_parallel_fail")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        start = head.size + (80 << 10)
        sink.write(dump[:start])  # the head is read and the schema restored by now
        assert sink.head is not None
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(f'DROP TABLE "{last.namespace}"."{last.tag}" CASCADE')
        with pytest.raises(BackupError, match=f'pg_restore failed: .*relation ".*{last.tag}"'):
            _feed(sink, dump[start:])
        sink.abort()
        assert all(w.tool.proc.poll() is not None for w in sink._workers)
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_fail")


def test_a_failing_worker_of_a_spread_table_stops_the_restore(
    rich: str, pg_server: str, tmp_path: Path
) -> None:
    """The large table (spread over several COPYs as it streams) vanishes once the schema is in:
    pg_restore's error reaches the caller and every worker is stopped."""
    dump = _dump(rich)
    head = read_head(dump)
    target = _new_db(pg_server, "buttress_parallel_fail_big")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        sink._next_try = head.size  # read the head as soon as it is in, before any data
        sink.write(dump[: head.size])
        assert sink.head is not None  # and the schema restored
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("DROP TABLE big CASCADE")
        with pytest.raises(BackupError, match=r'pg_restore failed: .*relation "public\.big"'):
            _feed(sink, dump[head.size :])
        sink.abort()
        assert all(w.tool.proc.poll() is not None for w in sink._workers)
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_fail_big")


def test_a_full_temporary_disk_is_named(rich: str, pg_server: str, full_disk: Path) -> None:
    """The stream runs ahead of a busy worker into tmp_dir, which fills up: the error says
    where and what to change, and the restore stops."""
    dump = _dump(rich)
    target = _new_db(pg_server, "buttress_parallel_full")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=full_disk)
    try:
        with pytest.raises(RestoreError, match=r"in .*: No space left on device \(set tmp_dir"):
            _feed(sink, dump)
        sink.abort()
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_full")
    assert list(full_disk.iterdir()) == []


@pytest.mark.parametrize("why", ["compressed", "toc beyond the head limit"])
def test_archives_it_cannot_split_go_to_the_sequential_restore(
    rich: str, pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """A compressed archive (its blocks are not COPY text), or a head that has not ended within
    HEAD_LIMIT bytes: restored by one pg_restore, as before, and in full."""
    from buttress.backup.sources import pg_parallel

    if why == "compressed":
        dump = subprocess.run(
            ["pg_dump", "--format=custom", "--compress=1", "--dbname", rich],
            check=True,
            capture_output=True,
        ).stdout
    else:
        dump = _dump(rich)
        monkeypatch.setattr(pg_parallel, "HEAD_LIMIT", 1000)
    target = _new_db(pg_server, "buttress_parallel_seq")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    try:
        _feed(sink, dump)
        assert sink._fallback is not None
        assert sink._workers == []
        assert _content(target) == _content(rich)
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_seq")


def test_archives_with_other_integer_sizes_are_not_split(rich: str) -> None:
    """Block ends and row cuts read 4-byte lengths: an archive written with another integer
    size goes to the sequential restore."""
    head = read_head(_dump(rich))
    assert eligible(head)
    assert not eligible(dataclasses.replace(head, int_size=8))


def test_memory_is_shared_by_the_workers(tmp_path: Path) -> None:
    dsn = "postgresql://127.0.0.1/unused"
    for jobs, memory, each in ((4, 4 << 20, 1 << 20), (64, 1 << 20, 64 << 10)):  # 64 KiB: floor
        sink = _sink(dsn, jobs=jobs, memory=memory, tmp=tmp_path)
        assert sink.budget == each
        sink.cleanup()


LAST_BIG = """
CREATE TABLE a_small (id int PRIMARY KEY);
INSERT INTO a_small SELECT generate_series(1, 10);
CREATE TABLE z_big (id int PRIMARY KEY, payload text);
INSERT INTO z_big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 40000) i;
CREATE INDEX z_big_payload ON z_big (left(payload, 8));
"""


def test_a_spread_tables_indexes_wait_for_all_its_workers(
    pg_database: str, pg_server: str, tmp_path: Path
) -> None:
    """The last table, spread over two workers: its indexes are built early (before the final
    post-data step) only once every worker loading it is done, never on part of its rows."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(LAST_BIG)
    target = _new_db(pg_server, "buttress_parallel_last_big")
    sink = _sink(target, jobs=2, memory=128 << 10, tmp=tmp_path)
    early_too_soon: list[str] = []
    from_toc = sink._from_toc

    def checked(options: list[str], what: str) -> None:
        if what.startswith("building"):  # an early build, run in a worker's own thread
            listed = Path(options[options.index("--use-list") + 1]).read_text()
            ids = {int(line.rstrip(";")) for line in listed.split()}
            of_big = [e.tag for e in head.entries if e.dump_id in ids and big_table in e.deps]
            for worker in sink._workers:  # data in: pg_restore has ended (loaded is set)
                if of_big and not worker.loaded and big in worker.ids:
                    early_too_soon.append(f"{of_big} built while a worker still loads z_big")
        from_toc(options, what)

    sink._from_toc = checked  # type: ignore[method-assign]
    dump = _dump(pg_database)
    head = read_head(dump)
    big = next(e.dump_id for e in head.entries if e.had_dumper and e.tag == "z_big")
    big_table = next(e.dump_id for e in head.entries if e.desc == "TABLE" and e.tag == "z_big")
    try:
        _feed(sink, dump)
        assert sum(big in w.ids for w in sink._workers) >= 2  # spread
        claimed = {e.tag for e in head.entries if e.dump_id in sink._claimed}
        assert {"z_big z_big_pkey", "z_big_payload"} <= claimed  # built early
        assert early_too_soon == []
        assert _content(target) == _content(pg_database)
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_last_big")


def test_restore_jobs_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="restore_jobs must be >= 1"):
        PostgresSource("postgresql://127.0.0.1/x", restore_jobs=0)


PARTS = """
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, kind text,
  n int, doubled int GENERATED ALWAYS AS (n * 2) STORED, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
  PARTITION BY RANGE (at);
CREATE TABLE events_2026_h1 PARTITION OF events_2026
  FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE events_2026_h2 PARTITION OF events_2026
  FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;
CREATE INDEX events_kind ON events (kind);
CREATE UNIQUE INDEX events_kind_id ON events (kind, id, at);
INSERT INTO events (at, kind, n)
  SELECT date '2025-01-01' + (i % 700), (ARRAY['a','b','c'])[1 + i % 3], i
  FROM generate_series(1, 30000) i;
CREATE TABLE refs (id int PRIMARY KEY, event_id bigint, event_at date,
  FOREIGN KEY (event_id, event_at) REFERENCES events (id, at));
INSERT INTO refs SELECT i, i, date '2025-01-01' + (i % 700) FROM generate_series(1, 300) i;
CREATE TABLE parent_t (id serial PRIMARY KEY, v text);
CREATE TABLE child_t (extra int) INHERITS (parent_t);
INSERT INTO parent_t (v) SELECT md5(i::text) FROM generate_series(1, 2000) i;
INSERT INTO child_t (v, extra) SELECT md5(i::text), i FROM generate_series(1, 3000) i;
CREATE INDEX child_t_extra ON child_t (extra);
CREATE TABLE unlogged_t (id int PRIMARY KEY);
ALTER TABLE unlogged_t SET UNLOGGED;
INSERT INTO unlogged_t SELECT generate_series(1, 100);
"""


def test_partitions_inheritance_identity_and_generated_columns(
    pg_database: str, pg_server: str, tmp_path: Path
) -> None:
    """Shapes production schemas have: a partitioned table (sub-partitioned, a default
    partition, an index and a unique index on the parent, a foreign key to it), an identity
    column and a generated one, inheritance and an unlogged table, all restored in parallel
    with the same rows, schema and sequences, and the identity going on from where it was."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(PARTS)
    target = _new_db(pg_server, "buttress_parallel_parts")
    sink = _sink(target, jobs=3, memory=192 << 10, tmp=tmp_path)
    try:
        _feed(sink, _dump(pg_database))
        assert sink._fallback is None
        assert _content(target) == _content(pg_database)
        source = PostgresSource(pg_database)
        assert source.inspect(target) == source.inspect(pg_database)
        with psycopg.connect(target) as conn:
            conn.execute("INSERT INTO events (at, kind, n) VALUES ('2026-05-01', 'a', 5)")
            assert conn.execute("SELECT max(id) FROM events").fetchone() == (30001,)
    finally:
        sink.cleanup()
        _drop_db(pg_server, "buttress_parallel_parts")
