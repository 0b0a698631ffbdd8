//! Shared fixtures for keybound's criterion benchmarks (see `benches/`).

use std::time::Instant;

/// Times `full` and `bare` alternately, `n` calls per round, `rounds` rounds (the order flips
/// every round so neither side always runs warm), and prints the medians and the median of
/// the per-round ratios: one machine, one run, so load shifts cancel out in the ratio.
#[expect(clippy::indexing_slicing, reason = "median of a non-empty vector")]
pub fn interleaved(
    name: &str,
    n: u32,
    rounds: usize,
    mut full: impl FnMut(),
    mut bare: impl FnMut(),
) {
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64() / f64::from(n)
    };
    let (mut ratios, mut fulls, mut bares) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (a, b) = if r % 2 == 0 {
            let a = time(&mut full);
            (a, time(&mut bare))
        } else {
            let b = time(&mut bare);
            (time(&mut full), b)
        };
        ratios.push(a / b);
        fulls.push(a);
        bares.push(b);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "ratio {name:<28} full {:>9.2} µs  bare {:>9.2} µs  median ratio {:.3}",
        med(&mut fulls) * 1e6,
        med(&mut bares) * 1e6,
        med(&mut ratios)
    );
}
