//! The synthetic generator checked against its own rendered pixels, and its exports against the
//! loaders.

use cuelab_cue::BoxXyxy;
use cuelab_data::check::{check, CheckOptions, Format};
use cuelab_data::scenes::draw::render_rgb;
use cuelab_data::scenes::{clip, export, pair, scene, Config};

/// Bounding box of pixels that differ between two renders, or None.
fn diff_box(a: &[u8], b: &[u8], w: u32) -> Option<BoxXyxy> {
    assert_eq!(a.len(), b.len(), "renders of different sizes");
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (i, (pa, pb)) in a.chunks(3).zip(b.chunks(3)).enumerate() {
        if pa != pb {
            let (x, y) = (i as u32 % w, i as u32 / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + 1);
            y1 = y1.max(y + 1);
        }
    }
    (x0 <= x1 && x1 > 0).then_some(BoxXyxy {
        x0: x0 as f32,
        y0: y0 as f32,
        x1: x1 as f32,
        y1: y1 as f32,
    })
}

fn inside(inner: &BoxXyxy, outer: &BoxXyxy) -> bool {
    inner.x0 >= outer.x0 && inner.y0 >= outer.y0 && inner.x1 <= outer.x1 && inner.y1 <= outer.y1
}

#[test]
fn every_box_is_tight_around_its_object_pixels() {
    let cfg = Config::new(7, 40);
    let (w, h) = (cfg.width, cfg.height);
    for i in 0..cfg.n {
        let s = scene(&cfg, i);
        let full = render_rgb(&s.background, &s.objects, w, h);
        for k in 0..s.objects.len() {
            let mut rest = s.objects.clone();
            rest.remove(k);
            let without = render_rgb(&s.background, &rest, w, h);
            let d = diff_box(&full, &without, w).expect("every object is visible");
            let b = s.boxes[k];
            assert!(
                inside(&d, &b),
                "scene {i} object {k}: pixels {d:?} outside box {b:?}"
            );
            // Tight: at most one pixel of nearly transparent edge on any side.
            assert!(
                d.x0 - b.x0 <= 1.0
                    && b.x1 - d.x1 <= 1.0
                    && d.y0 - b.y0 <= 1.0
                    && b.y1 - d.y1 <= 1.0,
                "scene {i} object {k}: box {b:?} not tight around {d:?}"
            );
        }
    }
}

#[test]
fn counts_and_grounding_targets_match_the_objects() {
    let cfg = Config::new(3, 60);
    let mut crowds = 0;
    for i in 0..cfg.n {
        let s = scene(&cfg, i);
        let count = s.samples.iter().find(|x| x.id.ends_with("-count")).unwrap();
        let q = count.question.as_deref().unwrap();
        let n: usize = count.answer.as_deref().unwrap().parse().unwrap();
        let matching = s
            .objects
            .iter()
            .filter(|o| {
                q.contains(&format!(" {} ", o.shape.plural()))
                    && (count.qtype.as_deref() == Some("count") || q.contains(o.colour_name()))
            })
            .count();
        assert_eq!(n, matching, "scene {i}: {q}");
        assert!(n <= 20);
        if count.qtype.as_deref() == Some("count_crowd") {
            crowds += 1;
        }
        if let Some(g) = s.samples.iter().find(|x| x.id.ends_with("-ground")) {
            let t = g.target_index.unwrap();
            assert_eq!(g.proposals[t], s.boxes[t]);
            assert_eq!(g.proposals.len(), s.objects.len());
            assert!(!g.expressions.is_empty());
        }
    }
    assert!(crowds > 0);
}

#[test]
fn pair_images_differ_only_where_declared() {
    let cfg = Config::new(11, 0);
    for p in 0..30 {
        let pr = pair(&cfg, p);
        let a = render_rgb(&pr.background, &pr.objects[0], cfg.width, cfg.height);
        let b = render_rgb(&pr.background, &pr.objects[1], cfg.width, cfg.height);
        let d = diff_box(&a, &b, cfg.width)
            .unwrap_or_else(|| panic!("pair {p} ({}) identical", pr.pattern));
        let declared = pr.changed.unwrap();
        assert!(
            inside(&d, &declared),
            "pair {p} ({}): diff {d:?} outside {declared:?}",
            pr.pattern
        );
        assert_ne!(pr.options[0], pr.options[1]);
    }
}

#[test]
fn clip_boxes_follow_the_verb() {
    let cfg = Config::new(5, 0);
    for c in 0..14 {
        let cl = clip(&cfg, c);
        let s = cl.sample(cfg.width, cfg.height);
        let first = s.frame_boxes.first().unwrap().boxes[0].bbox;
        let last = s.frame_boxes.last().unwrap().boxes[0].bbox;
        let (fx, fy) = first.center();
        let (lx, ly) = last.center();
        match s.answer.as_deref().unwrap() {
            "moving left" => assert!(lx < fx - 20.0),
            "moving right" => assert!(lx > fx + 20.0),
            "falling" => assert!(ly > fy + 20.0),
            "rising" => assert!(ly < fy - 20.0),
            "approaching" => assert!(last.area() > 2.0 * first.area()),
            "receding" => assert!(first.area() > 2.0 * last.area()),
            _ => {}
        }
        assert_eq!(
            s.choices[s.answer_index.unwrap()],
            s.answer.clone().unwrap()
        );
    }
}

fn tree_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("prefix")
                    .to_string_lossy()
                    .to_string();
                out.push((rel, std::fs::read(&p).expect("read file")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes_and_every_export_checks() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let cfg = Config::new(1, 30);
    let s = export::write(&cfg, a.path()).unwrap();
    export::write(&cfg, b.path()).unwrap();
    assert_eq!(s.images, 30 + 2 * 7 + 3 * 8);
    let ta = tree_bytes(a.path());
    assert_eq!(ta, tree_bytes(b.path()));
    let other = tempfile::tempdir().unwrap();
    export::write(&Config::new(2, 30), other.path()).unwrap();
    assert_ne!(ta, tree_bytes(other.path()));

    let r = check(a.path(), Format::Scenes, &CheckOptions::default()).unwrap();
    assert_eq!(r.skipped, 0);
    assert_eq!(r.counts["coco-instances"]["samples"], 30);
    assert_eq!(r.counts["mmvp"]["samples"], 14);
    assert_eq!(
        r.counts["ssv2-train"]["samples"] + r.counts["ssv2-validation"]["samples"],
        3
    );
    assert!(r.counts["refcoco"]["samples"] >= 25);
}
