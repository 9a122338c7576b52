//! The probing lab (issue 16): small measurements of what a VLM sees and can learn.
//!
//! * [`surprisal`] — teacher-forced bits/token of a fine-tuning set, plain vs cued images.
//! * [`lora_plan`] — LoRA trainable parameters per rank vs the set's information in bits.

pub mod lora_plan;
pub mod surprisal;
