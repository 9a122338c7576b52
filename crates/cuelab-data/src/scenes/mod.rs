//! Deterministic synthetic scenes with exact annotations, written in the real datasets' formats.
//!
//! Every scene, pair and clip draws from its own ChaCha8 stream derived from `(seed, kind,
//! index)`, so generation runs in parallel and the same seed gives byte-identical files.

pub mod draw;
pub mod export;
pub mod language;
pub mod layout;

use cuelab_cue::BoxXyxy;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::sample::{Expression, FrameBoxes, LabeledBox, Sample, Task};
use draw::{Background, Object, Shape, COLOURS};
use language::NUMBERS;

/// Generator settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Master seed.
    pub seed: u64,
    /// Number of still scenes.
    pub n: usize,
    /// Number of MMVP-style pairs (two images each).
    pub pairs: usize,
    /// Number of clips.
    pub clips: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Probability of a cluttered background.
    pub clutter: f64,
    /// Probability that a scene is a crowd of near-identical objects (counting 0..=20).
    pub crowd: f64,
}

impl Config {
    /// Defaults for `n` scenes: `n/4` pairs, `n/10` clips of 8 frames, 256x256 images.
    pub fn new(seed: u64, n: usize) -> Self {
        Config {
            seed,
            n,
            pairs: n / 4,
            clips: n / 10,
            frames: 8,
            width: 256,
            height: 256,
            clutter: 0.3,
            crowd: 0.2,
        }
    }
}

/// The random stream for one item.
pub fn stream(seed: u64, kind: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((kind << 40) | index);
    rng
}

/// Split of scene `i` (80/10/10).
pub fn split_of(i: usize) -> &'static str {
    match i % 10 {
        8 => "val",
        9 => "test",
        _ => "train",
    }
}

/// A still scene and everything asked about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scene {
    /// 0-based index.
    pub index: usize,
    /// Image path relative to the output folder.
    pub file: String,
    /// Background.
    pub background: Background,
    /// Objects in drawing order.
    pub objects: Vec<Object>,
    /// Tight box of each object.
    pub boxes: Vec<BoxXyxy>,
    /// Grounding target index, when an unambiguous expression exists.
    pub target: Option<usize>,
    /// Samples (grounding, counting, listing, fill-in-the-blank, caption).
    pub samples: Vec<Sample>,
}

