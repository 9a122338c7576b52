//! The floating-point type the in-process models compute in.
//!
//! Weights are stored and matrix products run in the chosen dtype. Everything numerically
//! delicate stays in f32: LayerNorm statistics (candle's kernel accumulates in f32), attention
//! softmax (upcast around the call, with the additive mask applied in f32), and the final
//! embeddings, which are returned as f32 and normalised by the caller in f32. On the CPU, candle
//! 0.11 has no bf16 convolution, so convolutions (patch embeddings, the ResNet tower) run in f32
//! around a bf16 model; bf16 matrix products on the CPU are widened to f32 inside candle, so bf16
//! on the CPU saves memory but not time. f16 matrix products use gemm's f16 kernels.

use std::fmt;
use std::str::FromStr;

use candle_core::DType;

use crate::error::Error;

/// The dtype a model's weights are stored and its matrix products run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ModelDtype {
    /// 32-bit float: the reference path, bit-identical to the behaviour before dtypes existed.
    #[default]
    F32,
    /// bfloat16 (8 mantissa bits, f32's exponent range): mainly for GPUs.
    Bf16,
    /// IEEE half precision (11 mantissa bits, maximum 65504).
    F16,
}

impl ModelDtype {
    /// Every dtype, in the order the command line lists them.
    pub const ALL: [ModelDtype; 3] = [ModelDtype::F32, ModelDtype::Bf16, ModelDtype::F16];

    /// The command-line name: `f32`, `bf16` or `f16`.
    pub fn name(self) -> &'static str {
        match self {
            ModelDtype::F32 => "f32",
            ModelDtype::Bf16 => "bf16",
            ModelDtype::F16 => "f16",
        }
    }

    /// The candle dtype.
    pub fn candle(self) -> DType {
        match self {
            ModelDtype::F32 => DType::F32,
            ModelDtype::Bf16 => DType::BF16,
            ModelDtype::F16 => DType::F16,
        }
    }

    /// The suffix appended to a model's [`id`](crate::ImageEmbedder::id) (and so to its
    /// embedding-cache keys): empty for f32, so existing f32 ids and cache entries stay valid,
    /// and `+bf16` / `+f16` otherwise, so a reduced-precision embedding is never served for an
    /// f32 request or the other way round.
    pub fn id_suffix(self) -> &'static str {
        match self {
            ModelDtype::F32 => "",
            ModelDtype::Bf16 => "+bf16",
            ModelDtype::F16 => "+f16",
        }
    }
}

impl fmt::Display for ModelDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelDtype {
    type Err = Error;

    /// Parse `f32`, `bf16` or `f16` (also `float32`, `bfloat16`, `float16`, `half`), case-blind.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "fp32" => Ok(ModelDtype::F32),
            "bf16" | "bfloat16" => Ok(ModelDtype::Bf16),
            "f16" | "float16" | "fp16" | "half" => Ok(ModelDtype::F16),
            _ => Err(Error::Invalid(format!(
                "unknown dtype `{s}` (expected f32, bf16 or f16)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_name_round_trip() {
        for d in ModelDtype::ALL {
            assert_eq!(d.name().parse::<ModelDtype>().expect("parse"), d);
        }
        assert_eq!(
            "BFloat16".parse::<ModelDtype>().expect("parse"),
            ModelDtype::Bf16
        );
        let err = "f8".parse::<ModelDtype>().expect_err("f8 is not supported");
        assert!(
            err.to_string().contains("expected f32, bf16 or f16"),
            "{err}"
        );
    }
}
