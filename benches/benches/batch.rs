//! Side by side, per algorithm (ES256, EdDSA, PS256): keybound's full DPoP validation against
//! the bare signature floors of *ring*, aws-lc-rs and RustCrypto (issue 18).
//!
//! - **Inputs**: 2000 proofs over 50 keys (key `i % 50`, distinct `jti`s, all valid at a fixed
//!   `now`), and 2000 proofs over 2000 keys ("cold": every key new), written once as
//!   `dpop verify --batch` JSON-lines files under `target/bench-batch/` and reused (the proofs
//!   stay valid at that `now`, and RSA key generation takes minutes).
//! - **Floors**: each backend verifies the same 2000 (message, signature) pairs, importing the
//!   key from its decoded coordinates on every call, as a server without a key cache does.
//! - **prepared**: each backend's `verify_prepared` over the same pairs with the 50 keys
//!   prepared beforehand: the backend's part of a cached validation.
//! - **warm**: `check_proof` + replay commit (a fresh `MemoryReplayStore` per pass) through a
//!   `CachedVerifier` that already holds the 50 keys; **cold**: the same over the cold set with
//!   a fresh cache per pass (every lookup a miss).
//! - **cli-inproc**: `keybound dpop verify --batch FILE` with `DPOP_BENCH_PASSES=5`, its
//!   `median_us_per_proof`; **cli-whole**: the wall time of the same command without it
//!   (stdout to /dev/null) divided by 2000. The binary is `$KEYBOUND_BIN`, else
//!   `target/release/keybound` (`cargo build --release -p keybound-cli`); `cargo xtask bench`
//!   builds it first. Without it the CLI rows are skipped.
//!
//! Every row runs once per round, the order rotating each round, so load shifts over a round
//! touch every row alike; figures are medians over rounds and ratios medians of per-round
//! ratios (the floor being the backend with the lowest median floor). CPU time is this
//! thread's (`CLOCK_THREAD_CPUTIME_ID`), wall time beside it. `BATCH_ROUNDS=N`
//! (default 11) sets the rounds, `BATCH_ALGS=ES256,EdDSA` the algorithms.
//!
//! Output lines (parsed by `cargo xtask bench`):
//! `batch <alg> <row> <backend> <µs per proof>` and `batch-ratio <alg> <name> <ratio>`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use core::hint::black_box;
use core::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use base64ct::{Base64UrlUnpadded, Encoding};
use keybound_dpop::jose::{CachedVerifier, FastestVerifier, PrepareKey};
use keybound_dpop::replay::MemoryReplayStore;
use keybound_dpop::{
    Algorithm, AwsLcVerifier, DecodedProof, Policy, ProofParams, Request, RingVerifier,
    RustCryptoVerifier, SignatureVerifier, SigningKey, check_proof,
};
use keybound_jwk::PublicParams;

const NOW: u64 = 1_700_000_000;
const HTM: &str = "POST";
const HTU: &str = "https://server.example.com/token";
const PROOFS: usize = 2000;
const KEYS: usize = 50;
const CLI_PASSES: usize = 5;

