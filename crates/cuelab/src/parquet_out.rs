//! Embeddings as a Parquet file: one row per input with its position, a label (the image path or
//! the text) and the embedding as a `list<float>` column — what pandas/pyarrow/polars read as an
//! array per row.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

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

/// Write `rows` (each `dim` long) with their `labels` to `path` (written to a temporary file
/// beside it, then renamed, so a killed run never leaves a torn file behind).
pub fn write_embeddings(
    path: &Path,
    labels: &[String],
    rows: &[Vec<f32>],
    dim: usize,
) -> Result<()> {
    if labels.len() != rows.len() {
        bail!("{} labels for {} rows", labels.len(), rows.len());
    }
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != dim) {
        bail!("row {i} has {} values, expected {dim}", r.len());
    }
    let schema = Arc::new(parse_message_type(SCHEMA).context("embeddings schema")?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_created_by(format!("cuelab {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or_else(|| Path::new(".")))
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))?;
    let file: File = tmp.reopen().context("reopening the temporary file")?;
    let mut writer = SerializedFileWriter::new(file, schema, props).context("parquet writer")?;
    let mut group = writer.next_row_group().context("parquet row group")?;
    let mut column = 0usize;
    while let Some(mut col) = group.next_column().context("parquet column")? {
        match column {
            0 => {
                let ids: Vec<i64> = (0..rows.len() as i64).collect();
                col.typed::<Int64Type>().write_batch(&ids, None, None)?;
            }
            1 => {
                let values: Vec<ByteArray> = labels
                    .iter()
                    .map(|l| ByteArray::from(l.as_bytes().to_vec()))
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
            _ => {
                // One repeated leaf: every value is defined (level 1); a new row starts at
                // repetition level 0, the rest of its values continue it (level 1).
                let values: Vec<f32> = rows.iter().flatten().copied().collect();
                let def = vec![1i16; values.len()];
                let rep: Vec<i16> = rows
                    .iter()
                    .flat_map(|r| (0..r.len()).map(|k| i16::from(k > 0)))
                    .collect();
                col.typed::<FloatType>()
                    .write_batch(&values, Some(&def), Some(&rep))?;
            }
        }
        col.close()?;
        column += 1;
    }
    group.close()?;
    writer.close().context("finishing the parquet file")?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    #[test]
    fn round_trip_rows_labels_and_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.parquet");
        let rows = vec![vec![1.0, -2.5, 3.25], vec![0.0, 0.5, f32::MIN_POSITIVE]];
        let labels = vec!["a dog".to_string(), "ünïcode".to_string()];
        write_embeddings(&path, &labels, &rows, 3).expect("write");
        let reader = SerializedFileReader::new(File::open(&path).expect("open")).expect("reader");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let mut seen = Vec::new();
        for row in reader.get_row_iter(None).expect("rows") {
            let row = row.expect("row");
            let fields: Vec<_> = row.get_column_iter().map(|(_, f)| f.clone()).collect();
            let (Field::Long(i), Field::Str(label), Field::ListInternal(list)) =
                (&fields[0], &fields[1], &fields[2])
            else {
                panic!("unexpected fields {fields:?}");
            };
            let values: Vec<f32> = list
                .elements()
                .iter()
                .map(|f| match f {
                    Field::Float(v) => *v,
                    other => panic!("not a float: {other:?}"),
                })
                .collect();
            seen.push((*i, label.clone(), values));
        }
        assert_eq!(seen.len(), 2);
        for (k, (i, label, values)) in seen.into_iter().enumerate() {
            assert_eq!(i, k as i64);
            assert_eq!(label, labels[k]);
            assert_eq!(values, rows[k]);
        }
    }

    #[test]
    fn mismatched_rows_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.parquet");
        let err = write_embeddings(&path, &["x".into()], &[vec![1.0, 2.0]], 3).unwrap_err();
        assert!(err.to_string().contains("row 0 has 2 values"), "{err}");
        assert!(!path.exists());
    }
}
