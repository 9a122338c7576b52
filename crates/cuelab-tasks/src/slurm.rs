//! `cuelab slurm`: any sharded run as a Slurm job array plus one merge job that waits for it
//! (`--dependency=afterok`). No scheduler of our own: the scripts are plain sbatch files a user
//! can read, edit and submit by hand.
//!
//! Layout under the run's output path `OUT` (the `--out`/`-o` of the run flags):
//! - `OUT/shards/I` (or, for `embed`, the dataset folder `OUT-parts.parquet`): shard `I`'s run;
//! - `OUT/slurm/array.sbatch`, `merge.sbatch`, `submit.sh`, `logs/`;
//! - `OUT/slurm/done/I`: written when shard `I` exits 0. A task whose marker exists exits at
//!   once, and [`unfinished`] lists the shards without one, so resubmitting after failures only
//!   reruns those (each resumes its run directory);
//! - `OUT` (or `OUT` itself, the merged `.parquet` of `embed`): the merged run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Result, TaskError};

pub mod flags;

/// The Slurm resources of the array's tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<u32>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--time` (e.g. `04:00:00`).
    pub time: Option<String>,
    /// `--mem` (e.g. `32G`).
    pub mem: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// More `#SBATCH` lines, verbatim (e.g. `--qos=high`).
    pub extra: Vec<String>,
}

/// One sharded run to submit.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// The subcommand (`ground`, `ask`, `mmvp`, `embed`, `mine`, ...).
    pub kind: String,
    /// Its flags, without the output flag and without `--shard`.
    pub run_args: Vec<String>,
    /// The output path (run directory, or `.parquet` file for `embed`).
    pub out: PathBuf,
    /// Number of shards (array tasks).
    pub array: usize,
    /// Array tasks running at once (`%K`), unlimited when `None`.
    pub throttle: Option<usize>,
    /// Resources of each task.
    pub resources: Resources,
    /// The cuelab executable the tasks run.
    pub exe: PathBuf,
    /// Working directory of the tasks (relative paths in the flags are relative to it).
    pub workdir: PathBuf,
}

/// The scripts of a [`SlurmJob`].
#[derive(Debug, Clone)]
pub struct Scripts {
    /// The array job.
    pub array: String,
    /// The merge job.
    pub merge: String,
    /// A shell script submitting both, the merge depending on the array.
    pub submit: String,
}

/// Single-quote `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

/// Split a run's flags into the output path and the rest; `--shard` is refused (the array
/// sets it).
pub fn split_out(args: &[String]) -> Result<(PathBuf, Vec<String>)> {
    let mut out = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--shard" || a.starts_with("--shard=") {
            return Err(TaskError::Config(
                "cuelab slurm sets --shard itself (one shard per array task); drop it".into(),
            ));
        }
        if let Some(v) = ["--out=", "--output=", "-o="]
            .iter()
            .find_map(|p| a.strip_prefix(p))
        {
            out = Some(PathBuf::from(v));
        } else if a == "--out" || a == "--output" || a == "-o" {
            let v = it
                .next()
                .ok_or_else(|| TaskError::Config(format!("{a} needs a value")))?;
            out = Some(PathBuf::from(v));
        } else {
            rest.push(a.clone());
        }
    }
    let out = out.ok_or_else(|| {
        TaskError::Config(
            "give the run's output with --out DIR (or -o; for embed an OUT.parquet): the shards \
             go below it and the merged run into it"
                .into(),
        )
    })?;
    Ok((out, rest))
}

impl SlurmJob {
    /// True for `embed`, whose shards are Parquet parts rather than run directories.
    fn parquet(&self) -> bool {
        self.kind == "embed"
    }

    /// Where shard `i` writes (`$SLURM_ARRAY_TASK_ID` in the script).
    fn shard_out(&self, i: &str) -> String {
        if self.parquet() {
            q(&self.parts_dir())
        } else {
            format!("{}/{i}", q(&self.out.join("shards")))
        }
    }