/// A key as the floors import it: decoded coordinates.
#[derive(Clone)]
enum Coords {
    /// SEC1 uncompressed point.
    Ec(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ed([u8; 32]),
}

struct Item {
    proof: String,
    msg: Vec<u8>,
    sig: Vec<u8>,
    coords: Coords,
}

struct Set {
    items: Vec<Item>,
    file: PathBuf,
    /// Index of each proof's key among the set's distinct keys.
    key_of: Vec<usize>,
    keys: usize,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

fn batch_line(proof: &str) -> String {
    format!(r#"{{"proof":"{proof}","htm":"{HTM}","htu":"{HTU}","now":{NOW}}}"#)
}

/// A PS256 proof signed with an aws-lc-rs RSA-2048 key (its key generation is many times
/// faster than the `rsa` crate's, which matters for 2000 cold keys).
fn ps256_proof(key: &aws_lc_rs::rsa::KeyPair, jti: &str) -> String {
    use aws_lc_rs::signature::KeyPair as _;
    let public = key.public_key();
    let n = Base64UrlUnpadded::encode_string(public.modulus().big_endian_without_leading_zero());
    let e = Base64UrlUnpadded::encode_string(public.exponent().big_endian_without_leading_zero());
    let header =
        format!(r#"{{"typ":"dpop+jwt","alg":"PS256","jwk":{{"kty":"RSA","n":"{n}","e":"{e}"}}}}"#);
    let payload = format!(r#"{{"jti":"{jti}","htm":"{HTM}","htu":"{HTU}","iat":{NOW}}}"#);
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(payload.as_bytes())
    );
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PSS_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
}

/// `count` proofs over `keys` keys (proof `i` signed by key `i % keys`), each with its own
/// `jti`.
fn generate(alg: Algorithm, keys: usize, count: usize) -> Vec<String> {
    let jti = |i: usize| format!("bench-{alg}-{keys}-{i:05}");
    if alg == Algorithm::Ps256 {
        // Two threads: RSA key generation dominates.
        let made: Vec<aws_lc_rs::rsa::KeyPair> = std::thread::scope(|s| {
            let half = keys.div_ceil(2);
            let a = s.spawn(move || {
                (0..half)
                    .map(|_| aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048))
                    .collect::<Result<Vec<_>, _>>()
            });
            let b = s.spawn(move || {
                (half..keys)
                    .map(|_| aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048))
                    .collect::<Result<Vec<_>, _>>()
            });
            let mut all = a.join().unwrap().unwrap();
            all.extend(b.join().unwrap().unwrap());
            all
        });
        return (0..count)
            .map(|i| ps256_proof(&made[i % keys], &jti(i)))
            .collect();
    }
    let made: Vec<SigningKey> = (0..keys)
        .map(|_| SigningKey::generate_os_rng(alg).unwrap())
        .collect();
    let params = ProofParams::new(HTM, HTU, NOW);
    (0..count)
        .map(|i| {
            made[i % keys]
                .sign_proof_with_jti(
                    &params,
                    &jti(i),
                    &mut rand_core::UnwrapErr(getrandom::SysRng),
                )
                .unwrap()
        })
        .collect()
}

fn coords(proof: &str) -> Coords {
    let decoded = DecodedProof::decode(proof).unwrap();
    let header = decoded.header().unwrap();
    match header.jwk().params() {
        PublicParams::Ec { x, y, .. } => Coords::Ec([vec![4u8], x.to_vec(), y.to_vec()].concat()),
        PublicParams::Rsa { n, e } => Coords::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        },
        PublicParams::Okp { x, .. } => Coords::Ed(x.to_vec().try_into().unwrap()),
        _ => unreachable!("DPoP keys are EC, RSA or OKP"),
    }
}

/// The set's JSON-lines file, generated when missing or incomplete.
fn load(alg: Algorithm, keys: usize) -> Set {
    let dir = target_dir().join("bench-batch");
    std::fs::create_dir_all(&dir).unwrap();
    let kind = if keys == PROOFS { "cold" } else { "warm" };
    let file = dir.join(format!("{alg}-{kind}.jsonl"));
    let proofs: Vec<String> = std::fs::read_to_string(&file)
        .ok()
        .map(|text| {
            text.lines()
                .filter_map(|l| {
                    let rest = l.strip_prefix(r#"{"proof":""#)?;
                    Some(rest.get(..rest.find('"')?)?.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|p| p.len() == PROOFS)
        .unwrap_or_else(|| {
            eprintln!("batch: generating {PROOFS} {alg} proofs over {keys} keys");
            let proofs = generate(alg, keys, PROOFS);
            let text: String = proofs.iter().map(|p| batch_line(p) + "\n").collect();
            std::fs::write(&file, text).unwrap();
            proofs
        });
    let items: Vec<Item> = proofs
        .into_iter()
        .map(|proof| {
            let (msg, sig) = proof.rsplit_once('.').unwrap();
            Item {
                msg: msg.as_bytes().to_vec(),
                sig: Base64UrlUnpadded::decode_vec(sig).unwrap(),
                coords: coords(&proof),
                proof,
            }
        })
        .collect();
    // Keys by first appearance (the files were written with key `i % keys`).
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let key_of = items
        .iter()
        .map(|it| {
            let id = it.msg.split(|&b| b == b'.').next().unwrap().to_vec();
            seen.iter().position(|k| *k == id).unwrap_or_else(|| {
                seen.push(id);
                seen.len() - 1
            })
        })
        .collect();
    Set {
        items,
        file,
        key_of,
        keys: seen.len(),
    }
}

/// On-CPU nanoseconds of this thread (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), so that
/// time spent waiting for a CPU on a loaded machine is not counted; `None` where there is no
/// such clock.
fn thread_cpu_ns() -> Option<u64> {
    let t = cpu_time::ThreadTime::try_now().ok()?;
    u64::try_from(t.as_duration().as_nanos()).ok()
}

/// A measurement: on-CPU and wall-clock time, in µs per proof.
#[derive(Clone, Copy, Default)]
struct Cost {
    cpu: f64,
    wall: f64,
}

fn floor_ring(alg: Algorithm, it: &Item) {
    use ring::signature as s;
    let ok = match &it.coords {
        Coords::Ec(point) => s::UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_FIXED, point)
            .verify(black_box(&it.msg), black_box(&it.sig)),
        Coords::Ed(x) => {
            s::UnparsedPublicKey::new(&s::ED25519, x).verify(black_box(&it.msg), black_box(&it.sig))
        }
        Coords::Rsa { n, e } => s::RsaPublicKeyComponents { n, e }.verify(
            &s::RSA_PSS_2048_8192_SHA256,
            black_box(&it.msg),
            black_box(&it.sig),
        ),
    };
    assert!(ok.is_ok(), "{alg} ring floor");
}

fn floor_aws(alg: Algorithm, it: &Item) {
    use aws_lc_rs::signature as s;
    let ok = match &it.coords {
        Coords::Ec(point) => s::UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_FIXED, point)
            .verify(black_box(&it.msg), black_box(&it.sig)),
        Coords::Ed(x) => {
            s::UnparsedPublicKey::new(&s::ED25519, x).verify(black_box(&it.msg), black_box(&it.sig))
        }
        Coords::Rsa { n, e } => s::RsaPublicKeyComponents { n, e }.verify(
            &s::RSA_PSS_2048_8192_SHA256,
            black_box(&it.msg),
            black_box(&it.sig),
        ),
    };
    assert!(ok.is_ok(), "{alg} aws-lc-rs floor");
}

fn floor_rustcrypto(alg: Algorithm, it: &Item) {
    let ok = match &it.coords {
        Coords::Ec(point) => {
            use p256::ecdsa::signature::Verifier as _;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(black_box(point)).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(black_box(&it.sig)).unwrap();
            vk.verify(black_box(&it.msg), &sig).is_ok()
        }
        Coords::Ed(x) => {
            use ed25519_dalek::Verifier as _;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(black_box(x)).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(black_box(&it.sig)).unwrap();
            vk.verify(black_box(&it.msg), &sig).is_ok()
        }
        Coords::Rsa { n, e } => {
            use rsa::signature::Verifier as _;
            let pk = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(black_box(n)),
                rsa::BoxedUint::from_be_slice_vartime(black_box(e)),
            )
            .unwrap();
            let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new(pk);
            let sig = rsa::pss::Signature::try_from(black_box(it.sig.as_slice())).unwrap();
            vk.verify(black_box(&it.msg), &sig).is_ok()
        }
    };
    assert!(ok, "{alg} RustCrypto floor");
}

/// `check_proof` + replay commit of every proof of the set (used to fill the caches).
fn keybound_all<V: SignatureVerifier>(set: &Set, v: &V) {
    let store = MemoryReplayStore::new(2 * PROOFS);
    let (policy, request) = (Policy::new(), Request::new(HTM, HTU));
    for it in &set.items {
        let checked = check_proof(&it.proof, &request, &policy, v, NOW).unwrap();
        checked.commit(&store).unwrap();
    }
}

/// The backend's prepared keys for the set (one per distinct key).
fn prepare_all<V: PrepareKey>(alg: Algorithm, set: &Set, v: &V) -> Vec<V::Prepared> {
    let mut out: Vec<Option<V::Prepared>> = (0..set.keys).map(|_| None).collect();
    for (it, &k) in set.items.iter().zip(&set.key_of) {
        if out[k].is_none() {
            let d = DecodedProof::decode(&it.proof).unwrap();
            let h = d.header().unwrap();
            out[k] = Some(v.prepare(alg, h.jwk()).unwrap());
        }
    }
    out.into_iter().map(Option::unwrap).collect()
}

/// One row, measured a chunk of proofs at a time: `begin` starts a pass (untimed), `step`
/// handles the proofs of `range`.
trait Pass {
    /// Prints what the row knows about itself (cache counters).
    fn report(&self) {}
    fn begin(&mut self) {}
    fn step(&mut self, range: Range<usize>);
}

/// A floor: the backend imports the key from its coordinates and verifies.
struct Floor<'a> {
    alg: Algorithm,
    set: &'a Set,
    f: fn(Algorithm, &Item),
}

impl Pass for Floor<'_> {
    fn step(&mut self, range: Range<usize>) {
        for it in &self.set.items[range] {
            (self.f)(self.alg, it);
        }
    }
}

/// The backend's verification with keys prepared beforehand.
struct Prepared<'a, V: PrepareKey> {
    set: &'a Set,
    v: V,
    keys: Vec<V::Prepared>,
}

