//! Minimal `.npy` (NumPy format 1.0/2.0) reading and writing for little-endian float32 arrays.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// A float32 array read from `.npy`.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyF32 {
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

fn invalid(path: &Path, msg: &str) -> Error {
    Error::Invalid(format!("{}: {msg}", path.display()))
}

/// Read a little-endian float32 C-order `.npy` file.
pub fn read_f32(path: &Path) -> Result<NpyF32> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(invalid(path, "not a .npy file"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(invalid(path, "unsupported .npy version")),
    };
    let header = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| invalid(path, "bad header"))?;
    if !header.contains("'descr': '<f4'") {
        return Err(invalid(
            path,
            "only little-endian float32 ('<f4') is supported",
        ));
    }
    if header.contains("'fortran_order': True") {
        return Err(invalid(path, "Fortran order is not supported"));
    }
    let shape_str = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| invalid(path, "no shape in header"))?;
    let shape: Vec<usize> = shape_str
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| invalid(path, "bad shape"))?;
    let n: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    if body.len() != n * 4 {
        return Err(invalid(path, "data length does not match shape"));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(NpyF32 { shape, data })
}

/// Write rows of equal length as a 2-D float32 `.npy` (`rows x dim`; `dim` used when there are no rows).
pub fn write_f32_2d(path: &Path, rows: &[Vec<f32>], dim: usize) -> Result<()> {
    let dim = rows.first().map(Vec::len).unwrap_or(dim);
    write_f32_shaped(path, rows, &[rows.len(), dim])
}

/// Write rows as a float32 `.npy` of `shape` (C order; `shape[0]` rows of `product(shape[1..])`
/// values each), e.g. `(words, grid rows, grid cols)`.
pub fn write_f32_shaped(path: &Path, rows: &[Vec<f32>], shape: &[usize]) -> Result<()> {
    let dim: usize = shape.iter().skip(1).product();
    if shape.first() != Some(&rows.len()) || rows.iter().any(|r| r.len() != dim) {
        return Err(Error::Invalid(format!(
            "{} rows do not fit the shape {shape:?}",
            rows.len()
        )));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Pad so that magic(6) + version(2) + len(2) + header + '\n' is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut buf = Vec::with_capacity(10 + header.len() + rows.len() * dim * 4);
    buf.extend_from_slice(b"\x93NUMPY\x01\x00");
    buf.extend_from_slice(&(header.len() as u16).to_le_bytes());
    buf.extend_from_slice(header.as_bytes());
    for r in rows {
        for v in r {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(&buf).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.npy");
        let rows = vec![vec![1.0, -2.5, 3.0], vec![0.0, 1e-7, f32::MAX]];
        write_f32_2d(&p, &rows, 3).expect("write");
        let a = read_f32(&p).expect("read");
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, rows.concat());
        write_f32_2d(&p, &[], 7).expect("write empty");
        assert_eq!(read_f32(&p).expect("read").shape, vec![0, 7]);
    }
}