    /// The dataset folder of `embed` parts.
    pub fn parts_dir(&self) -> PathBuf {
        let stem = self
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "embeddings".into());
        self.out.with_file_name(format!("{stem}-parts.parquet"))
    }

    /// The folder of scripts, logs and done markers.
    pub fn slurm_dir(&self) -> PathBuf {
        if self.parquet() {
            let mut p = self.parts_dir().into_os_string();
            p.push(".slurm");
            PathBuf::from(p)
        } else {
            self.out.join("slurm")
        }
    }

    fn header(&self, name: &str, array: bool) -> String {
        let r = &self.resources;
        let logs = self.slurm_dir().join("logs");
        let mut h = String::from("#!/bin/bash\n");
        h += &format!("#SBATCH --job-name=cuelab-{}-{name}\n", self.kind);
        h += &format!("#SBATCH --chdir={}\n", q(&self.workdir));
        if array {
            let throttle = self.throttle.map(|k| format!("%{k}")).unwrap_or_default();
            h += &format!(
                "#SBATCH --array=0-{}{throttle}\n",
                self.array.saturating_sub(1)
            );
            h += &format!("#SBATCH --output={}\n", q(&logs.join("shard-%a.out")));
            if let Some(g) = r.gpus_per_task {
                h += &format!("#SBATCH --gpus-per-task={g}\n");
            }
            if let Some(c) = r.cpus_per_task {
                h += &format!("#SBATCH --cpus-per-task={c}\n");
            }
            if let Some(m) = &r.mem {
                h += &format!("#SBATCH --mem={m}\n");
            }
        } else {
            h += &format!("#SBATCH --output={}\n", q(&logs.join("merge.out")));
        }
        h += "#SBATCH --ntasks=1\n";
        if let Some(p) = &r.partition {
            h += &format!("#SBATCH --partition={p}\n");
        }
        if let Some(t) = &r.time {
            h += &format!("#SBATCH --time={t}\n");
        }
        if let Some(a) = &r.account {
            h += &format!("#SBATCH --account={a}\n");
        }
        for e in &r.extra {
            h += &format!("#SBATCH {e}\n");
        }
        h += "set -euo pipefail\n";
        h
    }

    /// The three scripts.
    pub fn scripts(&self) -> Scripts {
        let exe = q(&self.exe);
        let done = q(&self.slurm_dir().join("done"));
        let flags: Vec<String> = self.run_args.iter().map(|a| shell_quote(a)).collect();
        let out_flag = if self.parquet() { "-o" } else { "--out" };
        let mut array = self.header("shards", true);
        array += &format!(
            "# shard I of {n}: a finished shard (its done marker) exits at once; an unfinished one\n\
             # resumes its run directory.\n\
             i=$SLURM_ARRAY_TASK_ID\n\
             if [ -e {done}/$i ]; then echo \"shard $i/{n} already done\"; exit 0; fi\n\
             {exe} {kind} {flags} --shard auto/{n} {out_flag} {shard_out}\n\
             mkdir -p {done} && touch {done}/$i\n",
            n = self.array,
            kind = self.kind,
            flags = flags.join(" "),
            shard_out = self.shard_out("$i"),
        );
        let mut merge = self.header("merge", false);
        let inputs = if self.parquet() {
            q(&self.parts_dir())
        } else {
            (0..self.array)
                .map(|i| self.shard_out(&i.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        merge += &format!("{exe} merge {inputs} -o {out}\n", out = q(&self.out));
        let dir = q(&self.slurm_dir());
        let workdir = q(&self.workdir);
        let submit = format!(
            "#!/bin/bash\n\
             # Submit the array, then the merge once every task has succeeded.\n\
             set -euo pipefail\n\
             cd {workdir}\n\
             mkdir -p {dir}/logs {dir}/done\n\
             array=$(sbatch --parsable {dir}/array.sbatch)\n\
             sbatch --parsable --dependency=afterok:${{array%%;*}} {dir}/merge.sbatch\n"
        );
        Scripts {
            array,
            merge,
            submit,
        }
    }

    /// Write the scripts into [`SlurmJob::slurm_dir`] (with `logs/` and `done/`); returns the
    /// folder.
    pub fn write(&self) -> Result<PathBuf> {
        let dir = self.slurm_dir();
        for d in [dir.join("logs"), dir.join("done")] {
            std::fs::create_dir_all(&d).map_err(|e| TaskError::io(&d, e))?;
        }
        let s = self.scripts();
        for (name, text) in [
            ("array.sbatch", &s.array),
            ("merge.sbatch", &s.merge),
            ("submit.sh", &s.submit),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| TaskError::io(&p, e))?;
        }
        Ok(dir)
    }

    /// The shards without a done marker.
    pub fn unfinished(&self) -> Vec<usize> {
        let done = self.slurm_dir().join("done");
        (0..self.array)
            .filter(|i| !done.join(i.to_string()).exists())
            .collect()
    }

    /// Submit the unfinished shards as an array and the merge job depending on it (written
    /// first with [`SlurmJob::write`]); returns the job ids `(array, merge)`, the array's `None`
    /// when every shard is already done (then only the merge is submitted).
    pub fn submit(&self, sbatch: &str) -> Result<(Option<String>, String)> {
        let dir = self.write()?;
        let todo = self.unfinished();
        let array_id = if todo.is_empty() {
            None
        } else {
            let list = compress_ranges(&todo);
            let throttle = self.throttle.map(|k| format!("%{k}")).unwrap_or_default();
            Some(run_sbatch(
                sbatch,
                &[
                    "--parsable".into(),
                    format!("--array={list}{throttle}"),
                    dir.join("array.sbatch").display().to_string(),
                ],
            )?)
        };
        let mut args = vec!["--parsable".to_string()];
        if let Some(id) = &array_id {
            args.push(format!("--dependency=afterok:{id}"));
        }
        args.push(dir.join("merge.sbatch").display().to_string());
        let merge_id = run_sbatch(sbatch, &args)?;
        Ok((array_id, merge_id))
    }
}

/// `[0, 1, 2, 5, 7, 8]` → `0-2,5,7-8`.
pub fn compress_ranges(ids: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Run `sbatch ARGS`, returning the job id (`--parsable` prints `id` or `id;cluster`).
fn run_sbatch(sbatch: &str, args: &[String]) -> Result<String> {
    let out = Command::new(sbatch).args(args).output().map_err(|e| {
        TaskError::Config(format!(
            "cannot run `{sbatch}` ({e}): is this a Slurm login node? The scripts are written; \
             submit them by hand"
        ))
    })?;
    if !out.status.success() {
        return Err(TaskError::Config(format!(
            "`{sbatch} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Err(TaskError::Config(format!(
            "`{sbatch}` printed no job id: {text:?}"
        )));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: &str, out: &str) -> SlurmJob {
        SlurmJob {
            kind: kind.into(),
            run_args: vec!["--data".into(), "my data/samples.jsonl".into()],
            out: out.into(),
            array: 4,
            throttle: Some(2),
            resources: Resources {
                partition: Some("gpu".into()),
                gpus_per_task: Some(1),
                time: Some("01:00:00".into()),
                ..Resources::default()
            },
            exe: "/opt/cuelab".into(),
            workdir: "/home/me".into(),
        }
    }

    #[test]
    fn scripts_shard_resume_and_merge() {
        let s = job("ground", "runs/g").scripts();
        assert!(s.array.contains("#SBATCH --array=0-3%2"), "{}", s.array);
        assert!(s.array.contains("#SBATCH --gpus-per-task=1"), "{}", s.array);
        assert!(s.array.contains("#SBATCH --partition=gpu"), "{}", s.array);
        assert!(
            s.array.contains(
                "/opt/cuelab ground --data 'my data/samples.jsonl' --shard auto/4 --out runs/g/shards/$i"
            ),
            "{}",
            s.array
        );
        assert!(
            s.array.contains("if [ -e runs/g/slurm/done/$i ]"),
            "{}",
            s.array
        );
        assert!(
            s.merge.contains(
                "/opt/cuelab merge runs/g/shards/0 runs/g/shards/1 runs/g/shards/2 runs/g/shards/3 -o runs/g"
            ),
            "{}",
            s.merge
        );
        assert!(!s.merge.contains("--gpus"), "{}", s.merge);
        assert!(
            s.submit.contains("--dependency=afterok:${array%%;*}"),
            "{}",
            s.submit
        );
        let e = job("embed", "out/e.parquet").scripts();
        assert!(e.array.contains("-o out/e-parts.parquet"), "{}", e.array);
        assert!(
            e.merge
                .contains("merge out/e-parts.parquet -o out/e.parquet"),
            "{}",
            e.merge
        );
    }

    #[test]
    fn flags_and_ranges() {
        let args: Vec<String> = ["--data", "d", "-o", "x", "--limit", "3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (out, rest) = split_out(&args).unwrap();
        assert_eq!(out, PathBuf::from("x"));
        assert_eq!(rest, ["--data", "d", "--limit", "3"]);
        assert!(split_out(&args[..2])
            .unwrap_err()
            .to_string()
            .contains("--out"));
        let with_shard = vec!["--shard".to_string(), "0/2".into(), "--out=x".into()];
        assert!(split_out(&with_shard).is_err());
        assert_eq!(compress_ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(compress_ranges(&[3]), "3");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn resubmission_sends_only_unfinished_shards() {
        let tmp = tempfile::tempdir().unwrap();
        let mut j = job("ground", &tmp.path().join("run").display().to_string());
        // a fake sbatch that records its arguments and prints a job id
        let log = tmp.path().join("calls");
        let fake = tmp.path().join("sbatch");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho \"$@\" >> {}\necho 42\n", log.display()),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        j.throttle = None;
        j.write().unwrap();
        for i in [0, 2] {
            std::fs::write(j.slurm_dir().join("done").join(i.to_string()), "").unwrap();
        }
        assert_eq!(j.unfinished(), vec![1, 3]);
        let (a, m) = j.submit(fake.to_str().unwrap()).unwrap();
        assert_eq!((a.as_deref(), m.as_str()), (Some("42"), "42"));
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(calls.contains("--array=1,3 "), "{calls}");
        assert!(calls.contains("--dependency=afterok:42 "), "{calls}");
        assert!(j
            .submit("/nonexistent/sbatch")
            .unwrap_err()
            .to_string()
            .contains("by hand"));
    }
}