/// Build scene `i` (no pixels).
pub fn scene(cfg: &Config, i: usize) -> Scene {
    let mut rng = stream(cfg.seed, 1, i as u64);
    let (w, h) = (cfg.width, cfg.height);
    let background = layout::random_background(&mut rng, cfg.clutter);
    let crowd = rng.gen_bool(cfg.crowd);
    let (objects, count_shape, count_colour) = if crowd {
        let count = rng.gen_range(0..=20);
        let others = rng.gen_range(1..=3);
        let (o, s, c) = layout::crowd(&mut rng, count, others, w, h);
        (o, s, Some(c))
    } else {
        let n = rng.gen_range(1..=8);
        let o = layout::ordinary(&mut rng, n, w, h);
        let s = *layout::SCENE_SHAPES
            .choose(&mut rng)
            .unwrap_or(&Shape::Circle);
        (o, s, None)
    };
    let boxes: Vec<BoxXyxy> = objects
        .iter()
        .map(|o| {
            o.coverage_box(w, h).unwrap_or(BoxXyxy {
                x0: 0.0,
                y0: 0.0,
                x1: 0.0,
                y1: 0.0,
            })
        })
        .collect();
    let file = format!("images/{:06}.png", i + 1);
    let split = split_of(i).to_string();
    let id = format!("scene-{:06}", i + 1);
    let base = |suffix: &str, task| {
        let mut s = Sample::new(format!("{id}-{suffix}"), "scenes", task);
        s.split = Some(split.clone());
        s.image = Some(file.clone().into());
        s.image_id = Some(i as u64 + 1);
        s.width = Some(w);
        s.height = Some(h);
        s
    };
    let mut samples = Vec::new();

    // Grounding: a random object with at least one unambiguous expression.
    let mut order: Vec<usize> = (0..objects.len()).collect();
    order.shuffle(&mut rng);
    let mut target = None;
    for t in order {
        let all = language::referring(&objects, t);
        if all.is_empty() {
            continue;
        }
        let chosen = language::pick(&mut rng, all, 3);
        let mut s = base("ground", Task::Grounding);
        s.target = Some(boxes[t]);
        s.proposals = boxes.clone();
        s.target_index = Some(t);
        s.category = Some(objects[t].shape.name().to_string());
        s.expressions = chosen
            .iter()
            .map(|r| Expression {
                raw: r.text.clone(),
                tokens: r.text.split_whitespace().map(str::to_string).collect(),
                sent_id: None,
                sent: None,
            })
            .collect();
        s.qtype = chosen.first().map(|r| r.kind.to_string());
        samples.push(s);
        target = Some(t);
        break;
    }

    // Counting.
    let (q, n) = match count_colour {
        Some(c) => (
            format!(
                "How many {} {} are there?",
                COLOURS[c].0,
                count_shape.plural()
            ),
            objects
                .iter()
                .filter(|o| o.shape == count_shape && o.colour == c)
                .count(),
        ),
        None => (
            format!("How many {} are there?", count_shape.plural()),
            objects.iter().filter(|o| o.shape == count_shape).count(),
        ),
    };
    let mut s = base("count", Task::Counting);
    s.question = Some(q);
    s.answer = Some(n.to_string());
    s.qtype = Some(if crowd { "count_crowd" } else { "count" }.into());
    samples.push(s);

    // Listing.
    let mut s = base("list", Task::MultipleChoice);
    s.question = Some("List the objects in the image from left to right.".into());
    s.answer = Some(language::listing(&objects));
    s.qtype = Some("list".into());
    samples.push(s);

    // Fill in the blank.
    if let Some((q, choices, at, object)) = language::fill_blank(&mut rng, &objects) {
        let mut s = base("fill", Task::MultipleChoice);
        s.question = Some(q);
        // The object asked about: what a cue (box, circle, ...) points at.
        s.target = Some(boxes[object]);
        s.answer = choices.get(at).cloned();
        s.answer_index = Some(at);
        s.choices = choices;
        s.qtype = Some("fill_blank".into());
        samples.push(s);
    }

    // Captions.
    let mut s = base("caption", Task::Caption);
    s.captions = language::captions(&objects, matches!(background, Background::Cluttered { .. }));
    samples.push(s);

    Scene {
        index: i,
        file,
        background,
        objects,
        boxes,
        target,
        samples,
    }
}

/// The visual patterns of MMVP-style pairs.
pub const PATTERNS: [&str; 5] = ["orientation", "direction", "colour", "position", "count"];

/// Two images that differ only in one declared pattern, with one question and opposite answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pair {
    /// 0-based pair index.
    pub index: usize,
    /// The pattern that differs.
    pub pattern: String,
    /// The question asked of both images.
    pub question: String,
    /// The two options.
    pub options: [String; 2],
    /// Background of both images.
    pub background: Background,
    /// Objects of image a and image b (answers option 0 and option 1).
    pub objects: [Vec<Object>; 2],
    /// Image paths, relative to the output folder.
    pub files: [String; 2],
    /// The declared changed region: union of the boxes of the changed objects in both images.
    pub changed: Option<BoxXyxy>,
}

fn union(a: Option<BoxXyxy>, b: BoxXyxy) -> BoxXyxy {
    match a {
        None => b,
        Some(a) => BoxXyxy {
            x0: a.x0.min(b.x0),
            y0: a.y0.min(b.y0),
            x1: a.x1.max(b.x1),
            y1: a.y1.max(b.y1),
        },
    }
}

