//! Write synthetic run directories (grounding + questions, N samples with their own JPEG
//! images) and time the report on them:
//! `cargo run -p cuelab-report --example synth_run -- OUT_DIR [N]`.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().ok_or("usage: synth_run OUT_DIR [N]")?);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5000);
    let t0 = Instant::now();
    cuelab_report::synth::write_runs(&root, n, 480, 360, 0)?;
    println!(
        "wrote {n} synthetic samples to {} in {:.1} s",
        root.display(),
        t0.elapsed().as_secs_f64()
    );
    let out = root.join("report.html");
    let t1 = Instant::now();
    cuelab_report::write(
        &[root.join("grounding"), root.join("questions")],
        &out,
        &cuelab_report::Options::default(),
    )?;
    let bytes = std::fs::metadata(&out)?.len();
    println!(
        "report {} : {:.2} MB in {:.2} s",
        out.display(),
        bytes as f64 / 1e6,
        t1.elapsed().as_secs_f64()
    );
    Ok(())
}
