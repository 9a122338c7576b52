//! Embeddings as Parquet: one file for a whole run, or one part per shard in a dataset folder
//! that pyarrow, polars and DuckDB read as one table (`pq.read_table("out.parquet")`,
//! `pl.read_parquet("out.parquet/*.parquet")`, `read_parquet('out.parquet/*.parquet')`).
//!
//! Columns: `row` (the input's position in the full input list, so a dataset of parts sorts
//! back to the unsharded order), `input` (the image path or the text) and `embedding`
//! (`list<float>`). Each file's key-value metadata records `cuelab.config_hash` (the model as
//! loaded, settings and the whole input list), `cuelab.contents_sha256` (the contents of the
//! inputs the file holds), `cuelab.inputs` (the full input count), `cuelab.shard` (`I/N`) and
//! `cuelab.model`, so a merge can refuse incomplete, overlapping or mismatched part sets and a
//! rerun of a shard can tell a finished part of this run from one of another run
//! ([`check_part`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::schema::parser::parse_message_type;
use sha2::{Digest, Sha256};

use crate::error::{Result, TaskError};

/// The Parquet schema of an embeddings file.
const SCHEMA: &str = "
message embeddings {
  required int64 row;
  required binary input (STRING);
  required group embedding (LIST) {
    repeated group list {
      required float element;
    }
  }
}";

/// What identifies an embedding run and one file of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    /// SHA-256 over the model id, the settings and every input (see [`config_hash`]).
    pub config_hash: String,
    /// The model id.
    pub model: String,
    /// Inputs of the whole run (all shards).
    pub inputs: usize,
    /// The shard this file holds, `None` for a whole run.
    pub shard: Option<(usize, usize)>,
    /// SHA-256 over the contents of the inputs this file holds (see [`contents_hash`]); `None`
    /// in merged files and in files of cuelab versions before it was recorded.
    pub contents: Option<String>,
}

/// One embedded input.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedRow {
    /// Position in the full input list.
    pub row: i64,
    /// The image path or the text.
    pub input: String,
    /// The embedding.
    pub embedding: Vec<f32>,
}

/// SHA-256 over length-prefixed strings (so `["ab", "c"]` and `["a", "bc"]` differ).
fn hash_strings<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// The identity of an embedding run: the model id as loaded (which names a prefix of the
/// weights' SHA-256 and a non-f32 dtype), settings (normalisation, dtype, the preprocessing as
/// loaded, as one string) and the whole ordered input list (image paths or texts).
pub fn config_hash(model: &str, settings: &str, inputs: &[String]) -> String {
    hash_strings(
        [model, settings]
            .into_iter()
            .chain(inputs.iter().map(String::as_str)),
    )
}

/// The contents of the inputs one file holds, in order: each item is an image file's SHA-256
/// or a text. Recorded per file (not in [`config_hash`]) so that a shard reads only its own
/// images.
pub fn contents_hash(items: &[String]) -> String {
    hash_strings(items.iter().map(String::as_str))
}

/// What a file's identity is reported as in a refusal.
fn identity(m: &PartMeta) -> String {
    let shard = m
        .shard
        .map_or("whole run".to_string(), |(i, n)| format!("shard {i}/{n}"));
    match &m.contents {
        Some(c) => format!(
            "{}, inputs {}, {shard}",
            m.config_hash,
            &c[..c.len().min(16)]
        ),
        None => format!("{}, {shard}", m.config_hash),
    }
}

/// Whether the part `target` (of a dataset folder) is already done: `Ok(true)` when it holds a
/// part with exactly `meta` (model, settings, input list and the contents of its inputs),
/// `Ok(false)` when it does not exist. A run never writes over another run's rows, and a folder
/// never mixes runs that pyarrow or DuckDB would read as one table: when `target` holds a part
/// of another identity (another model or weights, dtype, preprocessing, normalisation, input
/// list, or edited inputs), or another cuelab part in its folder belongs to another run (another
/// config hash or shard count), the run is refused ([`TaskError::RunMismatch`]) and nothing is
/// written or deleted.
pub fn check_part(target: &Path, meta: &PartMeta) -> Result<bool> {
    let mismatch = |file: &Path, found: &PartMeta| TaskError::RunMismatch {
        dir: file.to_path_buf(),
        found: identity(found),
        expected: identity(meta),
    };
    let done = if target.exists() {
        match read_meta(target)? {
            Some(m) if &m == meta => true,
            Some(m) => return Err(mismatch(target, &m)),
            None => {
                return Err(invalid(
                    target,
                    "exists and is not a part of `cuelab embed --shard`; move it away",
                ))
            }
        }
    } else {
        false
    };
    let Some(folder) = target.parent().filter(|d| d.is_dir()) else {
        return Ok(done);
    };
    let count = meta.shard.map(|(_, n)| n);
    for f in files_of(folder)? {
        if f == target {
            continue;
        }
        if let Some(m) = read_meta(&f)? {
            if m.config_hash != meta.config_hash || m.shard.map(|(_, n)| n) != count {
                return Err(mismatch(&f, &m));
            }
        }
    }
    Ok(done)
}

