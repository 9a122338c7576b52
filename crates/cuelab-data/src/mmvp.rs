//! MMVP (`Questions.csv`: Index, Question, Options, Correct Answer; images `1.jpg`..`300.jpg`;
//! pairs = consecutive questions) and the MMVP-VLM variant (`Questions.csv`: Question ID, Type,
//! Statement; images `<Type>/<id>.jpg`; 9 patterns x 15 pairs).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{DataError, Result};
use crate::jsonl::Loaded;
use crate::sample::{Sample, Task};

/// Known ground-truth errata of MMVP `Questions.csv`: the listed questions carry the answer of
/// the other image of their pair. Applied (answers flipped a <-> b) only when asked.
pub const ERRATA: &[(u32, &str)] = &[
    (
        99,
        "pair 99/100: answer labels swapped between the two images",
    ),
    (
        100,
        "pair 99/100: answer labels swapped between the two images",
    ),
    (
        279,
        "pair 279/280: answer labels swapped between the two images",
    ),
    (
        280,
        "pair 279/280: answer labels swapped between the two images",
    ),
];

#[derive(Debug, Deserialize)]
struct Row {
    #[serde(rename = "Index")]
    index: u32,
    #[serde(rename = "Question")]
    question: String,
    #[serde(rename = "Options")]
    options: String,
    #[serde(rename = "Correct Answer")]
    answer: String,
}

/// Split `"(a) Open (b) Closed"` into `["Open", "Closed"]`.
pub fn parse_options(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    let mut letter = b'a';
    let tag = |l: u8| format!("({})", l as char);
    rest = rest.strip_prefix(&tag(letter))?;
    loop {
        let next = tag(letter + 1);
        match rest.find(&next) {
            Some(pos) => {
                out.push(rest[..pos].trim().to_string());
                rest = &rest[pos + next.len()..];
                letter += 1;
            }
            None => {
                out.push(rest.trim().to_string());
                break;
            }
        }
    }
    if out.len() < 2 || out.iter().any(|o| o.is_empty()) {
        return None;
    }
    Some(out)
}

/// Turn `"(a)"`, `"a"` or `"(b) Closed"` into an option index.
pub fn parse_answer(text: &str) -> Option<usize> {
    let t = text.trim().trim_start_matches('(');
    let c = t.chars().next()?.to_ascii_lowercase();
    if c.is_ascii_lowercase() {
        Some((c as u8 - b'a') as usize)
    } else {
        None
    }
}

