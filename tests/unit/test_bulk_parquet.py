"""The numpy-only Parquet writer, read back by the readers users have: pyarrow (pandas, Polars, Lance) and DuckDB."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from edge_encoders.bulk.parquet import write_embeddings_parquet

pq = pytest.importorskip("pyarrow.parquet")
duckdb = pytest.importorskip("duckdb")

CASES = [
    ("float32", np.float32, "float", "FLOAT[]"),
    ("int8", np.int8, "int8", "TINYINT[]"),
    ("uint8", np.uint8, "uint8", "UTINYINT[]"),
    ("binary", np.int8, "int8", "TINYINT[]"),
    ("ubinary", np.uint8, "uint8", "UTINYINT[]"),
]


def _vectors(rows: int, width: int, dtype: type) -> np.ndarray:
    rng = np.random.default_rng(rows * 1000 + width)
    if dtype is np.float32:
        return rng.normal(size=(rows, width)).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=(rows, width)).astype(dtype)


@pytest.mark.parametrize(("precision", "dtype", "arrow_type", "duck_type"), CASES)
@pytest.mark.parametrize(("rows", "width"), [(1, 1), (5, 1), (7, 3), (1000, 384)])
def test_roundtrip_pyarrow_and_duckdb(
    tmp_path: Path, precision: str, dtype: type, arrow_type: str, duck_type: str, rows: int, width: int
) -> None:
    ids = [f"id-{i}-é" for i in range(rows)]
    vectors = _vectors(rows, width, dtype)
    data = write_embeddings_parquet(ids, vectors, precision=precision, metadata={"model": "m", "dimensions": "3"})
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == rows
    assert str(table.schema.field("embedding").type.value_type) == arrow_type
    assert table.column("id").to_pylist() == ids
    np.testing.assert_array_equal(np.array(table.column("embedding").to_pylist(), dtype=dtype), vectors)
    assert table.schema.metadata[b"model"] == b"m"

    path = tmp_path / "shard.parquet"
    path.write_bytes(data)
    types = dict((name, kind) for name, kind, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall())
    assert types == {"id": "VARCHAR", "embedding": duck_type}
    rows_back = duckdb.sql(f"SELECT id, embedding FROM '{path}'").fetchall()
    assert [r[0] for r in rows_back] == ids
    np.testing.assert_array_equal(np.array([r[1] for r in rows_back], dtype=dtype), vectors)


def test_empty_shard_reads_as_zero_rows(tmp_path: Path) -> None:
    data = write_embeddings_parquet([], np.zeros((0, 4), dtype=np.float32))
    assert pq.read_table(io.BytesIO(data)).num_rows == 0
    (tmp_path / "e.parquet").write_bytes(data)
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'e.parquet'}'").fetchall() == [(0,)]


def test_duckdb_reads_a_folder_of_shards(tmp_path: Path) -> None:
    for n in range(3):
        vectors = np.full((2, 4), n, dtype=np.float32)
        (tmp_path / f"{n}.parquet").write_bytes(write_embeddings_parquet([f"{n}a", f"{n}b"], vectors))
    total, dims = duckdb.sql(f"SELECT count(*), max(len(embedding)) FROM '{tmp_path}/*.parquet'").fetchall()[0]
    assert (total, dims) == (6, 4)


@pytest.mark.parametrize(
    ("ids", "shape", "precision", "needle"),
    [
        (["a"], (2, 3), "float32", "one vector per id"),
        (["a"], (1, 3), "fp16", "precision"),
        (["a"], (1, 0), "float32", "at least one"),
    ],
)
def test_bad_arguments(ids: list[str], shape: tuple[int, int], precision: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        write_embeddings_parquet(ids, np.zeros(shape, dtype=np.float32), precision=precision)
