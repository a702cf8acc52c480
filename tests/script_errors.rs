//! Golden tests: every broken script in tests/errors/ must fail with exactly the message in its
//! `.err` file (`file:line: subject: problem; hint`). Set UPDATE_GOLDEN=1 to rewrite them.

use std::path::Path;

use mixdown::graph::{compile, CompileConfig};
use mixdown::script::{evaluate, ScriptOptions};

fn messages(script: &Path) -> String {
    match evaluate(script, &ScriptOptions::default()) {
        Err(errs) => errs.to_string(),
        Ok(ev) => match compile(&ev.spec, CompileConfig::default()) {
            Err(errs) => errs.to_string(),
            Ok(_) => String::from("(no error)"),
        },
    }
}

#[test]
fn broken_scripts_report_exact_messages() {
    let dir = Path::new("tests/errors");
    let mut scripts: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/errors exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .collect();
    scripts.sort();
    assert!(
        scripts.len() >= 10,
        "expected the golden scripts, found {}",
        scripts.len()
    );
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for s in &scripts {
        let got = messages(s);
        let err_file = s.with_extension("err");
        if update {
            std::fs::write(&err_file, format!("{got}\n")).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&err_file)
            .unwrap_or_else(|_| panic!("missing {}", err_file.display()));
        if got.trim_end() != want.trim_end() {
            failures.push(format!(
                "{}:\n  want: {}\n  got:  {}",
                s.display(),
                want.trim_end(),
                got
            ));
        }
        assert!(!got.contains("(no error)"), "{} should fail", s.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
