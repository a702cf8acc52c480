//! `mixdown batch`, run as a user runs it: the example variations script with a manifest in a
//! temporary folder, outputs compared with single renders byte for byte, shards, a SIGKILL and
//! `--resume`, failing jobs, the cluster launchers' variables and a real GNU parallel run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_mixdown");
const SCRIPT: &str = include_str!("../scripts/batch/variations.lua");

/// A project folder holding `variations.lua` and a manifest `jobs.jsonl` of `lines`.
fn project(lines: &[String]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("variations.lua"), SCRIPT).unwrap();
    std::fs::write(d.path().join("jobs.jsonl"), lines.join("\n") + "\n").unwrap();
    d
}

/// `n` jobs of `length_s` seconds with different values, outputs `v<i>.wav`.
fn jobs(n: usize, length_s: f64) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"id": "v{i}", "script": "variations.lua", "set": {{"length_s": {length_s}, "drums_db": {}, "seed": {}}}}}"#,
                i as f64 * 0.5 - 1.0,
                i + 1
            )
        })
        .collect()
}

fn mixdown(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.current_dir(dir).args(args);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The latest record of each job index in a results file.
fn records(path: &Path) -> BTreeMap<u64, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut m = BTreeMap::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(l).expect("every results line is JSON");
        m.insert(v["index"].as_u64().unwrap(), v);
    }
    m
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn batch_outputs_equal_single_renders_byte_for_byte() {
    let mut lines = jobs(3, 1.5);
    lines.push(
        r#"{"id": "flac", "script": "variations.lua", "set": ["length_s=1.5", "bright_db=-2"], "format": "flac24"}"#
            .into(),
    );
    let d = project(&lines);
    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--jobs", "2"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("4 done, 0 up to date, 0 failed"),
        "{}",
        stderr(&o)
    );
    let singles = [
        ("v0.wav", vec!["length_s=1.5", "drums_db=-1", "seed=1"]),
        ("v2.wav", vec!["length_s=1.5", "drums_db=0", "seed=3"]),
        ("flac.flac", vec!["length_s=1.5", "bright_db=-2"]),
    ];
    for (name, set) in singles {
        let single = format!("single-{name}");
        let mut args = vec!["render", "variations.lua", "-o", &single];
        for s in &set {
            args.extend(["--set", s]);
        }
        let r = mixdown(d.path(), &args, &[]);
        assert!(r.status.success(), "{}", stderr(&r));
        let a = std::fs::read(d.path().join(name)).unwrap();
        let b = std::fs::read(d.path().join(&single)).unwrap();
        assert!(a.len() > 10_000, "{name} has audio");
        assert!(
            a == b,
            "{name} differs from `mixdown render` of the same job"
        );
    }
    // Different values give different mixes.
    assert_ne!(
        std::fs::read(d.path().join("v0.wav")).unwrap(),
        std::fs::read(d.path().join("v1.wav")).unwrap()
    );
    let recs = records(&d.path().join("jobs.results.jsonl"));
    assert_eq!(recs.len(), 4);
    for r in recs.values() {
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["integrated_lufs"].as_f64().unwrap() > -40.0, "{r}");
        assert!(r["true_peak_dbtp"].as_f64().unwrap() <= -0.9, "{r}");
        assert!(!r["digest"].as_str().unwrap().is_empty());
        assert!(r["outputs"][0]["bytes"].as_u64().unwrap() > 10_000);
    }
}

#[test]
fn two_shards_cover_every_job_exactly_once_and_merge() {
    let d = project(&jobs(7, 0.5));
    let mut seen = Vec::new();
    for i in 0..2 {
        let shard = format!("{i}/2");
        let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--shard", &shard], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let recs = records(&d.path().join(format!("jobs.results.shard-{i}-of-2.jsonl")));
        for (idx, r) in recs {
            assert_eq!(idx % 2, i, "shard {i} took job {idx}");
            assert_eq!(r["status"], "ok");
            seen.push(idx);
        }
    }
    seen.sort();
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
    assert_eq!(files_with(d.path(), ".wav").len(), 7);
    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--merge-results"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = records(&d.path().join("jobs.results.jsonl"));
    assert_eq!(
        merged.keys().copied().collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
}

#[test]
fn merging_with_a_shard_missing_names_the_jobs_without_a_result() {
    let d = project(&jobs(4, 0.5));
    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--shard", "1/2"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--merge-results"], &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("2 job(s) have no result yet (indices 0, 2)"),
        "{e}"
    );
}

