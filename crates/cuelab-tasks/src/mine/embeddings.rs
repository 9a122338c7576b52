//! Embedding sources of the miner: a row-major matrix with one label (image path) per row, read
//! from `.npy` + list or from Parquet (as `cuelab embed` writes them), or computed with an
//! encoder of `cuelab-models` through the SQLite embedding cache.

use std::fs::File;
use std::path::{Path, PathBuf};

use cuelab_cue::decode_rgb;
use cuelab_models::cache::{file_hash, image_hash, EmbeddingCache};
use cuelab_models::{npy, ImageEmbedder};
use indicatif::{ProgressBar, ProgressStyle};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Result, TaskError};

/// A matrix of embeddings, one row per labelled input.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// One label per row (the image path).
    pub labels: Vec<String>,
    /// Values per row.
    pub dim: usize,
    /// `labels.len() * dim` values, row-major.
    pub data: Vec<f32>,
}

fn invalid(path: &Path, message: impl Into<String>) -> TaskError {
    TaskError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl Embeddings {
    /// A matrix from its parts; the sizes must agree and every value be finite.
    pub fn new(labels: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || labels.len() * dim != data.len() {
            return Err(TaskError::Config(format!(
                "{} labels x {dim} values do not make {} values",
                labels.len(),
                data.len()
            )));
        }
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            return Err(TaskError::Config(format!(
                "row {} ({}) has a non-finite value",
                k / dim,
                labels[k / dim]
            )));
        }
        Ok(Embeddings { labels, dim, data })
    }

    /// A matrix from rows of equal length.
    pub fn from_rows(labels: Vec<String>, rows: &[Vec<f32>]) -> Result<Self> {
        let dim = rows.first().map_or(0, Vec::len);
        if let Some((k, _)) = rows.iter().enumerate().find(|(_, r)| r.len() != dim) {
            return Err(TaskError::Config(format!(
                "row {k} has {} values, the first {dim}",
                rows[k].len()
            )));
        }
        Embeddings::new(labels, dim, rows.concat())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Scale every row to unit L2 norm (accumulated in f64); an all-zero row is an error.
    pub fn normalize(&mut self) -> Result<()> {
        let dim = self.dim;
        for (k, row) in self.data.chunks_exact_mut(dim).enumerate() {
            let norm = row
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt();
            if norm == 0.0 {
                return Err(TaskError::Config(format!(
                    "row {k} ({}) is all zeros and has no direction",
                    self.labels[k]
                )));
            }
            for v in row.iter_mut() {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
        Ok(())
    }

    /// Write the matrix to `.npy` (float32) and the labels to a list beside it, one per line.
    pub fn save(&self, npy_path: &Path, list_path: &Path) -> Result<()> {
        let rows: Vec<Vec<f32>> = self
            .data
            .chunks_exact(self.dim)
            .map(<[f32]>::to_vec)
            .collect();
        npy::write_f32_2d(npy_path, &rows, self.dim)?;
        let mut text = self.labels.join("\n");
        text.push('\n');
        std::fs::write(list_path, text).map_err(|e| TaskError::io(list_path, e))
    }
}

/// Read a list file: one entry per non-empty line (a label may not contain a newline).
pub fn read_list(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Read a float32 `(rows, dim)` `.npy` with its labels (`list`: one per line, or `None` for the
/// row numbers).
pub fn read_npy(path: &Path, list: Option<&Path>) -> Result<Embeddings> {
    let a = npy::read_f32(path)?;
    let [rows, dim] = a.shape[..] else {
        return Err(invalid(
            path,
            format!("expected a 2-D array, found shape {:?}", a.shape),
        ));
    };
    let labels = match list {
        Some(l) => read_list(l)?,
        None => (0..rows).map(|r| r.to_string()).collect(),
    };
    if labels.len() != rows {
        return Err(invalid(
            path,
            format!("{rows} rows but {} labels in the list", labels.len()),
        ));
    }
    Embeddings::new(labels, dim, a.data).map_err(|e| invalid(path, e.to_string()))
}

/// Read a Parquet file as written by `cuelab embed` (columns `row`, `input`, `embedding`),
/// ordered by `row`.
pub fn read_parquet(path: &Path) -> Result<Embeddings> {
    let bad = |m: String| invalid(path, m);
    let file = File::open(path).map_err(|e| TaskError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(e.to_string()))?;
    let mut rows: Vec<(i64, String, Vec<f32>)> = Vec::new();
    for row in reader.get_row_iter(None).map_err(|e| bad(e.to_string()))? {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let (mut id, mut label, mut values) = (None, None, None);
        for (name, field) in row.get_column_iter() {
            match (name.as_str(), field) {
                ("row", Field::Long(v)) => id = Some(*v),
                ("input", Field::Str(s)) => label = Some(s.clone()),
                ("embedding", Field::ListInternal(list)) => {
                    let v: Option<Vec<f32>> = list
                        .elements()
                        .iter()
                        .map(|f| match f {
                            Field::Float(x) => Some(*x),
                            Field::Double(x) => Some(*x as f32),
                            _ => None,
                        })
                        .collect();
                    values = Some(v.ok_or_else(|| bad("non-float in `embedding`".into()))?);
                }
                _ => {}
            }
        }
        let n = rows.len();
        let (Some(label), Some(values)) = (label, values) else {
            return Err(bad(format!(
                "row {n}: needs the columns `input` (string) and `embedding` (list of float)"
            )));
        };
        rows.push((id.unwrap_or(n as i64), label, values));
    }
    rows.sort_by_key(|r| r.0);
    let labels = rows.iter().map(|r| r.1.clone()).collect();
    let values: Vec<Vec<f32>> = rows.into_iter().map(|r| r.2).collect();
    Embeddings::from_rows(labels, &values).map_err(|e| bad(e.to_string()))
}

/// Read precomputed embeddings by extension: `.npy` (labels from `list`) or `.parquet`.
pub fn read_precomputed(path: &Path, list: Option<&Path>) -> Result<Embeddings> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => read_npy(path, list),
        Some("parquet") => read_parquet(path),
        _ => Err(invalid(
            path,
            "precomputed embeddings end in .npy or .parquet",
        )),
    }
}

/// Whether `reference` names a precomputed embeddings file rather than a model.
pub fn is_precomputed(reference: &str) -> bool {
    let p = Path::new(reference);
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("npy" | "parquet")
    ) && p.is_file()
}

/// The images to embed: a directory (its image files, recursively, sorted), a list file (one
/// path per line, relative to the list's folder) or a COCO-style JSON (`images[].file_name`,
/// relative to the JSON's folder).
pub fn list_images(source: &Path) -> Result<Vec<PathBuf>> {
    const EXTS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "bmp", "gif"];
    if source.is_dir() {
        let mut out = Vec::new();
        let mut stack = vec![source.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| TaskError::io(&dir, e))? {
                let p = entry.map_err(|e| TaskError::io(&dir, e))?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTS.contains(&e.to_ascii_lowercase().as_str()))
                {
                    out.push(p);
                }
            }
        }
        out.sort();
        return Ok(out);
    }
    let base = source.parent().unwrap_or(Path::new("."));
    let names: Vec<String> = match source.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            let text = std::fs::read_to_string(source).map_err(|e| TaskError::io(source, e))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| invalid(source, e.to_string()))?;
            let images = v
                .get("images")
                .and_then(|i| i.as_array())
                .ok_or_else(|| invalid(source, "no `images` array (COCO layout)"))?;
            images
                .iter()
                .enumerate()
                .map(|(k, im)| {
                    im.get("file_name")
                        .and_then(|f| f.as_str())
                        .map(str::to_string)
                        .ok_or_else(|| invalid(source, format!("images[{k}] has no file_name")))
                })
                .collect::<Result<_>>()?
        }
        _ => read_list(source)?,
    };
    Ok(names
        .into_iter()
        .map(|n| {
            let p = PathBuf::from(&n);
            if p.is_absolute() {
                p
            } else {
                base.join(p)
            }
        })
        .collect())
}

