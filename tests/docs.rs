//! The LuaLS annotation file and the README's option tables are generated from the node
//! registry; these tests fail when the committed files drift from it (an option added, a range
//! or default changed). `MIXDOWN_BLESS=1 cargo test --test docs` rewrites them.

use mixdown::registry::docs::{luals, readme_tables, README_BEGIN, README_END};

fn bless() -> bool {
    std::env::var_os("MIXDOWN_BLESS").is_some()
}

#[test]
fn luals_annotations_match_the_registry() {
    let path = "scripts/.luals/mix.lua";
    let want = luals();
    if bless() {
        std::fs::write(path, &want).unwrap();
    }
    let got = std::fs::read_to_string(path).unwrap();
    assert!(
        got == want,
        "{path} differs from the registry; run MIXDOWN_BLESS=1 cargo test --test docs"
    );
    // Spot checks a user would notice: options and parameters of the registry are there.
    for needle in [
        "---@field gain_db? number a fixed gain instead of a target",
        "---@field auto_gain? boolean",
        "function Strip:insert(kind, opts) end",
        "---@field crossovers_hz? number[]",
    ] {
        assert!(want.contains(needle), "missing: {needle}");
    }
    // Generator levels are automatable, their other options are not.
    assert!(want.contains("---@field level_db? number osc: output level in dB"));
}

#[test]
fn readme_option_tables_match_the_registry() {
    let path = "README.md";
    let readme = std::fs::read_to_string(path).unwrap();
    let (Some(a), Some(b)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        panic!("README.md has no generated registry section");
    };
    let current = &readme[a..b + README_END.len()];
    let want = readme_tables();
    let want = want.trim_end();
    if bless() && current != want {
        let new = format!("{}{want}{}", &readme[..a], &readme[b + README_END.len()..]);
        std::fs::write(path, new).unwrap();
        return;
    }
    assert!(
        current == want,
        "README.md's option tables differ from the registry; run MIXDOWN_BLESS=1 cargo test --test docs"
    );
}
