//! Shards: `--shard I/N` takes every job whose index ≡ I (mod N). With no `--shard`, a Slurm job
//! array (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`, `SLURM_ARRAY_TASK_MIN`) or a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with N from `--shard-count`) chooses it, so
//! the same manifest fans out over a cluster with no service of its own.

/// One shard of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole batch.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether job `i` belongs to this shard.
    pub fn owns(self, i: usize) -> bool {
        i % self.count == self.index
    }

    /// `-shard-I-of-N` for file names (empty for the whole batch).
    pub fn suffix(self) -> String {
        if self.count == 1 {
            String::new()
        } else {
            format!(".shard-{}-of-{}", self.index, self.count)
        }
    }
}

/// Parses `I/N`.
pub(crate) fn parse(s: &str) -> Result<Shard, String> {
    let bad = || format!("--shard '{s}' must be I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        i.trim().parse::<usize>().map_err(|_| bad())?,
        n.trim().parse::<usize>().map_err(|_| bad())?,
    );
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// The shard the environment asks for, and where it came from; `Ok(None)` when no launcher
/// variable is set. `get` reads a variable (the process environment in use).
pub(crate) fn from_env(
    get: &dyn Fn(&str) -> Option<String>,
    shard_count: Option<usize>,
) -> Result<Option<(Shard, &'static str)>, String> {
    let num = |name: &str| -> Result<Option<usize>, String> {
        match get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| format!("{name}={v} is not a whole number")),
        }
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let count = match (shard_count, num("SLURM_ARRAY_TASK_COUNT")?) {
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => {
                return Err("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT; give the array's size with --shard-count N".into())
            }
        };
        let index = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        })?;
        return check(index, count, "SLURM_ARRAY_TASK_ID").map(Some);
    }
    if let Some(index) = num("JOB_COMPLETION_INDEX")? {
        let count = shard_count.ok_or(
            "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the Job's completions with --shard-count N",
        )?;
        return check(index, count, "JOB_COMPLETION_INDEX").map(Some);
    }
    Ok(None)
}

fn check(index: usize, count: usize, from: &'static str) -> Result<(Shard, &'static str), String> {
    if count == 0 || index >= count {
        return Err(format!(
            "{from}: shard {index} of {count} does not exist (0 <= index < count); the array is larger than the shard count"
        ));
    }
    Ok((Shard { index, count }, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn parse_and_ownership() {
        let s = parse("1/3").unwrap();
        let owned: Vec<usize> = (0..10).filter(|i| s.owns(*i)).collect();
        assert_eq!(owned, vec![1, 4, 7]);
        assert!(parse("3/3").is_err());
        assert!(parse("0/0").is_err());
        assert!(parse("x").is_err());
        assert_eq!(s.suffix(), ".shard-1-of-3");
        assert_eq!(Shard::ALL.suffix(), "");
    }

    #[test]
    fn slurm_arrays_from_zero_and_from_one() {
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            from_env(&e, None).unwrap(),
            Some((Shard { index: 2, count: 4 }, "SLURM_ARRAY_TASK_ID"))
        );
        // --array=1-4: ids 1..=4, min 1.
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(
            from_env(&e, None).unwrap().unwrap().0,
            Shard { index: 3, count: 4 }
        );
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(from_env(&e, None).is_err());
    }

    #[test]
    fn kubernetes_indexed_jobs_need_the_count() {
        let e = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert!(from_env(&e, None).unwrap_err().contains("--shard-count"));
        assert_eq!(
            from_env(&e, Some(3)).unwrap(),
            Some((Shard { index: 1, count: 3 }, "JOB_COMPLETION_INDEX"))
        );
        assert_eq!(from_env(&env(&[]), Some(3)).unwrap(), None);
    }
}