impl<V: PrepareKey> Pass for Prepared<'_, V> {
    fn step(&mut self, range: Range<usize>) {
        for i in range {
            let it = &self.set.items[i];
            let key = &self.keys[self.set.key_of[i]];
            self.v
                .verify_prepared(key, black_box(&it.msg), black_box(&it.sig))
                .unwrap();
        }
    }
}

/// keybound: `check_proof` + replay commit (a fresh store per pass) through a cache that is
/// kept across passes (warm) or made anew for each pass (cold).
struct Keybound<'a, V: PrepareKey> {
    set: &'a Set,
    make: fn() -> V,
    cache: CachedVerifier<V>,
    fresh_cache: bool,
    store: MemoryReplayStore,
    policy: Policy<'static>,
}

impl<'a, V: PrepareKey> Keybound<'a, V> {
    fn new(set: &'a Set, make: fn() -> V, fresh_cache: bool) -> Self {
        let cache = CachedVerifier::new(make());
        if !fresh_cache {
            keybound_all(set, &cache);
        }
        Keybound {
            set,
            make,
            cache,
            fresh_cache,
            store: MemoryReplayStore::new(2 * PROOFS),
            policy: Policy::new(),
        }
    }
}

impl<V: PrepareKey> Pass for Keybound<'_, V> {
    fn report(&self) {
        println!("cache: {:?}", self.cache.stats());
    }

    fn begin(&mut self) {
        self.store = MemoryReplayStore::new(2 * PROOFS);
        if self.fresh_cache {
            self.cache = CachedVerifier::new((self.make)());
        }
    }

    fn step(&mut self, range: Range<usize>) {
        let request = Request::new(HTM, HTU);
        for it in &self.set.items[range] {
            let checked = check_proof(
                black_box(&it.proof),
                &request,
                &self.policy,
                &self.cache,
                NOW,
            )
            .unwrap();
            black_box(checked.commit(&self.store).unwrap());
        }
    }
}

