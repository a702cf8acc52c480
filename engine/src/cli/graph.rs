//! `mixdown graph`: the routing as Graphviz DOT, or the compiled schedule.

use std::path::PathBuf;

use super::{compile_or_report, load, ScriptArgs};
use crate::error::{Error, ErrorKind, Errors};
use crate::graph::GraphSpec;

/// A DOT string literal's contents: quotes and backslashes escaped, control characters dropped
/// (a name can never end the label or start a statement).
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The routing of `spec` as DOT.
pub(crate) fn dot(spec: &GraphSpec) -> String {
    use petgraph::visit::{EdgeRef, IntoEdgeReferences};
    let mut s =
        String::from("digraph mix {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (k, n) in &spec.nodes {
        let shape = if Some(k) == spec.output {
            ", style=bold"
        } else {
            ""
        };
        let p = dot_escape(&n.path);
        s.push_str(&format!(
            "  \"{p}\" [label=\"{p}\\n[{}]\"{shape}];\n",
            n.kind_name()
        ));
    }
    for e in (&spec.graph).edge_references() {
        let (a, b) = (
            &spec.nodes[spec.graph[e.source()]],
            &spec.nodes[spec.graph[e.target()]],
        );
        let port = b
            .desc()
            .inputs
            .get(e.weight().port)
            .map_or("in", |p| p.name);
        let label = if port == "in" {
            String::new()
        } else {
            format!(" [label=\"{port}\", style=dashed]")
        };
        s.push_str(&format!(
            "  \"{}\" -> \"{}\"{label};\n",
            dot_escape(&a.path),
            dot_escape(&b.path)
        ));
    }
    s.push_str("}\n");
    s
}

pub(crate) fn cmd_graph(
    script: PathBuf,
    output: Option<PathBuf>,
    schedule: bool,
    sa: &ScriptArgs,
) -> Result<(), Errors> {
    let ev = load(Some(&script), sa)?;
    let sched = compile_or_report(&ev.spec)?;
    let text = if schedule {
        sched.dump()
    } else {
        dot(&ev.spec)
    };
    drop(sched);
    let Some(p) = output else {
        print!("{text}");
        return Ok(());
    };
    let p = crate::io::output::WritePolicy::new([p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), |d| d.to_path_buf())])
    .prepare(&p)?;
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("dot")
        .to_string();
    if ext == "dot" || schedule {
        crate::io::output::write_file(&p, text.as_bytes())?;
    } else {
        if !["svg", "png", "pdf"].contains(&ext.as_str()) {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{}: write .dot, .svg, .png or .pdf", p.display()),
            )
            .into());
        }
        let out = std::process::Command::new("dot")
            .arg(format!("-T{ext}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = out.map_err(|_| {
            Error::new(
                ErrorKind::Other,
                format!("writing {} needs Graphviz's `dot` program (apt-get install graphviz); use -o FILE.dot for DOT text", p.display()),
            )
        })?;
        use std::io::Write;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(&p, e))?;
        }
        let res = child.wait_with_output().map_err(|e| Error::io(&p, e))?;
        if !res.status.success() {
            return Err(Error::io(&p, "dot failed").into());
        }
        crate::io::output::write_file(&p, &res.stdout)?;
    }
    eprintln!("wrote {}", p.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dot_escape;

    #[test]
    fn names_cannot_break_out_of_a_dot_string() {
        assert_eq!(dot_escape(r#"a"];x[label="b"#), r#"a\"];x[label=\"b"#);
        assert_eq!(dot_escape("a\\\"b"), "a\\\\\\\"b");
        assert_eq!(dot_escape("a\nb\x1b[31m"), "a?b?[31m");
    }
}
