//! Plugin parameter names as Lua identifiers: lower case, every run of other characters one
//! `_`, no leading or trailing `_`, a leading digit prefixed with `p_`; names that come out
//! equal get `_2`, `_3`, … in the plugin's order.

use super::ParamInfo;

/// The Lua identifier for a parameter called `name`.
pub fn ident(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let s = s.trim_matches('_').to_string();
    if s.is_empty() {
        "param".to_string()
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("p_{s}")
    } else {
        s
    }
}

/// Fills every parameter's `ident`, unique within the plugin.
pub fn assign_idents(params: &mut [ParamInfo]) {
    let mut used: Vec<String> = Vec::new();
    for p in params.iter_mut() {
        let base = ident(&p.name);
        let mut id = base.clone();
        let mut n = 2;
        while used.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        used.push(id.clone());
        p.ident = id;
    }
}

#[cfg(test)]
mod tests {
    use super::ident;

    #[test]
    fn names_become_identifiers() {
        assert_eq!(ident("Gain 1"), "gain_1");
        assert_eq!(ident("Freq (Hz)"), "freq_hz");
        assert_eq!(ident("  Output   Gain!"), "output_gain");
        assert_eq!(ident("2nd band"), "p_2nd_band");
        assert_eq!(ident("***"), "param");
    }
}
