//! Reading the regions a cue is drawn on (`cuelab render`): a JSON file of boxes or region
//! objects ([`read_targets`]) and trajectory points given as text ([`parse_points`]).

use std::path::Path;

use cuelab_cue::region_json::{BoxLayout, RegionEntry};
use cuelab_cue::Target;

use crate::error::{Result, TaskError};

/// Read a JSON file of regions (a list of boxes `[x0,y0,x1,y1]` or objects with `box`, `label`,
/// `points`, `polygon`, `rle`), box numbers laid out as `layout`, one [`Target`] per entry (its
/// `index` is the entry's position). An empty list is an error.
pub fn read_targets(file: &Path, layout: BoxLayout) -> Result<Vec<Target>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        TaskError::context(format!("cannot read regions file {}", file.display()), e)
    })?;
    let entries: Vec<RegionEntry> = serde_json::from_str(&text).map_err(|e| {
        TaskError::context(
            format!(
                "{}: expected a JSON list of boxes or region objects",
                file.display()
            ),
            e,
        )
    })?;
    if entries.is_empty() {
        return Err(TaskError::Usage(format!(
            "{}: the list of regions is empty",
            file.display()
        )));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            e.into_target(index, layout).map_err(|err| {
                TaskError::context(format!("{}: region #{index}", file.display()), err)
            })
        })
        .collect()
}

/// Parse trajectory points written `x,y;x,y;...` (empty parts between `;` are skipped).
pub fn parse_points(text: &str) -> Result<Vec<(f32, f32)>> {
    let number = |pair: &str, v: &str| -> Result<f32> {
        v.parse()
            .map_err(|e| TaskError::context(format!("bad point {pair:?}"), e))
    };
    text.split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let xy: Vec<&str> = pair.split(',').map(str::trim).collect();
            match xy.as_slice() {
                [x, y] => Ok((number(pair, x)?, number(pair, y)?)),
                _ => Err(TaskError::Usage(format!(
                    "bad point {pair:?}: expected x,y"
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn points_parse_and_bad_points_are_named() {
        assert_eq!(
            parse_points("1,2; 3.5,4;").unwrap(),
            vec![(1.0, 2.0), (3.5, 4.0)]
        );
        let e = parse_points("1,2;3").unwrap_err();
        assert_eq!(e.to_string(), "bad point \"3\": expected x,y");
        let e = parse_points("1,x").unwrap_err();
        assert_eq!(e.to_string(), "bad point \"1,x\"");
    }
}
