mix.track("t", "../../Cargo.toml")