/// The region callgrind counts in `BATCH_ONLY` mode.
#[inline(never)]
fn measured_region(p: &mut dyn Pass) {
    p.step(0..PROOFS);
}

fn cli_binary() -> Option<PathBuf> {
    let bin = std::env::var_os("KEYBOUND_BIN").map_or_else(
        || target_dir().join("release").join("keybound"),
        PathBuf::from,
    );
    bin.is_file().then_some(bin)
}

/// Whether `perf stat -e task-clock` can measure a child's CPU time here.
fn perf_works() -> bool {
    Command::new("perf")
        .args(["stat", "-x,", "-e", "task-clock", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && task_clock_ms(&o.stderr).is_some())
}

/// The `task-clock` milliseconds of `perf stat -x,` output.
fn task_clock_ms(stderr: &[u8]) -> Option<f64> {
    String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| l.contains(",task-clock,"))
        .and_then(|l| l.split(',').next()?.trim().parse().ok())
}

fn batch_command(bin: &Path, set: &Set) -> Command {
    let mut c = Command::new(bin);
    c.args(["dpop", "verify", "--batch"])
        .arg(&set.file)
        .stdout(Stdio::null());
    c
}

/// `keybound dpop verify --batch FILE > /dev/null`: wall-clock µs per proof and, through
/// `perf stat` (a second run), the process's CPU µs per proof.
fn cli_whole(bin: &Path, set: &Set, perf: bool) -> Cost {
    let n = set.items.len() as f64;
    let t = Instant::now();
    let status = batch_command(bin, set).status().unwrap();
    let wall = t.elapsed().as_secs_f64() * 1e6 / n;
    assert!(status.success(), "keybound dpop verify --batch: {status}");
    let cpu = if perf {
        let out = Command::new("perf")
            .args(["stat", "-x,", "-e", "task-clock", "--"])
            .arg(bin)
            .args(["dpop", "verify", "--batch"])
            .arg(&set.file)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "perf stat keybound: {}", out.status);
        task_clock_ms(&out.stderr).map_or(f64::NAN, |ms| ms * 1e3 / n)
    } else {
        f64::NAN
    };
    Cost { cpu, wall }
}