/// What [`embed_images`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EmbedCounts {
    /// Images embedded (rows).
    pub images: usize,
    /// Images decoded (their file bytes were not known to the cache with an embedding).
    pub decoded: usize,
    /// Images whose embedding came from the cache through their file bytes, without decoding.
    pub by_file: usize,
}

/// Embed `images` with `model`, `batch` images at a time (one forward pass each), through
/// `cache`: each file's bytes are read and hashed ([`file_hash`]); when the cache knows the
/// decoded pixels of those bytes and holds their embedding, the row is read without decoding;
/// the others are decoded from the same bytes, encoded (or found by their pixels), and stored
/// with their file-to-pixels mapping after each batch, so a killed run loses at most one batch.
/// An unreadable image stops the run with its path.
pub fn embed_images(
    model: &dyn ImageEmbedder,
    images: &[PathBuf],
    cache: &mut EmbeddingCache,
    batch: usize,
    progress: bool,
) -> Result<(Embeddings, EmbedCounts)> {
    let bar = if progress {
        ProgressBar::new(images.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(model.id().to_string());
    let mut counts = EmbedCounts {
        images: images.len(),
        ..EmbedCounts::default()
    };
    let mut data = Vec::with_capacity(images.len() * model.embed_dim());
    for chunk in images.chunks(batch.max(1)) {
        let files = chunk
            .par_iter()
            .map(|p| {
                let bytes = std::fs::read(p).map_err(|e| TaskError::io(p, e))?;
                let hash = file_hash(&bytes);
                Ok((bytes, hash))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut rows: Vec<Option<Vec<f32>>> = Vec::with_capacity(chunk.len());
        let mut known: Vec<Option<String>> = Vec::with_capacity(chunk.len());
        for (_, hash) in &files {
            let content = cache.file_content(hash)?;
            let row = match &content {
                Some(c) => cache.get(&EmbeddingCache::image_key(model, c, ""))?,
                None => None,
            };
            rows.push(row);
            known.push(content);
        }
        let todo: Vec<usize> = (0..chunk.len()).filter(|&k| rows[k].is_none()).collect();
        counts.by_file += chunk.len() - todo.len();
        if !todo.is_empty() {
            // The pixel hash of bytes decoded before (by another model's pass) is not recomputed.
            let decoded = todo
                .par_iter()
                .map(|&k| {
                    let rgb = decode_rgb(&files[k].0, &chunk[k])?;
                    let content = known[k].clone().unwrap_or_else(|| image_hash(&rgb));
                    Ok((rgb, content))
                })
                .collect::<Result<Vec<_>>>()?;
            counts.decoded += decoded.len();
            let (pixels, contents): (Vec<_>, Vec<_>) = decoded.into_iter().unzip();
            let fresh = cache.encode_hashed_images(model, &pixels, &contents, "", Some(batch))?;
            let mapping: Vec<(String, String)> = todo
                .iter()
                .zip(&contents)
                .map(|(&k, c)| (files[k].1.clone(), c.clone()))
                .collect();
            cache.put_file_contents(&mapping)?;
            for (&k, row) in todo.iter().zip(fresh) {
                rows[k] = Some(row);
            }
        }
        for row in rows {
            data.extend(row.ok_or_else(|| TaskError::Compute("an embedding is missing".into()))?);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let labels = images.iter().map(|p| p.display().to_string()).collect();
    Ok((Embeddings::new(labels, model.embed_dim(), data)?, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_and_reject_zero_rows() {
        let mut e =
            Embeddings::new(vec!["a".into(), "b".into()], 2, vec![3.0, 4.0, 0.0, 2.0]).unwrap();
        e.normalize().unwrap();
        assert_eq!(e.row(0), &[0.6, 0.8]);
        assert_eq!(e.row(1), &[0.0, 1.0]);
        let mut z = Embeddings::new(vec!["z".into()], 2, vec![0.0, 0.0]).unwrap();
        assert!(z.normalize().unwrap_err().to_string().contains("z"));
        assert!(Embeddings::new(vec!["a".into()], 2, vec![1.0]).is_err());
        assert!(Embeddings::new(vec!["a".into()], 1, vec![f32::NAN]).is_err());
    }

    #[test]
    fn npy_with_list_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let e = Embeddings::new(vec!["x.jpg".into(), "y.jpg".into()], 3, vec![1.0; 6]).unwrap();
        e.save(&dir.path().join("e.npy"), &dir.path().join("e.txt"))
            .unwrap();
        let back = read_npy(&dir.path().join("e.npy"), Some(&dir.path().join("e.txt"))).unwrap();
        assert_eq!(back, e);
        std::fs::write(dir.path().join("short.txt"), "x.jpg\n").unwrap();
        let err = read_npy(
            &dir.path().join("e.npy"),
            Some(&dir.path().join("short.txt")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("2 rows but 1 labels"), "{err}");
    }
}