/// Build pair `p`.
pub fn pair(cfg: &Config, p: usize) -> Pair {
    let mut rng = stream(cfg.seed, 2, p as u64);
    let (w, h) = (cfg.width, cfg.height);
    let background = layout::random_background(&mut rng, cfg.clutter);
    let pattern = PATTERNS[p % PATTERNS.len()];
    let colour = rng.gen_range(0..COLOURS.len());
    let size = rng.gen_range(1..3);
    let base_shape = *layout::SCENE_SHAPES
        .choose(&mut rng)
        .unwrap_or(&Shape::Square);
    // Variant subjects: (objects in a, objects in b); placed first so both fit.
    let mut a: Vec<Object> = Vec::new();
    let mut b: Vec<Object> = Vec::new();
    let (question, options, subject_shape) = match pattern {
        "orientation" | "direction" => {
            let (shape, angles, opts, q) = if pattern == "orientation" {
                (
                    Shape::Triangle,
                    [0.0, 180.0],
                    ["up", "down"],
                    "Is the triangle pointing up or down?",
                )
            } else {
                (
                    Shape::Arrow,
                    [180.0, 0.0],
                    ["left", "right"],
                    "Is the arrow pointing to the left or to the right?",
                )
            };
            if let Some(mut o) = layout::place(&mut rng, &[], shape, colour, size, w, h) {
                o.angle = angles[0];
                a.push(o.clone());
                o.angle = angles[1];
                b.push(o);
            }
            (q.to_string(), opts.map(str::to_string), shape)
        }
        "colour" => {
            let mut other = rng.gen_range(0..COLOURS.len() - 1);
            if other >= colour {
                other += 1;
            }
            if let Some(mut o) = layout::place(&mut rng, &[], base_shape, colour, size, w, h) {
                a.push(o.clone());
                o.colour = other;
                b.push(o);
            }
            (
                format!(
                    "Is the {} {} or {}?",
                    base_shape.name(),
                    COLOURS[colour].0,
                    COLOURS[other].0
                ),
                [COLOURS[colour].0.to_string(), COLOURS[other].0.to_string()],
                base_shape,
            )
        }
        "position" => {
            if let Some(mut o) = layout::place(&mut rng, &[], base_shape, colour, size, w, h) {
                let margin = o.r + 3.0;
                o.cx = rng.gen_range(margin..(w as f32 / 2.0 - o.r - 8.0).max(margin + 1.0));
                a.push(o.clone());
                o.cx = w as f32 - o.cx;
                b.push(o);
            }
            (
                format!(
                    "Is the {} {} on the left or the right side of the image?",
                    COLOURS[colour].0,
                    base_shape.name()
                ),
                ["left".to_string(), "right".to_string()],
                base_shape,
            )
        }
        _ => {
            let k = rng.gen_range(1..=4);
            let mut all: Vec<Object> = Vec::new();
            for _ in 0..=k {
                if let Some(o) = layout::place(&mut rng, &all, base_shape, colour, size, w, h) {
                    all.push(o);
                }
            }
            let k = all.len().saturating_sub(1);
            a = all[..k].to_vec();
            b = all;
            (
                format!(
                    "Are there {} or {} {} in the image?",
                    NUMBERS[k],
                    NUMBERS[k + 1],
                    base_shape.plural()
                ),
                [NUMBERS[k].to_string(), NUMBERS[k + 1].to_string()],
                base_shape,
            )
        }
    };
    let mut changed = None;
    for (i, o) in a.iter().enumerate() {
        if b.get(i) != Some(o) {
            if let Some(bx) = o.coverage_box(w, h) {
                changed = Some(union(changed, bx));
            }
        }
    }
    for (i, o) in b.iter().enumerate() {
        if a.get(i) != Some(o) {
            if let Some(bx) = o.coverage_box(w, h) {
                changed = Some(union(changed, bx));
            }
        }
    }
    // Distractors of other shapes, clear of both variants.
    let mut occupied: Vec<Object> = a.iter().chain(b.iter()).cloned().collect();
    let n_distract = rng.gen_range(0..=3);
    let others: Vec<Shape> = layout::SCENE_SHAPES
        .iter()
        .copied()
        .filter(|s| *s != subject_shape)
        .collect();
    for _ in 0..n_distract {
        let s = *others.choose(&mut rng).unwrap_or(&Shape::Star);
        let c = rng.gen_range(0..COLOURS.len());
        let sz = rng.gen_range(0..3);
        if let Some(o) = layout::place(&mut rng, &occupied, s, c, sz, w, h) {
            occupied.push(o.clone());
            a.push(o.clone());
            b.push(o);
        }
    }
    let (objects, options) = if rng.gen_bool(0.5) {
        ([a, b], options)
    } else {
        let [o0, o1] = options;
        ([b, a], [o1, o0])
    };
    Pair {
        index: p,
        pattern: pattern.to_string(),
        question,
        options,
        background,
        objects,
        files: [
            format!("mmvp/images/{}.png", 2 * p + 1),
            format!("mmvp/images/{}.png", 2 * p + 2),
        ],
        changed,
    }
}

