//! What the miner writes: `pairs.jsonl` and `pairs.parquet` (both paths, both cosines, the gap;
//! sorted by gap), `duplicates.jsonl`, a contact-sheet PNG and the MMVP-layout skeleton
//! (`Questions.csv` + `images/`, question, options and answer left for a person to write).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::{imageops, Rgb, RgbImage};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;

use super::run::write_atomic;
use super::Candidate;
use crate::error::{Result, TaskError};

/// One output row.
#[derive(Debug, Clone, Serialize)]
pub struct PairRow<'a> {
    /// 1-based position in the gap order.
    pub rank: usize,
    /// Row of the first image.
    pub i: u32,
    /// Row of the second image.
    pub j: u32,
    /// Path (label) of the first image.
    pub path_a: &'a str,
    /// Path (label) of the second image.
    pub path_b: &'a str,
    /// CLIP cosine.
    pub clip: f32,
    /// DINOv2 cosine.
    pub dino: f32,
    /// `clip - dino`.
    pub gap: f32,
}

/// The rows of `pairs` (in their order) with their labels.
pub fn rows<'a>(pairs: &[Candidate], labels: &'a [String]) -> Vec<PairRow<'a>> {
    pairs
        .iter()
        .enumerate()
        .map(|(k, c)| PairRow {
            rank: k + 1,
            i: c.i,
            j: c.j,
            path_a: &labels[c.i as usize],
            path_b: &labels[c.j as usize],
            clip: c.clip,
            dino: c.dino,
            gap: c.gap(),
        })
        .collect()
}