fn find_image(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["jpg", "png", "jpeg"]
        .iter()
        .map(|e| dir.join(format!("{stem}.{e}")))
        .find(|p| p.is_file())
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> DataError + '_ {
    move |source| DataError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

/// Load MMVP. `image_dir` defaults to `MMVP Images` beside the CSV (or `images`); every image
/// must exist. With `fix_errata`, the answers in [`ERRATA`] are flipped.
pub fn load(
    csv_path: &Path,
    image_dir: Option<&Path>,
    fix_errata: bool,
    skip_bad: bool,
) -> Result<Loaded> {
    let base = csv_path.parent().unwrap_or(Path::new("."));
    let dir = match image_dir {
        Some(d) => d.to_path_buf(),
        None => ["MMVP Images", "images"]
            .iter()
            .map(|d| base.join(d))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| base.join("MMVP Images")),
    };
    let mut rdr = csv::Reader::from_path(csv_path).map_err(csv_err(csv_path))?;
    let mut out = Loaded::default();
    for (line, row) in rdr.deserialize::<Row>().enumerate() {
        let res = (|| {
            let row = row.map_err(csv_err(csv_path))?;
            let record = format!("Index {}", row.index);
            let choices = parse_options(&row.options).ok_or_else(|| {
                DataError::record(csv_path, &record, format!("bad Options {:?}", row.options))
            })?;
            let mut ans = parse_answer(&row.answer)
                .filter(|&a| a < choices.len())
                .ok_or_else(|| {
                    DataError::record(
                        csv_path,
                        &record,
                        format!("bad Correct Answer {:?}", row.answer),
                    )
                })?;
            if fix_errata && choices.len() == 2 && ERRATA.iter().any(|(i, _)| *i == row.index) {
                ans = 1 - ans;
            }
            let image = find_image(&dir, &row.index.to_string()).ok_or_else(|| {
                DataError::MissingMedia {
                    path: csv_path.to_path_buf(),
                    record: record.clone(),
                    media: dir.join(format!("{}.jpg", row.index)),
                }
            })?;
            let mut s = Sample::new(format!("mmvp-{}", row.index), "mmvp", Task::MultipleChoice);
            s.image = Some(image);
            s.question = Some(row.question);
            s.answer = Some(choices[ans].clone());
            s.answer_index = Some(ans);
            s.choices = choices;
            s.pair_id = Some(format!("mmvp-pair-{}", row.index.div_ceil(2)));
            Ok(s)
        })();
        match res {
            Ok(s) => out.samples.push(s),
            Err(e) if skip_bad => out.skipped.push(e),
            Err(e) => {
                return Err(match e {
                    DataError::Csv { .. } => {
                        DataError::record(csv_path, format!("row {}", line + 2), e.to_string())
                    }
                    e => e,
                })
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct VlmRow {
    #[serde(rename = "Question ID")]
    id: u32,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Statement")]
    statement: String,
}

/// Load MMVP-VLM: one sample per statement, whose choices are its own statement and its pair
/// partner's (answer index 0); `qtype` is the visual pattern. Images are `image_dir/<Type>/<id>.jpg`
/// (`image_dir` defaults to `MLLM_VLM Images` beside the CSV).
pub fn load_vlm(csv_path: &Path, image_dir: Option<&Path>, skip_bad: bool) -> Result<Loaded> {
    let base = csv_path.parent().unwrap_or(Path::new("."));
    let dir = image_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| base.join("MLLM_VLM Images"));
    let mut rdr = csv::Reader::from_path(csv_path).map_err(csv_err(csv_path))?;
    let mut rows = Vec::new();
    let mut out = Loaded::default();
    for (line, row) in rdr.deserialize::<VlmRow>().enumerate() {
        match row {
            Ok(r) => rows.push(r),
            Err(e) => {
                let e = DataError::record(csv_path, format!("row {}", line + 2), e.to_string());
                if skip_bad {
                    out.skipped.push(e);
                } else {
                    return Err(e);
                }
            }
        }
    }
    for row in &rows {
        let record = format!("Question ID {}", row.id);
        // Pairs are (1, 2), (3, 4), ...: an odd id's partner follows it, an even id's precedes
        // it. Id 0 (or one at the top of the integer range) has no partner.
        let partner_id = if row.id % 2 == 1 {
            row.id.checked_add(1)
        } else {
            row.id.checked_sub(1)
        };
        let res = (|| {
            let partner_id = partner_id
                .ok_or_else(|| DataError::record(csv_path, &record, "Question IDs start at 1"))?;
            let partner = rows.iter().find(|r| r.id == partner_id).ok_or_else(|| {
                DataError::record(
                    csv_path,
                    &record,
                    format!("pair partner {partner_id} missing"),
                )
            })?;
            let image = find_image(&dir.join(&row.kind), &row.id.to_string()).ok_or_else(|| {
                DataError::MissingMedia {
                    path: csv_path.to_path_buf(),
                    record: record.clone(),
                    media: dir.join(&row.kind).join(format!("{}.jpg", row.id)),
                }
            })?;
            let mut s = Sample::new(
                format!("mmvp-vlm-{}", row.id),
                "mmvp-vlm",
                Task::MultipleChoice,
            );
            s.image = Some(image);
            s.choices = vec![row.statement.clone(), partner.statement.clone()];
            s.answer = Some(row.statement.clone());
            s.answer_index = Some(0);
            s.qtype = Some(row.kind.clone());
            s.pair_id = Some(format!("mmvp-vlm-pair-{}", row.id.div_ceil(2)));
            Ok(s)
        })();
        match res {
            Ok(s) => out.samples.push(s),
            Err(e) if skip_bad => out.skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_answers() {
        assert_eq!(
            parse_options("(a) Open (b) Closed").unwrap(),
            vec!["Open", "Closed"]
        );
        assert_eq!(parse_options("(a) x (b) y (c) z").unwrap().len(), 3);
        assert!(parse_options("Open or closed").is_none());
        assert_eq!(parse_answer("(b)"), Some(1));
        assert_eq!(parse_answer("a"), Some(0));
        assert_eq!(parse_answer(""), None);
    }
}