impl Pair {
    /// The two samples (answers option 0 for image a, option 1 for image b).
    pub fn samples(&self, w: u32, h: u32) -> Vec<Sample> {
        (0..2)
            .map(|k| {
                let mut s = Sample::new(
                    format!("pair-{:05}-{}", self.index + 1, ["a", "b"][k]),
                    "scenes",
                    Task::MultipleChoice,
                );
                s.image = Some(self.files[k].clone().into());
                s.width = Some(w);
                s.height = Some(h);
                s.question = Some(self.question.clone());
                s.choices = self.options.to_vec();
                s.answer = Some(self.options[k].clone());
                s.answer_index = Some(k);
                s.qtype = Some(self.pattern.clone());
                s.pair_id = Some(format!("pair-{:05}", self.index + 1));
                s
            })
            .collect()
    }
}

/// Clip verbs and their Something-Something-v2 style templates.
pub const VERBS: [(&str, &str); 7] = [
    ("moving left", "Moving [something] from right to left"),
    ("moving right", "Moving [something] from left to right"),
    ("falling", "[Something] falling like a rock"),
    ("rising", "Moving [something] up"),
    ("rotating", "Spinning [something] so it continues spinning"),
    ("approaching", "Approaching [something] with your camera"),
    ("receding", "Moving away from [something] with your camera"),
];

/// A short clip of one moving object among static ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clip {
    /// Master seed (orders the answer choices).
    pub seed: u64,
    /// 0-based clip index.
    pub index: usize,
    /// Index into [`VERBS`].
    pub verb: usize,
    /// Background.
    pub background: Background,
    /// Objects per frame (the subject is object 0).
    pub frames: Vec<Vec<Object>>,
    /// Frame paths, relative to the output folder.
    pub files: Vec<String>,
}

