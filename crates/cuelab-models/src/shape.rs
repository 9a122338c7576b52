//! The sizes of an image tower that decide how much working memory one image needs in a forward
//! pass ([`VisionShape`]), for callers that choose a batch size from the memory available
//! (`cuelab mine`). The models report them from their configuration and preprocessing; the cost
//! model that turns them into bytes lives with the caller.

/// The activation sizes of an image tower, per image.
#[derive(Debug, Clone, PartialEq)]
pub enum VisionShape {
    /// A transformer (ViT): every block sees `tokens x hidden` activations, an MLP of width
    /// `mlp` and `heads` attention maps of `tokens x tokens`.
    Transformer {
        /// Tokens per image (patches plus class and register tokens).
        tokens: usize,
        /// Width.
        hidden: usize,
        /// MLP width.
        mlp: usize,
        /// Attention heads.
        heads: usize,
        /// Blocks (run one after the other; only one block's activations are alive at a time).
        layers: usize,
    },
    /// A convolutional net: its convolutions in forward order.
    Conv(Vec<ConvStep>),
}

/// One convolution of a [`VisionShape::Conv`]: input and output feature maps
/// (`channels, height, width`) and the kernel side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvStep {
    /// Input map `(channels, height, width)`.
    pub input: (usize, usize, usize),
    /// Output map `(channels, height, width)`.
    pub output: (usize, usize, usize),
    /// Kernel side (`k` of a `k x k` convolution).
    pub kernel: usize,
}

/// The transformer shape of a ViT with one token per `patch x patch` square of a
/// `height x width` input plus `extra` tokens (class, registers).
pub(crate) fn vit(
    (height, width): (u32, u32),
    patch: usize,
    extra: usize,
    hidden: usize,
    mlp: usize,
    heads: usize,
    layers: usize,
) -> VisionShape {
    let p = patch.max(1);
    VisionShape::Transformer {
        tokens: (height as usize / p) * (width as usize / p) + extra,
        hidden,
        mlp,
        heads,
        layers,
    }
}