/// The file of shard `(i, n)` inside a dataset folder.
pub fn part_path(dir: &Path, (i, n): (usize, usize)) -> PathBuf {
    dir.join(format!("part-{i:05}-of-{n:05}.parquet"))
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> TaskError {
    TaskError::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Write `rows` (each `dim` long) to `path` with `meta` (through a temporary file renamed into
/// place, so a killed run never leaves a torn file).
pub fn write(path: &Path, meta: &PartMeta, rows: &[EmbedRow], dim: usize) -> Result<()> {
    if let Some(r) = rows.iter().find(|r| r.embedding.len() != dim) {
        return Err(invalid(
            path,
            format!(
                "row {} has {} values, expected {dim}",
                r.row,
                r.embedding.len()
            ),
        ));
    }
    let bad = |e: parquet::errors::ParquetError| invalid(path, e);
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(bad)?);
    let mut kv = vec![
        KeyValue::new("cuelab.config_hash".into(), meta.config_hash.clone()),
        KeyValue::new("cuelab.model".into(), meta.model.clone()),
        KeyValue::new("cuelab.inputs".into(), meta.inputs.to_string()),
    ];
    if let Some((i, n)) = meta.shard {
        kv.push(KeyValue::new("cuelab.shard".into(), format!("{i}/{n}")));
    }
    if let Some(c) = &meta.contents {
        kv.push(KeyValue::new("cuelab.contents_sha256".into(), c.clone()));
    }
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_created_by(format!("cuelab {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(kv))
            .build(),
    );
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TaskError::io(dir, e))?;
    let tmp = cuelab_cue::atomic_file_in(dir).map_err(|e| TaskError::io(dir, e))?;
    let file: File = tmp.reopen().map_err(|e| TaskError::io(path, e))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(bad)?;
    let mut group = writer.next_row_group().map_err(bad)?;
    let mut column = 0usize;
    while let Some(mut col) = group.next_column().map_err(bad)? {
        match column {
            0 => {
                let ids: Vec<i64> = rows.iter().map(|r| r.row).collect();
                col.typed::<Int64Type>()
                    .write_batch(&ids, None, None)
                    .map_err(bad)?;
            }
            1 => {
                let values: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(r.input.as_bytes().to_vec()))
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)
                    .map_err(bad)?;
            }
            _ => {
                // One repeated leaf: every value is defined (level 1); a new row starts at
                // repetition level 0, the rest of its values continue it (level 1).
                let values: Vec<f32> = rows
                    .iter()
                    .flat_map(|r| r.embedding.iter().copied())
                    .collect();
                let def = vec![1i16; values.len()];
                let rep: Vec<i16> = rows
                    .iter()
                    .flat_map(|r| (0..r.embedding.len()).map(|k| i16::from(k > 0)))
                    .collect();
                col.typed::<FloatType>()
                    .write_batch(&values, Some(&def), Some(&rep))
                    .map_err(bad)?;
            }
        }
        col.close().map_err(bad)?;
        column += 1;
    }
    group.close().map_err(bad)?;
    writer.close().map_err(bad)?;
    tmp.persist(path)
        .map_err(|e| TaskError::io(path, e.error))?;
    Ok(())
}

/// The metadata of an embeddings file (`None` for a file written by another tool or an older
/// cuelab).
pub fn read_meta(path: &Path) -> Result<Option<PartMeta>> {
    let file = File::open(path).map_err(|e| TaskError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| invalid(path, e))?;
    let kv = reader.metadata().file_metadata().key_value_metadata();
    let get = |k: &str| {
        kv.and_then(|kv| kv.iter().find(|x| x.key == k))
            .and_then(|x| x.value.clone())
    };
    let (Some(config_hash), Some(inputs)) = (get("cuelab.config_hash"), get("cuelab.inputs"))
    else {
        return Ok(None);
    };
    let inputs = inputs
        .parse()
        .map_err(|_| invalid(path, format!("cuelab.inputs = {inputs:?}")))?;
    let shard = get("cuelab.shard")
        .map(|s| crate::shard::parse_exact(&s))
        .transpose()?;
    Ok(Some(PartMeta {
        config_hash,
        model: get("cuelab.model").unwrap_or_default(),
        inputs,
        shard,
        contents: get("cuelab.contents_sha256"),
    }))
}