/// Build clip `c`.
pub fn clip(cfg: &Config, c: usize) -> Clip {
    let mut rng = stream(cfg.seed, 3, c as u64);
    let (w, h) = (cfg.width as f32, cfg.height as f32);
    let background = layout::random_background(&mut rng, cfg.clutter);
    let verb = c % VERBS.len();
    let shapes: Vec<Shape> = layout::SCENE_SHAPES
        .iter()
        .copied()
        .filter(|s| verb != 4 || *s != Shape::Circle)
        .collect();
    let shape = *shapes.choose(&mut rng).unwrap_or(&Shape::Square);
    let colour = rng.gen_range(0..COLOURS.len());
    let n = cfg.frames.max(2);
    let step = ((w.min(h) * 0.45) / (n - 1) as f32).min(8.0);
    let travel = step * (n - 1) as f32;
    let r = 16.0f32;
    let (r0, r1) = match verb {
        5 => (11.0, 26.0),
        6 => (26.0, 11.0),
        _ => (r, r),
    };
    let rmax = r0.max(r1) + 3.0;
    let span = |lo: f32, hi: f32, rng: &mut ChaCha8Rng| {
        if hi > lo {
            rng.gen_range(lo..hi)
        } else {
            lo
        }
    };
    let (mut x, mut y) = (
        span(rmax, w - rmax, &mut rng),
        span(rmax, h - rmax, &mut rng),
    );
    match verb {
        0 => x = span(rmax + travel, w - rmax, &mut rng),
        1 => x = span(rmax, w - rmax - travel, &mut rng),
        2 => y = span(rmax, h - rmax - travel, &mut rng),
        3 => y = span(rmax + travel, h - rmax, &mut rng),
        _ => {}
    }
    let angle0: f32 = rng.gen_range(0.0..90.0f32).round();
    let subject: Vec<Object> = (0..n)
        .map(|f| {
            let t = f as f32;
            let (dx, dy) = match verb {
                0 => (-step * t, 0.0),
                1 => (step * t, 0.0),
                2 => (0.0, step * t),
                3 => (0.0, -step * t),
                _ => (0.0, 0.0),
            };
            Object {
                shape,
                colour,
                jitter: [0; 3],
                size: 1,
                cx: x + dx,
                cy: y + dy,
                r: r0 + (r1 - r0) * t / (n - 1) as f32,
                angle: angle0 + if verb == 4 { 20.0 * t } else { 0.0 },
            }
        })
        .collect();
    let mut occupied = subject.clone();
    let mut statics = Vec::new();
    for _ in 0..rng.gen_range(1..=2) {
        let s = *layout::SCENE_SHAPES
            .iter()
            .filter(|s| **s != shape)
            .collect::<Vec<_>>()
            .choose(&mut rng)
            .copied()
            .unwrap_or(&Shape::Star);
        let col = rng.gen_range(0..COLOURS.len());
        if let Some(o) = layout::place(&mut rng, &occupied, s, col, 0, cfg.width, cfg.height) {
            occupied.push(o.clone());
            statics.push(o);
        }
    }
    let frames: Vec<Vec<Object>> = subject
        .into_iter()
        .map(|s| std::iter::once(s).chain(statics.iter().cloned()).collect())
        .collect();
    let files = (0..n)
        .map(|f| format!("clips/{:05}/{:04}.png", c + 1, f + 1))
        .collect();
    Clip {
        seed: cfg.seed,
        index: c,
        verb,
        background,
        frames,
        files,
    }
}

impl Clip {
    /// Clip id (`00001`), also the SSv2 video id.
    pub fn id(&self) -> String {
        format!("{:05}", self.index + 1)
    }

    /// The subject's noun.
    pub fn subject(&self) -> String {
        self.frames
            .first()
            .and_then(|f| f.first())
            .map(Object::noun)
            .unwrap_or_default()
    }

    /// Labelled boxes of every frame.
    pub fn frame_boxes(&self, w: u32, h: u32) -> Vec<FrameBoxes> {
        self.frames
            .iter()
            .enumerate()
            .map(|(f, objs)| FrameBoxes {
                frame: f as u32,
                boxes: objs
                    .iter()
                    .filter_map(|o| {
                        o.coverage_box(w, h).map(|b| LabeledBox {
                            label: o.noun(),
                            bbox: b,
                        })
                    })
                    .collect(),
            })
            .collect()
    }

    /// The video question: what is the subject doing, four verbs to choose from.
    pub fn sample(&self, w: u32, h: u32) -> Sample {
        let mut rng = stream(self.seed, 4, self.index as u64);
        let mut choices: Vec<String> = VERBS
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.verb)
            .map(|(_, v)| v.0.to_string())
            .collect();
        choices.shuffle(&mut rng);
        choices.truncate(3);
        let at = rng.gen_range(0..=3);
        choices.insert(at, VERBS[self.verb].0.to_string());
        let mut s = Sample::new(format!("clip-{}", self.id()), "scenes", Task::Video);
        s.frames = self.files.iter().map(Into::into).collect();
        s.width = Some(w);
        s.height = Some(h);
        s.question = Some(format!("What is the {} doing?", self.subject()));
        s.answer = Some(VERBS[self.verb].0.to_string());
        s.answer_index = Some(at);
        s.choices = choices;
        s.qtype = Some(VERBS[self.verb].0.to_string());
        s.frame_boxes = self.frame_boxes(w, h);
        s.captions = vec![VERBS[self.verb]
            .1
            .replace("[something]", &self.subject())
            .replace("[Something]", &language::capitalise(&self.subject()))];
        s
    }
}
