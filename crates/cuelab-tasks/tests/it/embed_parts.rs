//! `cuelab embed --shard` parts read as one dataset: the committed parts (written by
//! `cuelab embed --shard k/3`, see tools/reference/scaling/make_fixtures.py) hold exactly the
//! rows pyarrow, polars and DuckDB read from the folder, and `merge` joins them into one file
//! with those rows in input order.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use cuelab_tasks::embed_parts::{merge, read_meta, read_rows, EmbedRow};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/embed_parts")
}

fn expected() -> Vec<EmbedRow> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("expected.json")).unwrap())
            .unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| EmbedRow {
            row: r["row"].as_i64().unwrap(),
            input: r["input"].as_str().unwrap().to_string(),
            // float32 values written by Python as the exact float64 of each float32
            embedding: r["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

#[test]
fn parts_hold_what_pyarrow_polars_and_duckdb_read() {
    let parts = data().join("parts.parquet");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    let mut rows = Vec::new();
    for (k, f) in files.iter().enumerate() {
        let meta = read_meta(f).unwrap().unwrap();
        assert_eq!(meta.shard, Some((k, 3)));
        assert_eq!(meta.inputs, 7);
        rows.extend(read_rows(f).unwrap());
    }
    rows.sort_by_key(|r| r.row);
    let want = expected();
    assert_eq!(rows, want, "bit-exact: the same float32 values");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("all.parquet");
    let merged = merge(&[parts], &out).unwrap();
    assert_eq!((merged.rows, merged.parts), (7, 3));
    assert_eq!(read_rows(&out).unwrap(), want);
    assert_eq!(read_meta(&out).unwrap().unwrap().shard, None);
}