/// Write one JSON object per pair.
pub fn write_jsonl(path: &Path, pairs: &[Candidate], labels: &[String]) -> Result<()> {
    let mut text = String::new();
    for r in rows(pairs, labels) {
        text.push_str(&serde_json::to_string(&r).map_err(|e| TaskError::Config(e.to_string()))?);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

const SCHEMA: &str = "
message pairs {
  required int64 rank;
  required int64 i;
  required int64 j;
  required binary path_a (STRING);
  required binary path_b (STRING);
  required float clip;
  required float dino;
  required float gap;
}";

/// Write the pairs as Parquet (columns of [`PairRow`]).
pub fn write_parquet(path: &Path, pairs: &[Candidate], labels: &[String]) -> Result<()> {
    let bad = |e: parquet::errors::ParquetError| TaskError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let rows = rows(pairs, labels);
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(bad)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_created_by(format!("cuelab {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = cuelab_cue::atomic_file_in(dir).map_err(|e| TaskError::io(dir, e))?;
    let file = tmp.reopen().map_err(|e| TaskError::io(path, e))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(bad)?;
    let mut group = writer.next_row_group().map_err(bad)?;
    let mut column = 0usize;
    while let Some(mut col) = group.next_column().map_err(bad)? {
        match column {
            0..=2 => {
                let v: Vec<i64> = rows
                    .iter()
                    .map(|r| match column {
                        0 => r.rank as i64,
                        1 => i64::from(r.i),
                        _ => i64::from(r.j),
                    })
                    .collect();
                col.typed::<Int64Type>()
                    .write_batch(&v, None, None)
                    .map_err(bad)?;
            }
            3 | 4 => {
                let v: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| {
                        let s = if column == 3 { r.path_a } else { r.path_b };
                        ByteArray::from(s.as_bytes().to_vec())
                    })
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&v, None, None)
                    .map_err(bad)?;
            }
            _ => {
                let v: Vec<f32> = rows
                    .iter()
                    .map(|r| match column {
                        5 => r.clip,
                        6 => r.dino,
                        _ => r.gap,
                    })
                    .collect();
                col.typed::<FloatType>()
                    .write_batch(&v, None, None)
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

/// The first `max` pairs (in order) in which no image appears twice: the pairs of a benchmark.
pub fn distinct_pairs(pairs: &[Candidate], max: usize) -> Vec<Candidate> {
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::new();
    for c in pairs {
        if out.len() >= max {
            break;
        }
        if !used.contains(&c.i) && !used.contains(&c.j) {
            used.insert(c.i);
            used.insert(c.j);
            out.push(*c);
        }
    }
    out
}

fn load(path: &str) -> Option<RgbImage> {
    image::open(path).ok().map(|i| i.to_rgb8())
}

fn thumbnail(img: Option<&RgbImage>, side: u32) -> RgbImage {
    let mut tile = RgbImage::from_pixel(side, side, Rgb([96, 96, 96]));
    if let Some(img) = img {
        let scale = f64::from(side) / f64::from(img.width().max(img.height()).max(1));
        let (w, h) = (
            ((f64::from(img.width()) * scale).round() as u32).clamp(1, side),
            ((f64::from(img.height()) * scale).round() as u32).clamp(1, side),
        );
        let t = imageops::thumbnail(img, w, h);
        imageops::overlay(
            &mut tile,
            &t,
            i64::from((side - w) / 2),
            i64::from((side - h) / 2),
        );
    }
    tile
}

/// A PNG grid of `pairs` (one pair per row: two `side`-pixel tiles, 8 px apart; a missing or
/// unreadable image is a grey tile). Returns the labels that could not be read.
pub fn contact_sheet(
    path: &Path,
    pairs: &[Candidate],
    labels: &[String],
    side: u32,
) -> Result<Vec<String>> {
    let pad = 8u32;
    let rows = pairs.len().max(1) as u32;
    let mut sheet = RgbImage::from_pixel(
        2 * side + 3 * pad,
        rows * (side + pad) + pad,
        Rgb([255, 255, 255]),
    );
    let mut missing = Vec::new();
    for (k, c) in pairs.iter().enumerate() {
        for (col, idx) in [c.i, c.j].into_iter().enumerate() {
            let label = &labels[idx as usize];
            let img = load(label);
            if img.is_none() {
                missing.push(label.clone());
            }
            let tile = thumbnail(img.as_ref(), side);
            imageops::overlay(
                &mut sheet,
                &tile,
                i64::from(pad + col as u32 * (side + pad)),
                i64::from(pad + k as u32 * (side + pad)),
            );
        }
    }
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(sheet)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| TaskError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    write_atomic(path, &bytes)?;
    Ok(missing)
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The question, options and answer written for a person to replace.
pub const QUESTION_TODO: &str =
    "TODO: write a question whose answer differs between the two images of this pair";
/// The options placeholder (parses as two options).
pub const OPTIONS_TODO: &str = "(a) TODO first option (b) TODO second option";
/// The answer placeholder.
pub const ANSWER_TODO: &str = "(a)";

/// Write the MMVP layout into `dir`: `images/<k>.jpg` (JPEG, quality 95) for the two images of
/// each pair (pair `p` is rows `2p-1`, `2p`), `Questions.csv` (`Index,Question,Options,Correct
/// Answer` with placeholders) and `sources.csv` (which image each index came from, with the
/// cosines). Every image must be readable.
pub fn mmvp_skeleton(dir: &Path, pairs: &[Candidate], labels: &[String]) -> Result<PathBuf> {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).map_err(|e| TaskError::io(&images, e))?;
    let mut questions = String::from("Index,Question,Options,Correct Answer\n");
    let mut sources = String::from("Index,Pair,Source,CLIP cosine,DINOv2 cosine,Gap\n");
    for (p, c) in pairs.iter().enumerate() {
        for (side, row) in [c.i, c.j].into_iter().enumerate() {
            let index = 2 * p + side + 1;
            let label = &labels[row as usize];
            let img = image::open(label)
                .map_err(|e| TaskError::Invalid {
                    path: PathBuf::from(label),
                    message: format!("cannot read the image for the MMVP layout: {e}"),
                })?
                .to_rgb8();
            let out = images.join(format!("{index}.jpg"));
            let f = File::create(&out).map_err(|e| TaskError::io(&out, e))?;
            let mut w = BufWriter::new(f);
            JpegEncoder::new_with_quality(&mut w, 95)
                .encode_image(&img)
                .map_err(|e| TaskError::Invalid {
                    path: out.clone(),
                    message: e.to_string(),
                })?;
            w.flush().map_err(|e| TaskError::io(&out, e))?;
            questions.push_str(&format!(
                "{index},{},{},{}\n",
                csv_field(QUESTION_TODO),
                csv_field(OPTIONS_TODO),
                csv_field(ANSWER_TODO)
            ));
            sources.push_str(&format!(
                "{index},{},{},{},{},{}\n",
                p + 1,
                csv_field(label),
                c.clip,
                c.dino,
                c.gap()
            ));
        }
    }
    write_atomic(&dir.join("Questions.csv"), questions.as_bytes())?;
    write_atomic(&dir.join("sources.csv"), sources.as_bytes())?;
    Ok(dir.join("Questions.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::Kind;

    #[test]
    fn distinct_pairs_use_each_image_once() {
        let c = |i, j| Candidate {
            i,
            j,
            clip: 1.0,
            dino: 0.0,
            kind: Kind::Blind,
        };
        let got = distinct_pairs(&[c(0, 1), c(1, 2), c(2, 3), c(4, 5)], 2);
        assert_eq!(got, vec![c(0, 1), c(2, 3)]);
    }
}
