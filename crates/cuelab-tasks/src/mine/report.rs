//! The text `cuelab mine` prints for each step of [`run_mining`](super::study::run_mining) and
//! for a merge ([`MiningStep::report`]), as the tables of the other studies are made here too.

use std::fmt::Write as _;
use std::path::Path;

use super::study::MiningStep;

impl MiningStep<'_> {
    /// The lines printed for this step of the run whose work directory is `out`, each ending in
    /// a newline: the search's blocks and seconds; the outputs' counts, matrix-product speed and
    /// MMVP skeleton; or why a finished shard's outputs wait, and how to join shard directories.
    pub fn report(&self, out: &Path) -> String {
        let mut s = String::new();
        match self {
            MiningStep::Searched(r) => {
                let _ = writeln!(
                    s,
                    "searched {} row blocks ({} already finished) in {:.2} s",
                    r.searched, r.skipped, r.secs
                );
            }
            MiningStep::Finished(f) => {
                let _ = writeln!(
                    s,
                    "{} images: {} CLIP candidates, {} CLIP-blind pairs, {} near-duplicate pairs ({} images excluded)",
                    f.n, f.clip_candidates, f.pairs, f.duplicates, f.excluded
                );
                if f.gemm_secs > 0.0 {
                    let _ = writeln!(
                        s,
                        "matrix products: {:.2} s, {:.1} GFLOP/s",
                        f.gemm_secs,
                        f.gemm_flops / f.gemm_secs / 1e9
                    );
                }
                let _ = match &f.mmvp {
                    Some(q) => writeln!(
                        s,
                        "MMVP skeleton: {} pairs in {} (write the questions, options and answers)",
                        f.mmvp_pairs,
                        q.display()
                    ),
                    None => writeln!(
                        s,
                        "no MMVP skeleton: the inputs are not readable image files"
                    ),
                };
                let _ = writeln!(s, "outputs in {}", out.display());
            }
            MiningStep::ShardPending(e) => {
                let _ = writeln!(
                    s,
                    "shard finished; outputs are written once every shard is done ({e})"
                );
                let _ = writeln!(
                    s,
                    "join separate shard directories with: cuelab mine --merge DIR... -o {}",
                    out.display()
                );
            }
        }
        s
    }
}
