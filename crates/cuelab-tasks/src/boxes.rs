//! Box overlap, computed exactly as torchvision's `box_iou` (f32, xyxy, no +1, `inter / union`
//! with the same operation order), so IoU thresholds agree with PyTorch code to the last bit.

use cuelab_cue::BoxXyxy;

/// Area in f32 as torchvision's `box_area`: `(x1 - x0) * (y1 - y0)`.
pub fn area(b: &BoxXyxy) -> f32 {
    (b.x1 - b.x0) * (b.y1 - b.y0)
}

/// Intersection over union of two boxes, torchvision order of operations. Two empty boxes give
/// NaN, as torchvision does.
pub fn iou(a: &BoxXyxy, b: &BoxXyxy) -> f32 {
    let ltx = a.x0.max(b.x0);
    let lty = a.y0.max(b.y0);
    let rbx = a.x1.min(b.x1);
    let rby = a.y1.min(b.y1);
    let w = (rbx - ltx).max(0.0);
    let h = (rby - lty).max(0.0);
    let inter = w * h;
    let union = area(a) + area(b) - inter;
    inter / union
}

/// The IoU matrix `a × b`.
pub fn iou_matrix(a: &[BoxXyxy], b: &[BoxXyxy]) -> Vec<Vec<f32>> {
    a.iter()
        .map(|x| b.iter().map(|y| iou(x, y)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> BoxXyxy {
        BoxXyxy { x0, y0, x1, y1 }
    }

    #[test]
    fn simple_overlaps() {
        assert_eq!(
            iou(&b(0.0, 0.0, 2.0, 2.0), &b(1.0, 1.0, 3.0, 3.0)),
            1.0 / 7.0
        );
        assert_eq!(iou(&b(0.0, 0.0, 2.0, 2.0), &b(0.0, 0.0, 2.0, 2.0)), 1.0);
        assert_eq!(iou(&b(0.0, 0.0, 1.0, 1.0), &b(5.0, 5.0, 6.0, 6.0)), 0.0);
        assert!(iou(&b(1.0, 1.0, 1.0, 1.0), &b(1.0, 1.0, 1.0, 1.0)).is_nan());
    }
}