#[test]
fn slurm_and_kubernetes_variables_pick_the_shard() {
    let d = project(&jobs(5, 0.5));
    // A Slurm array 1-3 (--array=1-3): task ids start at the array's minimum.
    let o = mixdown(
        d.path(),
        &["batch", "jobs.jsonl"],
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("shard 1/3 from SLURM"),
        "{}",
        stderr(&o)
    );
    let recs = records(&d.path().join("jobs.results.shard-1-of-3.jsonl"));
    assert_eq!(recs.keys().copied().collect::<Vec<_>>(), vec![1, 4]);

    // A Kubernetes Indexed Job: the index from the variable, the count from the option.
    let o = mixdown(
        d.path(),
        &["batch", "jobs.jsonl", "--shard-count", "2"],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&d.path().join("jobs.results.shard-0-of-2.jsonl"));
    assert_eq!(recs.keys().copied().collect::<Vec<_>>(), vec![0, 2, 4]);

    // Without the count, an Indexed Job's index alone is refused with what to add.
    let o = mixdown(
        d.path(),
        &["batch", "jobs.jsonl"],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--shard-count"), "{}", stderr(&o));
}

#[test]
fn a_failing_job_is_reported_with_its_line_and_the_others_complete() {
    let mut lines = vec!["# variations".to_string()];
    lines.extend(jobs(2, 0.5));
    // Line 4: a value the script refuses (its error names the script's line).
    lines.push(
        r#"{"id": "bad", "script": "variations.lua", "set": {"length_s": 0.5, "tempo": "fast"}}"#
            .into(),
    );
    // Line 5: a misspelt key.
    lines.push(r#"{"id": "typo", "scirpt": "variations.lua"}"#.into());
    lines.extend(jobs(4, 0.5).into_iter().skip(2));
    let d = project(&lines);
    let o = mixdown(d.path(), &["batch", "jobs.jsonl"], &[]);
    assert!(
        !o.status.success(),
        "a failed job makes the exit code non-zero"
    );
    let e = stderr(&o);
    assert!(e.contains("jobs.jsonl:4"), "{e}");
    assert!(
        e.contains("variations.lua:"),
        "the script's file and line: {e}"
    );
    assert!(e.contains("--set tempo=fast: a number is needed"), "{e}");
    assert!(e.contains("jobs.jsonl:5"), "{e}");
    assert!(e.contains("did you mean 'script'"), "{e}");
    assert!(e.contains("4 done, 0 up to date, 2 failed"), "{e}");
    for name in ["v0.wav", "v1.wav", "v2.wav", "v3.wav"] {
        assert!(d.path().join(name).is_file(), "{name} was still rendered");
    }
    assert!(!d.path().join("bad.wav").exists());
    let recs = records(&d.path().join("jobs.results.jsonl"));
    assert_eq!(recs[&2]["status"], "failed");
    assert_eq!(recs[&2]["line"], 4);
    assert!(recs[&2]["error"]
        .as_str()
        .unwrap()
        .contains("variations.lua:"));

    // --fail-fast starts no more jobs after the first failure.
    let d = project(&[
        r#"{"id": "bad", "script": "variations.lua", "set": {"tempo": "fast"}}"#.into(),
        jobs(1, 0.5)[0].clone(),
    ]);
    let o = mixdown(
        d.path(),
        &["batch", "jobs.jsonl", "--jobs", "1", "--fail-fast"],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("1 not run (--fail-fast)"),
        "{}",
        stderr(&o)
    );
    assert!(!d.path().join("v0.wav").exists());
}

#[test]
fn outputs_outside_the_allowed_folders_are_refused() {
    let d = project(&[
        r#"{"id": "escape", "script": "variations.lua", "set": {"length_s": 0.5}, "out": "../escape.wav"}"#
            .into(),
        r#"{"id": "abs", "script": "variations.lua", "set": {"length_s": 0.5}, "out": "/tmp/mixdown-batch-abs.wav"}"#
            .into(),
    ]);
    let o = mixdown(d.path(), &["batch", "jobs.jsonl"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--allow-write"), "{}", stderr(&o));
    assert!(!d.path().parent().unwrap().join("escape.wav").exists());
    assert!(!Path::new("/tmp/mixdown-batch-abs.wav").exists());
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn resume_after_sigkill_skips_finished_jobs_and_leaves_no_partial_file() {
    let d = project(&jobs(6, 12.0));
    let results = d.path().join("jobs.results.jsonl");
    let mut child = Command::new(BIN)
        .current_dir(d.path())
        .args(["batch", "jobs.jsonl", "--jobs", "1"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once two jobs are done (the third is then being written).
    let t0 = Instant::now();
    loop {
        let done = std::fs::read_to_string(&results)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if done >= 2 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no handler runs.
    child.kill().unwrap();
    child.wait().unwrap();
    let before = records(&results);
    assert!(
        before.len() >= 2 && before.len() < 6,
        "{} jobs done",
        before.len()
    );
    let done: Vec<PathBuf> = before
        .keys()
        .map(|i| d.path().join(format!("v{i}.wav")))
        .collect();
    let stamps: Vec<SystemTime> = done.iter().map(|p| mtime(p)).collect();

    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--resume"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    let want = format!(
        "{} done, {} up to date, 0 failed",
        6 - before.len(),
        before.len()
    );
    assert!(e.contains(&want), "{want}: {e}");
    for (p, t) in done.iter().zip(&stamps) {
        assert_eq!(mtime(p), *t, "{} was rendered again", p.display());
    }
    let after = records(&results);
    assert_eq!(after.len(), 6);
    for (i, r) in &after {
        let want = if before.contains_key(i) {
            "skipped"
        } else {
            "ok"
        };
        assert_eq!(r["status"], want, "job {i}");
    }
    assert_eq!(files_with(d.path(), ".wav").len(), 6);
    assert!(
        files_with(d.path(), ".part").is_empty(),
        "a partial file was left"
    );

    // A changed input (the script) makes every job run again.
    std::fs::write(
        d.path().join("variations.lua"),
        format!("{SCRIPT}\n-- edited\n"),
    )
    .unwrap();
    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--resume"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("6 done, 0 up to date"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gnu_parallel_fans_the_manifest_out_over_two_shards() {
    if Command::new("parallel").arg("--version").output().is_err() {
        panic!("GNU parallel is not installed (apt-get install parallel; .ci/run installs it)");
    }
    let d = project(&jobs(5, 0.5));
    let o = Command::new("parallel")
        .current_dir(d.path())
        .env("MIXDOWN", BIN)
        .args([
            "--will-cite",
            "--halt",
            "now,fail=1",
            "$MIXDOWN batch jobs.jsonl --shard {}/2",
            ":::",
            "0",
            "1",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.path().join("jobs.results.shard-0-of-2.jsonl").is_file());
    assert!(d.path().join("jobs.results.shard-1-of-2.jsonl").is_file());
    let o = mixdown(d.path(), &["batch", "jobs.jsonl", "--merge-results"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = records(&d.path().join("jobs.results.jsonl"));
    assert_eq!(merged.len(), 5);
    assert!(merged.values().all(|r| r["status"] == "ok"));
    assert_eq!(files_with(d.path(), ".wav").len(), 5);
}

#[test]
fn measure_jobs_and_tsv_manifests() {
    let d = project(&jobs(1, 1.0));
    let o = mixdown(d.path(), &["batch", "jobs.jsonl"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(
        d.path().join("more.tsv"),
        "id\tscript\tset.length_s\tset.lead_db\tmeasure\n\
         quiet-lead\tvariations.lua\t0.5\t-20\t\n\
         m\t\t\t\tv0.wav\n",
    )
    .unwrap();
    let o = mixdown(d.path(), &["batch", "more.tsv"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&d.path().join("more.results.jsonl"));
    assert_eq!(recs[&0]["status"], "ok");
    assert!(d.path().join("quiet-lead.wav").is_file());
    let single = records(&d.path().join("jobs.results.jsonl"));
    // The measure job reads the file the first batch wrote: the same loudness it reported.
    let a = recs[&1]["integrated_lufs"].as_f64().unwrap();
    let b = single[&0]["integrated_lufs"].as_f64().unwrap();
    assert!((a - b).abs() < 0.05, "measured {a}, rendered {b}");
}

/// Random numbers and `pairs` order come from the job, never from the clock or the process:
/// two processes with the same values print the same, other values print otherwise.
#[test]
fn scripts_are_deterministic_across_processes() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("r.lua"),
        r#"
local t = {}
for i = 1, 40 do t["k" .. i] = i end
local order = {}
for k in pairs(t) do order[#order + 1] = k end
print(table.concat(order, ","), math.random(), math.random(1, 1000000))
mix.session { length_s = 0.1 }
mix.track("a", { osc = "sine", hz = 440 })
"#,
    )
    .unwrap();
    let run = |set: &str| {
        let o = mixdown(d.path(), &["check", "r.lua", "--set", set], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
            .lines()
            .find(|l| l.contains("k1"))
            .expect("the script's print")
            .to_string()
    };
    let a = run("x=1");
    assert_eq!(a, run("x=1"));
    assert_eq!(a, run("x=1"));
    assert_ne!(a, run("x=2"), "other values seed another sequence");
}
