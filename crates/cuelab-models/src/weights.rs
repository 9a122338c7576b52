//! Safetensors loading with content hashing and errors that name the file and tensor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// All tensors of one safetensors file, with the file's SHA-256.
#[derive(Debug, Clone)]
pub struct Weights {
    path: PathBuf,
    sha256: String,
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    /// Read and parse a safetensors file onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let tensors =
            candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| Error::Weights {
                path: path.to_path_buf(),
                tensor: String::new(),
                message: format!("not a valid safetensors file: {e}"),
            })?;
        Ok(Weights {
            path: path.to_path_buf(),
            sha256,
            tensors,
        })
    }

    /// Several safetensors files (the shards of one checkpoint) as one set of tensors; the hash
    /// is the SHA-256 of the shards' hashes in the given order, `path` the first shard.
    pub fn load_many(paths: &[PathBuf], device: &Device) -> Result<Self> {
        let mut all: Option<Weights> = None;
        let mut hasher = Sha256::new();
        for p in paths {
            let w = Weights::load(p, device)?;
            hasher.update(w.sha256.as_bytes());
            match &mut all {
                None => all = Some(w),
                Some(a) => a.tensors.extend(w.tensors),
            }
        }
        let mut all = all.ok_or_else(|| Error::Invalid("no weight files given".into()))?;
        if paths.len() > 1 {
            all.sha256 = hex(&hasher.finalize());
        }
        Ok(all)
    }

    /// Replace a tensor by one of the same shape (e.g. a merged LoRA weight).
    pub fn replace(&mut self, name: &str, tensor: Tensor) -> Result<()> {
        let old = self.tensors.get(name).ok_or_else(|| Error::Weights {
            path: self.path.clone(),
            tensor: name.to_string(),
            message: "missing".into(),
        })?;
        if old.dims() != tensor.dims() {
            return Err(Error::Weights {
                path: self.path.clone(),
                tensor: name.to_string(),
                message: format!(
                    "replacement shape {:?}, expected {:?}",
                    tensor.dims(),
                    old.dims()
                ),
            });
        }
        self.tensors.insert(name.to_string(), tensor);
        Ok(())
    }

    /// Set the content hash (e.g. after merging an adapter, to a hash of base and adapter).
    pub fn set_sha256(&mut self, sha256: String) {
        self.sha256 = sha256;
    }

    /// Read safetensors, or a PyTorch zip-format state dict (`.bin` / `.pt` saved with
    /// `torch.save(model.state_dict())`) by extension. TorchScript archives (OpenAI's original
    /// `RN50.pt` etc.) are not state dicts; the error says how to convert them.
    pub fn load_any(path: &Path, device: &Device) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "bin" && ext != "pt" && ext != "pth" {
            return Self::load(path, device);
        }
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let convert = "convert once with Python: `import torch, safetensors.torch as st; \
            m = torch.jit.load(P, map_location='cpu'); \
            st.save_file({k: v.float().contiguous() for k, v in m.state_dict().items()}, \
            'model.safetensors')` (or `torch.load(P)` for a plain state dict)";
        let read = candle_core::pickle::read_all(path).map_err(|e| Error::Weights {
            path: path.to_path_buf(),
            tensor: String::new(),
            message: format!("cannot read as a PyTorch state dict ({e}); {convert}"),
        })?;
        if read.is_empty() {
            return Err(Error::Weights {
                path: path.to_path_buf(),
                tensor: String::new(),
                message: format!("no tensors found (a TorchScript archive?); {convert}"),
            });
        }
        let mut tensors = HashMap::with_capacity(read.len());
        for (name, t) in read {
            let t = t.to_device(device).map_err(|e| Error::Weights {
                path: path.to_path_buf(),
                tensor: name.clone(),
                message: e.to_string(),
            })?;
            let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
            tensors.insert(name, t);
        }
        Ok(Weights {
            path: path.to_path_buf(),
            sha256,
            tensors,
        })
    }

    /// The file these weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hex SHA-256 of the file.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Tensor names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// One tensor converted to `dtype`, or an error naming it.
    pub fn get(&self, name: &str, dtype: DType) -> Result<Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| Error::Weights {
            path: self.path.clone(),
            tensor: name.to_string(),
            message: "missing".into(),
        })?;
        t.to_dtype(dtype).map_err(|e| Error::Weights {
            path: self.path.clone(),
            tensor: name.to_string(),
            message: e.to_string(),
        })
    }

    /// One tensor with a checked shape.
    pub fn get_shape(&self, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let t = self.get(name, dtype)?;
        if t.dims() != shape {
            return Err(Error::Weights {
                path: self.path.clone(),
                tensor: name.to_string(),
                message: format!("shape {:?}, expected {:?}", t.dims(), shape),
            });
        }
        Ok(t)
    }

    /// Add `amount` times the tensor's mean absolute value to every element of one tensor
    /// (for tests that check a comparison can fail).
    pub fn perturb(&mut self, name: &str, amount: f64) -> Result<()> {
        let t = self.get(name, DType::F32)?;
        let err = |e: candle_core::Error| Error::Weights {
            path: self.path.clone(),
            tensor: name.to_string(),
            message: e.to_string(),
        };
        let m = t
            .abs()
            .and_then(|a| a.mean_all())
            .and_then(|a| a.to_scalar::<f32>())
            .map_err(err)?;
        let p = (t + (amount * m.max(1e-3) as f64)).map_err(err)?;
        self.tensors.insert(name.to_string(), p);
        Ok(())
    }

    /// A candle `VarBuilder` over these tensors (candle's errors name missing or misshapen tensors).
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_tensors(self.tensors.clone(), dtype, device)
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
