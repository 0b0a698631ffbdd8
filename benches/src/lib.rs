//! Shared fixtures for keybound's criterion benchmarks (see `benches/`).
