//! The node registry: every kind of node a script (or a deserialised graph) can hold, each
//! declared once, in its own file under [`crate::nodes`], as a [`NodeKind`]: its name, what it
//! does, its ports and automatable parameters ([`NodeDesc`]), its construction options
//! ([`OptionDesc`]: type, unit, range, default), other ways to write them ([`Alias`]), the checks
//! that tie options together, and how to build an instance from a [`Config`].
//!
//! The same declaration validates script options, re-validates graphs that arrive from the
//! evaluator process, gives the error messages their ranges, and generates the LuaLS annotation
//! file and the README's option tables ([`docs`]). Nodes and DSP import nothing from the script
//! layer; the script layer only maps Lua values onto these schemas.

pub mod config;
pub mod docs;
pub mod schema;

pub use config::{Config, OptValue};
pub use schema::{Alias, Conversion, OptDefault, OptKind, OptionDesc};

use crate::graph::Session;
use crate::node::{Node, NodeDesc};

/// Where a kind may appear in a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A channel-strip insert: `strip:<name> { ... }`.
    Insert,
    /// A track source selected by a key of the track's table (`{ osc = "saw" }`).
    Source {
        /// The Lua key that selects this kind; its value sets the option of the same name.
        selector: &'static str,
    },
    /// Built by the front end itself (bus sums, faders, pans, file players).
    Internal,
}

/// One kind of node. See the module documentation.
pub struct NodeKind {
    /// Unique name: the insert method (`comp`), the source selector's kind (`osc`) or the
    /// internal kind (`player`). Also the kind shown in messages.
    pub name: &'static str,
    /// What the node does, in one or two sentences.
    pub doc: &'static str,
    /// Where it may appear.
    pub role: Role,
    /// Ports and automatable parameters.
    pub desc: &'static NodeDesc,
    /// Construction options (not automatable).
    pub options: &'static [OptionDesc],
    /// Other keys scripts may write for options or parameters.
    pub aliases: &'static [Alias],
    /// Checks that tie options to each other or to the session (a loudness target louder than
    /// its ceiling). Runs after every option was checked on its own.
    pub check: fn(&Config, &Session) -> Result<(), String>,
    /// Whether parameter `index` exists with this config (an EQ with 3 bands has no `b4_hz`).
    pub has_param: fn(&Config, usize) -> bool,
    /// The parameter values the config implies before the script sets any (defaults that
    /// depend on options). `(index, value)` pairs.
    pub initial_params: fn(&Config) -> Vec<(usize, f32)>,
    /// Builds an unprepared instance from a normalised config. Control thread; allocates.
    pub build: fn(&Config) -> Result<Box<dyn Node>, String>,
}

impl std::fmt::Debug for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKind({})", self.name)
    }
}

/// For [`NodeKind::check`]: nothing to check.
pub fn no_check(_: &Config, _: &Session) -> Result<(), String> {
    Ok(())
}

/// For [`NodeKind::has_param`]: every parameter exists.
pub fn all_params(_: &Config, _: usize) -> bool {
    true
}

/// For [`NodeKind::initial_params`]: the declared defaults.
pub fn no_initial(_: &Config) -> Vec<(usize, f32)> {
    Vec::new()
}

impl NodeKind {
    /// The option declared as `key`.
    pub fn option(&self, key: &str) -> Option<&'static OptionDesc> {
        self.options.iter().find(|o| o.key == key)
    }

    /// Checks every entry of `config` and fills in the defaults; then runs the kind's own
    /// checks. Every problem is reported (messages without the node's name).
    pub fn normalize(&self, mut config: Config, session: &Session) -> Result<Config, Vec<String>> {
        let mut errs = Vec::new();
        let given: Vec<String> = config.iter().map(|(k, _)| k.to_string()).collect();
        for k in &given {
            if self.option(k).is_none() {
                config.remove(k);
                errs.push(format!("unknown option '{}'", schema::printable(k)));
            }
        }
        for o in self.options {
            if !config.has(o.key) {
                if let Some(v) = o.default.value() {
                    config.set(o.key, v);
                }
            }
        }
        // Defaults are checked too: some depend on the session (crossovers above Nyquist at a
        // low rate).
        for o in self.options {
            if let Some(v) = config.get(o.key) {
                if let Err(e) = o.check(v, session.sample_rate) {
                    if given.iter().any(|g| g == o.key) {
                        errs.push(e);
                    } else {
                        errs.push(format!(
                            "{e} (the default of {}; give {} for this session)",
                            o.key, o.key
                        ));
                    }
                }
            }
        }
        if errs.is_empty() {
            if let Err(e) = (self.check)(&config, session) {
                errs.push(e);
            }
        }
        if errs.is_empty() {
            Ok(config)
        } else {
            Err(errs)
        }
    }

    /// Keys a script may write: user options, parameters and aliases (for did-you-mean).
    pub fn script_keys(&self) -> Vec<&'static str> {
        let mut k: Vec<&'static str> = self
            .options
            .iter()
            .filter(|o| o.user)
            .map(|o| o.key)
            .collect();
        k.extend(self.desc.params.iter().map(|p| p.id));
        k.extend(self.aliases.iter().map(|a| a.key));
        k
    }
}

/// Every registered kind.
pub fn all() -> &'static [&'static NodeKind] {
    crate::nodes::KINDS
}

/// The kind called `name`.
pub fn get(name: &str) -> Option<&'static NodeKind> {
    all().iter().copied().find(|k| k.name == name)
}

/// The insert kinds, in registry order.
pub fn inserts() -> impl Iterator<Item = &'static NodeKind> {
    all().iter().copied().filter(|k| k.role == Role::Insert)
}

/// The source kinds, in registry order.
pub fn sources() -> impl Iterator<Item = &'static NodeKind> {
    all()
        .iter()
        .copied()
        .filter(|k| matches!(k.role, Role::Source { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_descs_agree() {
        let mut names: Vec<&str> = all().iter().map(|k| k.name).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate kind names");
        for k in all() {
            assert_eq!(k.desc.kind, k.name, "desc kind of {}", k.name);
            for o in k.options {
                if let Some(v) = o.default.value() {
                    o.check(&v, 48000.0)
                        .unwrap_or_else(|e| panic!("{}: default of {}: {e}", k.name, o.key));
                }
                assert!(
                    k.desc.param_index(o.key).is_none(),
                    "{}: {} is both an option and a parameter",
                    k.name,
                    o.key
                );
            }
            for p in k.desc.params {
                assert!(
                    p.min <= p.default && p.default <= p.max,
                    "{}: default of {} out of its range",
                    k.name,
                    p.id
                );
            }
        }
    }

    #[test]
    fn every_kind_builds_from_its_defaults() {
        let session = Session::default();
        for k in all() {
            let Ok(cfg) = k.normalize(Config::new(), &session) else {
                continue; // kinds with a required option (a player's file)
            };
            (k.build)(&cfg).unwrap_or_else(|e| panic!("{} does not build: {e}", k.name));
        }
    }
}
