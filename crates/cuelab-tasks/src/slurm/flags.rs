//! The Slurm flags of `cuelab slurm KIND [run flags]`, which may come anywhere after KIND among
//! the run's own flags: [`pick`] takes them out and leaves the run's flags as they were.

use crate::error::{Result, TaskError};

use super::Resources;

/// The flags that take a value.
const WITH_VALUE: [&str; 11] = [
    "--array",
    "--throttle",
    "--partition",
    "--gpus-per-task",
    "--cpus-per-task",
    "--time",
    "--mem",
    "--account",
    "--sbatch",
    "--cuelab",
    "--sbatch-command",
];

/// The Slurm flags picked out of a run's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmFlags {
    /// `--array N`: the number of shards (array tasks).
    pub array: Option<usize>,
    /// `--throttle K`: array tasks running at once.
    pub throttle: Option<usize>,
    /// `--partition`, `--gpus-per-task`, `--cpus-per-task`, `--time`, `--mem`, `--account`,
    /// `--sbatch 'LINE'` (repeatable).
    pub resources: Resources,
    /// `--cuelab PATH`: the executable on the nodes.
    pub exe: Option<String>,
    /// `--sbatch-command CMD`: the command that submits.
    pub sbatch: Option<String>,
    /// `--submit`.
    pub submit: bool,
}

/// Split `args` into the Slurm flags (`--name VALUE` or `--name=VALUE`, and `--submit`) and the
/// run's flags, which keep their order. A Slurm flag without its value, or a number that does
/// not parse, is an error naming the flag.
pub fn pick(args: &[String]) -> Result<(SlurmFlags, Vec<String>)> {
    let mut f = SlurmFlags::default();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        if name == "--submit" {
            f.submit = true;
            continue;
        }
        if !WITH_VALUE.contains(&name) {
            rest.push(a.clone());
            continue;
        }
        let v = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| TaskError::Usage(format!("{name} needs a value")))?,
        };
        let num = |v: &str| -> Result<u32> {
            v.parse()
                .map_err(|e| TaskError::context(format!("{name} {v}: expected a number"), e))
        };
        let r = &mut f.resources;
        match name {
            "--array" => f.array = Some(num(&v)? as usize),
            "--throttle" => f.throttle = Some(num(&v)? as usize),
            "--partition" => r.partition = Some(v),
            "--gpus-per-task" => r.gpus_per_task = Some(num(&v)?),
            "--cpus-per-task" => r.cpus_per_task = Some(num(&v)?),
            "--time" => r.time = Some(v),
            "--mem" => r.mem = Some(v),
            "--account" => r.account = Some(v),
            "--sbatch" => r.extra.push(v),
            "--cuelab" => f.exe = Some(v),
            _ => f.sbatch = Some(v),
        }
    }
    Ok((f, rest))
}

/// Refuse the commands that are not sharded runs (`merge`, `slurm`, `demo`, `report`).
pub fn check_kind(kind: &str) -> Result<()> {
    if matches!(kind, "merge" | "slurm" | "demo" | "report") {
        return Err(TaskError::Usage(format!(
            "`{kind}` is not a sharded run kind"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn slurm_flags_are_picked_anywhere_and_the_rest_kept_in_order() {
        let args: Vec<String> = [
            "--data",
            "d.jsonl",
            "--array",
            "8",
            "--time=02:00:00",
            "-o",
            "runs/g",
            "--submit",
            "--sbatch",
            "--qos=high",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (f, rest) = pick(&args).unwrap();
        assert_eq!(f.array, Some(8));
        assert_eq!(f.resources.time.as_deref(), Some("02:00:00"));
        assert_eq!(f.resources.extra, vec!["--qos=high".to_string()]);
        assert!(f.submit);
        assert_eq!(rest, vec!["--data", "d.jsonl", "-o", "runs/g"]);
        let e = pick(&["--array".to_string()]).unwrap_err();
        assert_eq!(e.to_string(), "--array needs a value");
        let e = pick(&["--array=x".to_string()]).unwrap_err();
        assert_eq!(e.to_string(), "--array x: expected a number");
        assert!(check_kind("demo").is_err());
        assert!(check_kind("ground").is_ok());
    }
}