/// Every row of an embeddings file, in file order.
pub fn read_rows(path: &Path) -> Result<Vec<EmbedRow>> {
    let file = File::open(path).map_err(|e| TaskError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| invalid(path, e))?;
    let mut out = Vec::new();
    for row in reader.get_row_iter(None).map_err(|e| invalid(path, e))? {
        let row = row.map_err(|e| invalid(path, e))?;
        let fields: Vec<&Field> = row.get_column_iter().map(|(_, f)| f).collect();
        let (Some(Field::Long(i)), Some(Field::Str(input)), Some(Field::ListInternal(list))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return Err(invalid(
                path,
                "not a cuelab embeddings file (row, input, embedding)",
            ));
        };
        let embedding = list
            .elements()
            .iter()
            .map(|f| match f {
                Field::Float(v) => Ok(*v),
                other => Err(invalid(path, format!("embedding value {other:?}"))),
            })
            .collect::<Result<Vec<f32>>>()?;
        out.push(EmbedRow {
            row: *i,
            input: input.clone(),
            embedding,
        });
    }
    Ok(out)
}

/// The Parquet files a merge argument names: the file itself, or the `*.parquet` files of a
/// dataset folder (sorted).
pub fn files_of(arg: &Path) -> Result<Vec<PathBuf>> {
    if !arg.is_dir() {
        return Ok(vec![arg.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(arg).map_err(|e| TaskError::io(arg, e))? {
        let p = entry.map_err(|e| TaskError::io(arg, e))?.path();
        if p.extension().is_some_and(|e| e == "parquet") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// True when `arg` is an embeddings file or a folder of embedding parts.
pub fn is_embed_input(arg: &Path) -> bool {
    files_of(arg).is_ok_and(|f| {
        !f.is_empty()
            && f.iter()
                .all(|p| p.extension().is_some_and(|e| e == "parquet"))
    })
}

/// What a merge of embedding parts wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedMerged {
    /// The model id.
    pub model: String,
    /// Rows written (the run's whole input list).
    pub rows: usize,
    /// Embedding size.
    pub dim: usize,
    /// Parts merged.
    pub parts: usize,
}

/// Merge embedding parts (files, or dataset folders of parts) into one file `out` holding every
/// row in input order — the file an unsharded run writes. Refused unless the parts are one
/// run's (same config hash) and form a complete shard set: each shard `0/N .. N-1/N` once, no
/// row twice, every input present.
pub fn merge(args: &[PathBuf], out: &Path) -> Result<EmbedMerged> {
    let mut files = Vec::new();
    for a in args {
        files.extend(files_of(a)?);
    }
    let merge_err = |m: String| TaskError::Merge(m);
    let Some(first) = files.first() else {
        return Err(merge_err("no Parquet part to merge".into()));
    };
    let metas: Vec<PartMeta> = files
        .iter()
        .map(|f| {
            read_meta(f)?.ok_or_else(|| {
                merge_err(format!(
                    "{} has no cuelab metadata (cuelab.config_hash): not a part of `cuelab \
                     embed --shard`",
                    f.display()
                ))
            })
        })
        .collect::<Result<_>>()?;
    let m0 = &metas[0];
    let count = m0.shard.map_or(1, |(_, n)| n);
    let mut seen: Vec<Option<&PathBuf>> = vec![None; count];
    for (f, m) in files.iter().zip(&metas) {
        if m.config_hash != m0.config_hash {
            return Err(TaskError::RunMismatch {
                dir: f.clone(),
                found: m.config_hash.clone(),
                expected: m0.config_hash.clone(),
            });
        }
        let (i, n) = m.shard.unwrap_or((0, 1));
        if n != count {
            return Err(merge_err(format!(
                "{} is shard {i}/{n}, {} one of {count}",
                f.display(),
                first.display()
            )));
        }
        if let Some(other) = seen[i] {
            return Err(merge_err(format!(
                "shard {i}/{n} given twice ({} and {})",
                other.display(),
                f.display()
            )));
        }
        seen[i] = Some(f);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(merge_err(format!(
            "incomplete shard set: missing shard(s) {}",
            missing.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for f in &files {
        rows.extend(read_rows(f)?);
    }
    rows.sort_by_key(|r| r.row);
    if let Some(w) = rows.windows(2).find(|w| w[0].row == w[1].row) {
        return Err(merge_err(format!("row {} is in two parts", w[0].row)));
    }
    if rows.len() != m0.inputs {
        return Err(merge_err(format!(
            "the parts hold {} rows, the run has {} inputs",
            rows.len(),
            m0.inputs
        )));
    }
    let dim = rows.first().map_or(0, |r| r.embedding.len());
    let meta = PartMeta {
        shard: None,
        contents: None,
        ..m0.clone()
    };
    write(out, &meta, &rows, dim)?;
    Ok(EmbedMerged {
        model: m0.model.clone(),
        rows: rows.len(),
        dim,
        parts: files.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ids: &[i64]) -> Vec<EmbedRow> {
        ids.iter()
            .map(|&i| EmbedRow {
                row: i,
                input: format!("ïnput {i}"),
                embedding: vec![i as f32, -0.5, f32::MIN_POSITIVE],
            })
            .collect()
    }

    fn meta(shard: Option<(usize, usize)>, hash: &str) -> PartMeta {
        PartMeta {
            config_hash: hash.into(),
            model: "m".into(),
            inputs: 5,
            shard,
            contents: Some(format!("c{}", shard.map_or(0, |(i, _)| i))),
        }
    }

    #[test]
    fn parts_merge_into_the_whole_file_and_bad_sets_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ds = tmp.path().join("e.parquet");
        write(
            &part_path(&ds, (0, 2)),
            &meta(Some((0, 2)), "h"),
            &rows(&[1, 4]),
            3,
        )
        .expect("p0");
        let p1 = part_path(&ds, (1, 2));
        write(&p1, &meta(Some((1, 2)), "h"), &rows(&[0, 2, 3]), 3).expect("p1");
        assert_eq!(read_meta(&p1).expect("meta"), Some(meta(Some((1, 2)), "h")));
        let merged =
            merge(std::slice::from_ref(&ds), &tmp.path().join("m.parquet")).expect("merge");
        assert_eq!((merged.rows, merged.dim, merged.parts), (5, 3, 2));
        assert_eq!(
            read_rows(&tmp.path().join("m.parquet")).expect("rows"),
            rows(&[0, 1, 2, 3, 4])
        );
        let err = |args: &[PathBuf]| {
            merge(args, &tmp.path().join("x.parquet"))
                .expect_err("refused")
                .to_string()
        };
        let e = err(std::slice::from_ref(&p1));
        assert!(e.contains("missing shard(s) 0/2"), "{e}");
        let e = err(&[ds.clone(), p1.clone()]);
        assert!(e.contains("given twice"), "{e}");
        let other = tmp.path().join("o.parquet");
        write(&other, &meta(Some((0, 2)), "other"), &rows(&[1, 4]), 3).expect("o");
        let e = err(&[other, p1.clone()]);
        assert!(e.contains("another configuration"), "{e}");
        let short = tmp.path().join("s.parquet");
        write(&short, &meta(Some((0, 2)), "h"), &rows(&[1]), 3).expect("s");
        let e = err(&[short, p1]);
        assert!(e.contains("4 rows") && e.contains("5 inputs"), "{e}");
        assert!(write(
            &tmp.path().join("bad.parquet"),
            &meta(None, "h"),
            &rows(&[0]),
            2
        )
        .is_err());
    }

    #[test]
    fn a_part_of_another_run_is_refused_and_left_as_it_was() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ds = tmp.path().join("e.parquet");
        let p0 = part_path(&ds, (0, 2));
        let m0 = meta(Some((0, 2)), "h");
        assert!(!check_part(&p0, &m0).expect("nothing yet"));
        write(&p0, &m0, &rows(&[1, 4]), 3).expect("p0");
        let bytes = std::fs::read(&p0).expect("read");
        assert!(check_part(&p0, &m0).expect("done"));
        let other_contents = PartMeta {
            contents: Some("edited".into()),
            ..m0.clone()
        };
        for changed in [meta(Some((0, 2)), "other"), other_contents] {
            let e = check_part(&p0, &changed).expect_err("refused").to_string();
            assert!(e.contains("another configuration"), "{e}");
        }
        // another shard of another run, or of another shard count, next to p0
        let p1 = part_path(&ds, (1, 2));
        let e = check_part(&p1, &meta(Some((1, 2)), "other"))
            .expect_err("mixed folder")
            .to_string();
        assert!(e.contains("another configuration"), "{e}");
        let e = check_part(&part_path(&ds, (1, 3)), &meta(Some((1, 3)), "h"))
            .expect_err("other shard count")
            .to_string();
        assert!(e.contains("shard 0/2"), "{e}");
        assert!(!check_part(&p1, &meta(Some((1, 2)), "h")).expect("same run"));
        assert_eq!(std::fs::read(&p0).expect("read"), bytes);
        // a file that is no cuelab part is not taken for one, nor written over
        std::fs::write(&p1, b"PAR1 not really").expect("junk");
        assert!(check_part(&p1, &meta(Some((1, 2)), "h")).is_err());
    }
}
