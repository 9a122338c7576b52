//! `cuelab slurm KIND [run flags] --array N [...] [--submit]`: a sharded run as an sbatch job
//! array plus a merge job depending on it (`--dependency=afterok`); see docs/scaling.md. The
//! Slurm flags are picked out by `cuelab_tasks::slurm::flags`, the scripts written by
//! `cuelab_tasks::slurm`.

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::slurm::flags::{check_kind, pick};
use cuelab_tasks::slurm::{split_out, SlurmJob};

use crate::exit::ExitStatus;

/// Flags of `cuelab slurm`. The Slurm flags may come anywhere after KIND; every other flag is
/// passed to `cuelab KIND` unchanged.
#[derive(Debug, Args)]
#[command(
    after_help = "Slurm flags (anywhere after KIND): --array N (shards; required), \
    --partition P, --gpus-per-task G, --cpus-per-task C, --time T, --mem M, --account A, \
    --throttle K (tasks at once), --sbatch 'LINE' (extra #SBATCH option, repeatable), \
    --cuelab PATH (executable on the nodes; default: this one), --sbatch-command CMD, --submit.\n\n\
    Example: cuelab slurm ground --data d/samples.jsonl --model M --out runs/g --array 8 \
    --partition gpu --gpus-per-task 1 --time 02:00:00 --submit"
)]
pub struct SlurmArgs {
    /// The run kind: ground, ask, mmvp, caption, mine, embed, probe (its subcommand comes first
    /// among the run's flags: `cuelab slurm probe count ...`), or any other command taking --shard.
    pub kind: String,
    /// The run's flags (with its --out/-o) and the Slurm flags.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Run `cuelab slurm`.
pub fn run(args: SlurmArgs) -> Result<ExitStatus> {
    let (flags, run_args) = pick(&args.args)?;
    let Some(array) = flags.array.filter(|&n| n > 0) else {
        bail!("give the number of shards (array tasks) with --array N (N >= 1)");
    };
    check_kind(&args.kind)?;
    let (out, run_args) = split_out(&run_args)?;
    let exe = match flags.exe {
        Some(e) => e.into(),
        None => std::env::current_exe().context("locating the cuelab executable")?,
    };
    let job = SlurmJob {
        kind: args.kind,
        run_args,
        out,
        array,
        throttle: flags.throttle,
        resources: flags.resources,
        exe,
        workdir: std::env::current_dir().context("the working directory")?,
    };
    let dir = job.write()?;
    let scripts = job.scripts();
    println!("# {}/array.sbatch\n{}", dir.display(), scripts.array);
    println!("# {}/merge.sbatch\n{}", dir.display(), scripts.merge);
    println!("# {}/submit.sh\n{}", dir.display(), scripts.submit);
    if !flags.submit {
        println!(
            "scripts written to {}; submit with `bash {}/submit.sh` or rerun with --submit \
             (which submits only the unfinished shards)",
            dir.display(),
            dir.display()
        );
        return Ok(ExitStatus::Success);
    }
    let todo = job.unfinished();
    let (array_id, merge_id) = job.submit(flags.sbatch.as_deref().unwrap_or("sbatch"))?;
    match array_id {
        Some(id) => println!(
            "submitted array job {id} ({} of {array} shards unfinished: {}), merge job {merge_id} \
             after it",
            todo.len(),
            cuelab_tasks::slurm::compress_ranges(&todo)
        ),
        None => println!("every shard is done; submitted the merge job {merge_id}"),
    }
    Ok(ExitStatus::Success)
}
