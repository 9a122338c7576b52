//! An arm of a probe run: how the image (and its boxes) is changed before it is shown — a
//! presentation (count probe) or an input transform (preprocessing probe).

use image::RgbImage;

use super::data::ProbeItem;
use super::present::Presentation;
use super::transform::Transform;
use crate::error::Result;

/// One arm.
#[derive(Debug, Clone, PartialEq)]
pub enum Arm {
    /// A presentation of the whole image (plain, marks, boxes, crops, a cue).
    Present(Presentation),
    /// An input transform.
    Transform(Transform),
}

impl Arm {
    /// Stable id.
    pub fn id(&self) -> String {
        match self {
            Arm::Present(p) => p.id(),
            Arm::Transform(t) => t.id(),
        }
    }

    /// What tables show.
    pub fn label(&self) -> String {
        match self {
            Arm::Present(p) => p.label(),
            Arm::Transform(t) => t.id(),
        }
    }

    /// Sentence put before the question.
    pub fn preamble(&self) -> &'static str {
        match self {
            Arm::Present(p) => p.preamble(),
            Arm::Transform(_) => "",
        }
    }

    /// The image shown and the item as it is in that image (boxes mapped).
    pub fn prepare(&self, image: &RgbImage, item: &ProbeItem) -> Result<(RgbImage, ProbeItem)> {
        match self {
            Arm::Present(p) => Ok((p.render(image, &item.objects)?, item.clone())),
            Arm::Transform(t) => t.apply(image, item),
        }
    }
}
