// Empty: this package is never built (see Cargo.toml).
