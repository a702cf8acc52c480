//! Third-party plugin hosting with the real plugins Debian's `zam-plugins` installs in
//! /usr/lib/clap (installed by `.ci/run`).

use mixdown::plugin;

/// Whether the zam CLAP plugins are here; under CI they must be.
fn have_plugins() -> bool {
    let ok = std::path::Path::new("/usr/lib/clap/ZamEQ2.clap").exists();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs zam-plugins (/usr/lib/clap/ZamEQ2.clap)"
        );
        eprintln!("skipped: /usr/lib/clap/ZamEQ2.clap missing (apt-get install zam-plugins)");
    }
    ok
}

#[test]
fn lists_the_installed_clap_plugins_with_parameters() {
    if !have_plugins() {
        return;
    }
    let t = std::time::Instant::now();
    let (all, errs) = plugin::scan();
    eprintln!(
        "scan: {} plugins in {:?}, errors {errs:?}",
        all.len(),
        t.elapsed()
    );
    for p in &all {
        eprintln!(
            "{} {} {} in {:?} out {:?} lat {} state {} params {}",
            p.id,
            p.name,
            p.vendor,
            p.inputs,
            p.outputs,
            p.latency,
            p.has_state,
            p.params
                .iter()
                .map(|q| format!("{}[{}..{} ={}]", q.ident, q.min, q.max, q.default))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let eq = all
        .iter()
        .find(|p| p.name == "ZamEQ2")
        .expect("ZamEQ2 listed");
    assert!(eq.id.starts_with("clap:"));
    assert!(!eq.params.is_empty());
}