/// The CLI's own in-process figure: `median_us_per_proof` with `DPOP_BENCH_PASSES` (wall
/// clock, measured inside the process).
fn cli_inproc(bin: &Path, set: &Set) -> Cost {
    let out = batch_command(bin, set)
        .env("DPOP_BENCH_PASSES", CLI_PASSES.to_string())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "DPOP_BENCH_PASSES run: {}",
        out.status
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let wall = err
        .lines()
        .find_map(|l| l.strip_prefix("median_us_per_proof="))
        .and_then(|v| v.trim().parse().ok())
        .expect("median_us_per_proof on stderr");
    Cost {
        cpu: f64::NAN,
        wall,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Proofs per timed step: small enough that every row runs many times within a round (load
/// shifts spread over all rows), large enough that reading the clock costs nothing.
const CHUNK: usize = 50;

fn run_alg(alg: Algorithm, rounds: usize, bin: Option<&Path>, perf: bool) {
    let warm = load(alg, KEYS);
    let cold = load(alg, PROOFS);
    assert_eq!(warm.keys, KEYS, "{alg}: warm set keys");
    assert_eq!(cold.keys, PROOFS, "{alg}: cold set keys");

    let mut rows: Vec<(&'static str, &'static str, Box<dyn Pass + '_>)> = Vec::new();
    for (name, f) in [
        ("ring", floor_ring as fn(Algorithm, &Item)),
        ("aws-lc-rs", floor_aws),
        ("rustcrypto", floor_rustcrypto),
    ] {
        rows.push(("floor", name, Box::new(Floor { alg, set: &warm, f })));
        rows.push(("floor-cold", name, Box::new(Floor { alg, set: &cold, f })));
    }
    rows.push((
        "prepared",
        "ring",
        Box::new(Prepared {
            set: &warm,
            keys: prepare_all(alg, &warm, &RingVerifier),
            v: RingVerifier,
        }),
    ));
    rows.push((
        "prepared",
        "aws-lc-rs",
        Box::new(Prepared {
            set: &warm,
            keys: prepare_all(alg, &warm, &AwsLcVerifier),
            v: AwsLcVerifier,
        }),
    ));
    rows.push((
        "prepared",
        "rustcrypto",
        Box::new(Prepared {
            set: &warm,
            keys: prepare_all(alg, &warm, &RustCryptoVerifier),
            v: RustCryptoVerifier,
        }),
    ));
    for (kind, set, fresh) in [("warm", &warm, false), ("cold", &cold, true)] {
        rows.push((
            kind,
            "ring",
            Box::new(Keybound::new(set, || RingVerifier, fresh)),
        ));
        rows.push((
            kind,
            "aws-lc-rs",
            Box::new(Keybound::new(set, || AwsLcVerifier, fresh)),
        ));
        rows.push((
            kind,
            "rustcrypto",
            Box::new(Keybound::new(set, || RustCryptoVerifier, fresh)),
        ));
        rows.push((
            kind,
            "fastest",
            Box::new(Keybound::new(set, || FastestVerifier, fresh)),
        ));
    }

    // Instruction counts: `BATCH_ONLY=kind:backend` runs that row once over the set, inside
    // `measured_region` (for `valgrind --tool=callgrind --collect-atstart=no
    // --toggle-collect=*measured_region*`), after one untimed pass.
    if let Ok(only) = std::env::var("BATCH_ONLY") {
        let (kind, backend) = only.split_once(':').expect("BATCH_ONLY=kind:backend");
        let (_, _, p) = rows
            .iter_mut()
            .find(|(k, b, _)| *k == kind && *b == backend)
            .expect("BATCH_ONLY names a row");
        p.begin();
        p.step(0..PROOFS);
        p.begin();
        measured_region(&mut **p);
        println!("batch-only {alg} {kind} {backend}: {PROOFS} proofs");
        p.report();
        return;
    }
    let n = rows.len();
    let chunks = PROOFS / CHUNK;
    // Per row, one sample per (round, chunk), in the same order for every row.
    let mut samples: Vec<Vec<Cost>> = vec![Vec::new(); n];
    // Per round: the CLI's whole-process and in-process figures.
    let mut cli: Vec<(Cost, Cost)> = Vec::new();
    for r in 0..rounds {
        for (_, _, p) in &mut rows {
            p.begin();
        }
        for c in 0..chunks {
            let range = c * CHUNK..(c + 1) * CHUNK;
            // Rotate the start and alternate the direction: no row always follows another.
            let order: Vec<usize> = if (r + c) % 2 == 0 {
                (0..n).map(|i| (i + r + c) % n).collect()
            } else {
                (0..n).rev().map(|i| (i + r + c) % n).collect()
            };
            for i in order {
                let (cpu0, t) = (thread_cpu_ns(), Instant::now());
                rows[i].2.step(range.clone());
                let wall = t.elapsed().as_secs_f64() * 1e6 / CHUNK as f64;
                let cpu = match (cpu0, thread_cpu_ns()) {
                    (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e3 / CHUNK as f64,
                    _ => f64::NAN,
                };
                samples[i].push(Cost { cpu, wall });
            }
            // The CLI runs once per round, at a different point of the round each time.
            if let Some(bin) = bin
                && c == (r * 7) % chunks
            {
                cli.push(if r % 2 == 0 {
                    let w = cli_whole(bin, &warm, perf);
                    (w, cli_inproc(bin, &warm))
                } else {
                    let i = cli_inproc(bin, &warm);
                    (cli_whole(bin, &warm, perf), i)
                });
            }
        }
    }

    let fmt = |x: f64| {
        if x.is_nan() {
            "-".to_owned()
        } else {
            format!("{x:.2}")
        }
    };
    let cpu_of = |v: &[Cost]| median(&v.iter().map(|c| c.cpu).collect::<Vec<_>>());
    let wall_of = |v: &[Cost]| median(&v.iter().map(|c| c.wall).collect::<Vec<_>>());
    for (i, (kind, backend, _)) in rows.iter().enumerate() {
        println!(
            "batch {alg} {kind} {backend} cpu {} wall {}",
            fmt(cpu_of(&samples[i])),
            fmt(wall_of(&samples[i]))
        );
    }
    let whole: Vec<Cost> = cli.iter().map(|c| c.0).collect();
    let inproc: Vec<Cost> = cli.iter().map(|c| c.1).collect();
    if !cli.is_empty() {
        println!(
            "batch {alg} cli-whole fastest cpu {} wall {}",
            fmt(cpu_of(&whole)),
            fmt(wall_of(&whole))
        );
        println!(
            "batch {alg} cli-inproc fastest cpu - wall {}",
            fmt(wall_of(&inproc))
        );
    }
    let find = |kind: &str, backend: &str| {
        rows.iter()
            .position(|(k, b, _)| *k == kind && *b == backend)
            .map(|i| samples[i].as_slice())
    };
    let fastest_floor = ["ring", "aws-lc-rs", "rustcrypto"]
        .into_iter()
        .min_by(|a, b| {
            cpu_of(find("floor", a).unwrap()).total_cmp(&cpu_of(find("floor", b).unwrap()))
        })
        .unwrap();
    println!("batch-floor {alg} {fastest_floor}");
    // Ratios: the median over (round, chunk) of the ratio of two rows on the same proofs.
    let print = |name: &str, cpu: &[f64], wall: &[f64]| {
        println!(
            "batch-ratio {alg} {name} cpu {:.3} wall {:.3}",
            median(cpu),
            median(wall)
        );
    };
    let ratio = |name: &str, a: &[Cost], b: &[Cost]| {
        let cpu: Vec<f64> = a.iter().zip(b).map(|(x, y)| x.cpu / y.cpu).collect();
        let wall: Vec<f64> = a.iter().zip(b).map(|(x, y)| x.wall / y.wall).collect();
        print(name, &cpu, &wall);
    };
    let floor = find("floor", fastest_floor).unwrap();
    let floor_cold = find("floor-cold", fastest_floor).unwrap();
    ratio("warm/floor", find("warm", "fastest").unwrap(), floor);
    ratio("cold/floor", find("cold", "fastest").unwrap(), floor_cold);
    if !cli.is_empty() {
        // The process runs against the floor's median of the same round.
        let per_round: Vec<Cost> = floor
            .chunks(chunks)
            .map(|round| Cost {
                cpu: cpu_of(round),
                wall: wall_of(round),
            })
            .collect();
        ratio("cli-whole/floor", &whole, &per_round);
        let wall: Vec<f64> = inproc
            .iter()
            .zip(&per_round)
            .map(|(x, y)| x.wall / y.wall)
            .collect();
        print("cli-inproc/floor", &[f64::NAN], &wall);
        let wall: Vec<f64> = whole
            .iter()
            .zip(&inproc)
            .map(|(x, y)| x.wall / y.wall)
            .collect();
        print("cli-whole/cli-inproc", &[f64::NAN], &wall);
    }
    for b in ["ring", "aws-lc-rs", "rustcrypto"] {
        ratio(
            &format!("warm/floor:{b}"),
            find("warm", b).unwrap(),
            find("floor", b).unwrap(),
        );
        ratio(
            &format!("cold/floor:{b}"),
            find("cold", b).unwrap(),
            find("floor-cold", b).unwrap(),
        );
        ratio(
            &format!("prepared/floor:{b}"),
            find("prepared", b).unwrap(),
            find("floor", b).unwrap(),
        );
    }
}

fn main() {
    let rounds = std::env::var("BATCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    let algs: Vec<Algorithm> = std::env::var("BATCH_ALGS").map_or_else(
        |_| vec![Algorithm::Es256, Algorithm::EdDsa, Algorithm::Ps256],
        |v| {
            v.split(',')
                .map(|a| match a.trim() {
                    "ES256" => Algorithm::Es256,
                    "EdDSA" => Algorithm::EdDsa,
                    "PS256" => Algorithm::Ps256,
                    other => panic!("BATCH_ALGS: unknown algorithm {other}"),
                })
                .collect()
        },
    );
    let bin = cli_binary();
    if bin.is_none() {
        eprintln!(
            "batch: no keybound binary (KEYBOUND_BIN or target/release/keybound); CLI rows skipped"
        );
    }
    let perf = bin.is_some() && perf_works();
    if bin.is_some() && !perf {
        eprintln!(
            "batch: `perf stat -e task-clock` unavailable; the CLI's CPU time is not measured"
        );
    }
    if thread_cpu_ns().is_none() {
        eprintln!("batch: no per-thread CPU clock; CPU figures unavailable (wall only)");
    }
    for alg in algs {
        run_alg(alg, rounds, bin.as_deref(), perf);
    }
}
