//! Proof validation in the order of RFC 9449 §4.3 (see the crate README), split in a stateless
//! phase ([`check_proof`]) and the replay commit ([`CheckedProof::commit`]).

use alloc::string::String;
use alloc::vec::Vec;

use keybound_cnf::JwkThumbprint;
use keybound_jose::{
    Algorithm, NumericDate, Part, SignatureVerifier, decode_segments, decoded_total,
};
use keybound_json::{Object, Value};
use keybound_jwk::Jwk;

use crate::error::{Claim, DpopError};
use crate::htu::{HtuSide, htu_compare};
use crate::jws::{
    CLAIM_MEMBERS, Claims, HEADER_MEMBERS, Header, check_typ, map_jwk_error, parse_picking,
    split_compact,
};
use crate::nonce::NonceError;
use crate::policy::{Policy, Request};
use crate::replay::{AsyncReplayStore, ReplayError, ReplayKey, ReplayStore};
use crate::wire::ath_matches;

/// Decoded proofs up to this many bytes (header, payload and signature together) are decoded
/// into a stack buffer: ES256 and EdDSA proofs take about 550 bytes, PS256 with a 2048-bit key
/// about 850. Longer ones (larger RSA keys, long extra claims) use the heap.
pub(crate) const STACK_DECODE_LEN: usize = 1024;

/// A proof that passed every stateless check; commit it to the replay store to finish.
///
/// Holds what the commit needs (`jti`, thumbprint, expiry), so an authorization server can
/// authenticate the client between the two phases.
#[derive(Clone, Debug)]
#[must_use = "a proof is valid only once its jti is committed to the replay store"]
pub struct CheckedProof {
    verified: Verified,
    expires_at: u64,
    now: u64,
}

/// A fully validated proof (RFC 9449 §4.3).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// RFC 7638 thumbprint of the proof key (compare with or issue as `cnf.jkt`).
    pub jkt: JwkThumbprint,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
    /// The proof's `alg`.
    pub alg: Algorithm,
}

impl CheckedProof {
    /// Thumbprint of the proof key.
    pub fn jkt(&self) -> &JwkThumbprint {
        &self.verified.jkt
    }

    /// The proof's `jti`.
    pub fn jti(&self) -> &str {
        &self.verified.jti
    }

    /// The proof's `iat`.
    pub fn iat(&self) -> i64 {
        self.verified.iat
    }

    /// The proof's `alg`.
    pub fn alg(&self) -> Algorithm {
        self.verified.alg
    }

    /// Until when the replay store must remember this `jti` (at least `max_age + leeway`
    /// after both `now` and `iat`).
    pub fn replay_expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Step 11: records the `jti` scoped by the proof key's thumbprint. A replayed `jti`, or a
    /// store that cannot record it, rejects the proof (fail closed).
    pub fn commit<S: ReplayStore + ?Sized>(self, store: &S) -> Result<Verified, DpopError> {
        let scope = *self.verified.jkt.as_bytes();
        self.commit_scoped(store, &scope)
    }

    /// Step 11 with a caller-chosen scope (normalized target URI, client id, …).
    pub fn commit_scoped<S: ReplayStore + ?Sized>(
        self,
        store: &S,
        scope: &[u8],
    ) -> Result<Verified, DpopError> {
        let key = ReplayKey {
            scope,
            jti: &self.verified.jti,
            owner: Some(self.verified.jkt.as_bytes()),
        };
        let answer = store.check_and_insert(key, self.expires_at, self.now);
        self.finish(answer)
    }

    fn finish(self, answer: Result<(), ReplayError>) -> Result<Verified, DpopError> {
        match answer {
            Ok(()) => Ok(self.verified),
            Err(ReplayError::Replayed) => Err(DpopError::Replayed),
            Err(e) => Err(DpopError::ReplayStore(e)),
        }
    }

    /// Step 11 through an [`AsyncReplayStore`] (a networked store), scoped by the proof key's
    /// thumbprint; the same verdicts as [`CheckedProof::commit`].
    pub async fn commit_async<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Verified, DpopError> {
        let scope = *self.verified.jkt.as_bytes();
        self.commit_scoped_async(store, &scope).await
    }

    /// Step 11 through an [`AsyncReplayStore`] with a caller-chosen scope.
    pub async fn commit_scoped_async<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
        scope: &[u8],
    ) -> Result<Verified, DpopError> {
        let key = ReplayKey {
            scope,
            jti: &self.verified.jti,
            owner: Some(self.verified.jkt.as_bytes()),
        };
        let answer = store
            .check_and_insert_async(key, self.expires_at, self.now)
            .await;
        self.finish(answer)
    }

    /// Step 11 when `store` can answer without waiting
    /// ([`AsyncReplayStore::check_and_insert_inline`]), scoped by the proof key's thumbprint:
    /// `Ok` with the verdict of [`CheckedProof::commit_async`]; `Err(self)` when the store
    /// needs I/O (nothing was recorded: commit asynchronously).
    pub fn commit_inline<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Result<Verified, DpopError>, Self> {
        let scope = *self.verified.jkt.as_bytes();
        let key = ReplayKey::new(&scope, &self.verified.jti).with_owner(&scope);
        match store.check_and_insert_inline(key, self.expires_at, self.now) {
            Some(answer) => Ok(self.finish(answer)),
            None => Err(self),
        }
    }

    /// The result without a replay check, for tools that inspect a single proof offline
    /// (`keybound dpop verify` without a store). Servers must use [`CheckedProof::commit`].
    pub fn into_verified_without_replay_check(self) -> Verified {
        self.verified
    }
}

/// Steps 1–10 of RFC 9449 §4.3 (every check but replay), in order; `proof` is the single
/// `DPoP` header value (see [`crate::single_header_value`]), `now` Unix seconds.
pub fn check_proof<V: SignatureVerifier + ?Sized>(
    proof: &str,
    request: &Request<'_>,
    policy: &Policy<'_>,
    verifier: &V,
    now: u64,
) -> Result<CheckedProof, DpopError> {
    // Step 1: size cap, three segments, strict base64url, strict JSON objects.
    // Proofs of the usual sizes are decoded on the stack, longer ones on the heap; the members
    // the checks read are taken while validating the JSON (one pass each).
    let parts = split_compact(proof)?;
    let total = decoded_total(&parts)?;
    let mut stack = [0u8; STACK_DECODE_LEN];
    let mut heap = Vec::new();
    let buf = match stack.get_mut(..total) {
        Some(buf) => buf,
        None => {
            heap.resize(total, 0);
            heap.as_mut_slice()
        }
    };
    let ends = decode_segments(&parts, buf)?;
    let buf: &[u8] = buf;
    let header_json = buf.get(..ends.header).unwrap_or_default();
    let payload_json = buf.get(ends.header..ends.payload).unwrap_or_default();
    let signature = buf.get(ends.payload..).unwrap_or_default();
    let (header_obj, header_members) = parse_picking(header_json, Part::Header, HEADER_MEMBERS)?;
    let (payload_obj, claim_members) = parse_picking(payload_json, Part::Payload, CLAIM_MEMBERS)?;

    // Step 2: typ, alg (allow-list), jwk (public, fits alg), crit.
    let header = checked_header(header_obj, header_members, policy, verifier)?;
    let alg = header.alg();

    // The key's thumbprint (step 10 compares it) is taken now: it cannot fail, and a
    // verifier with a key cache finds the key by it instead of hashing the key again.
    let jkt = header.jwk().thumbprint();

    // Step 3: signature over the received bytes (an empty signature segment fails here, as
    // `signature`, once `alg` is known to be an allowed asymmetric algorithm).
    keybound_jose::verify_signature_with_thumbprint(
        verifier,
        alg,
        header.jwk(),
        &jkt,
        parts.signing_input,
        signature,
    )?;

    // Step 4: claims present and well-typed. A malformed `nonce` claim is a nonce fault when
    // the policy requires nonces (answered with a fresh one), else an invalid proof.
    let claims = Claims::from_picked(payload_obj, claim_members).map_err(|e| match e {
        DpopError::InvalidClaim {
            claim: Claim::Nonce,
        } if policy.nonce.is_some() => DpopError::InvalidNonce(NonceError::Invalid),
        e => e,
    })?;

    // Step 5: htm.
    if claims.htm != request.htm {
        return Err(DpopError::HtmMismatch);
    }

    // Step 6: htu, normalized, against the URI and its aliases.
    check_htu(&claims.htu, request)?;

    // Step 7: iat window.
    check_iat(claims.iat_date, now, policy)?;

    // Step 8: server nonce.
    if let Some(source) = policy.nonce {
        let nonce = claims.nonce.as_deref().ok_or(DpopError::MissingNonce)?;
        source.check(nonce, now).map_err(|e| match e {
            NonceError::Missing => DpopError::MissingNonce,
            e => DpopError::InvalidNonce(e),
        })?;
    }

    // Step 9: ath.
    if let Some(token) = request.access_token {
        let ath = claims.ath.as_deref().ok_or(DpopError::MissingAth)?;
        if !ath_matches(ath, token) {
            return Err(DpopError::AthMismatch);
        }
    }

    // Step 10: key binding.
    if let Some(expected) = &request.jkt
        && !expected.ct_eq(&jkt)
    {
        return Err(DpopError::KeyBindingMismatch);
    }

    let window = policy.replay_window();
    let iat = u64::try_from(claims.iat_date.ceil()).unwrap_or(0);
    let expires_at = now.max(iat).saturating_add(window);
    Ok(CheckedProof {
        verified: Verified {
            jkt,
            jti: claims.jti.into_owned(),
            iat: claims.iat,
            alg,
        },
        expires_at,
        now,
    })
}

/// Step 3 alone: JWS signature `sig` over `msg` with `key` under `alg` (fixed-length ECDSA
/// `r‖s` and Ed25519 lengths, and the RSA modulus length, enforced first, so DER signatures
/// and empty signature segments fail as `SignatureLength`). Does not check that the key fits
/// `alg`; see [`check_key_fits`].
pub fn verify_signature<V: SignatureVerifier + ?Sized>(
    verifier: &V,
    alg: Algorithm,
    key: &Jwk<'_>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), DpopError> {
    Ok(keybound_jose::verify_signature(
        verifier, alg, key, msg, sig,
    )?)
}

/// All of RFC 9449 §4.3: [`check_proof`] then [`CheckedProof::commit`].
pub fn validate_proof<V: SignatureVerifier + ?Sized, S: ReplayStore + ?Sized>(
    proof: &str,
    request: &Request<'_>,
    policy: &Policy<'_>,
    verifier: &V,
    replay: &S,
    now: u64,
) -> Result<Verified, DpopError> {
    check_proof(proof, request, policy, verifier, now)?.commit(replay)
}

/// Step 2 in order: `typ`, `alg` (known, allowed, supported), `jwk` (present, public, fitting
/// `alg`), `crit`.
fn checked_header<'a, V: SignatureVerifier + ?Sized>(
    object: Object<'a>,
    [typ, alg, jwk, crit]: [Option<Value<'a>>; 4],
    policy: &Policy<'_>,
    verifier: &V,
) -> Result<Header<'a>, DpopError> {
    check_typ(typ)?;
    let alg = match alg {
        None => return Err(DpopError::MissingAlg),
        Some(v) => Algorithm::from_json(&v).ok_or(DpopError::UnsupportedAlg)?,
    };
    if !policy.algs.contains(alg) || !verifier.supports(alg) {
        return Err(DpopError::AlgNotAllowed { alg });
    }
    let jwk_obj = match jwk {
        Some(Value::Object(o)) => o,
        _ => return Err(DpopError::MissingJwk),
    };
    let jwk = Jwk::from_object(jwk_obj).map_err(map_jwk_error)?;
    if jwk.is_private() {
        return Err(DpopError::PrivateJwk);
    }
    check_key_fits(alg, &jwk, policy.min_rsa_bits)?;
    if crit.is_some() {
        return Err(DpopError::UnsupportedCrit);
    }
    Ok(Header::from_parts(alg, jwk, object))
}

/// ES256 ⇔ P-256, ES384 ⇔ P-384, PS256/RS256 ⇔ RSA ≥ `min_rsa_bits` (never below 2048) with
/// an odd 3 ≤ e < 2^33, EdDSA/Ed25519 ⇔ OKP Ed25519; the JWK's own `alg`, `use` and `key_ops`
/// members must allow `alg` (RFC 7517 §4.2–§4.4). See [`keybound_jose::check_key_fits`].
pub fn check_key_fits(alg: Algorithm, jwk: &Jwk<'_>, min_rsa_bits: usize) -> Result<(), DpopError> {
    Ok(keybound_jose::check_key_fits(alg, jwk, min_rsa_bits)?)
}

fn check_htu(htu: &str, request: &Request<'_>) -> Result<(), DpopError> {
    let mut first_err = None;
    for expected in core::iter::once(&request.htu).chain(request.htu_aliases) {
        // No byte-equality shortcut: an htu that is not a valid http(s) URI is refused even
        // when it repeats the host's URI byte for byte (the host may build that URI from
        // request data).
        match htu_compare(htu, expected) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err((HtuSide::Proof, e)) => {
                first_err.get_or_insert(DpopError::InvalidHtu(e));
            }
            // The host's own URI is unusable: say so, rather than blame the proof.
            Err((HtuSide::Expected, e)) => {
                first_err.get_or_insert(DpopError::InvalidRequestUri(e));
            }
        }
    }
    Err(first_err.unwrap_or(DpopError::HtuMismatch))
}

/// Step 7 on the exact NumericDate: too old when it lies before `now - max_age`, too new when
/// after `now + leeway` (a fraction rounds toward refusal on both sides, RFC 7519 §2).
fn check_iat(iat: NumericDate, now: u64, policy: &Policy<'_>) -> Result<(), DpopError> {
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let oldest = now_i.saturating_sub(i64::try_from(policy.max_age).unwrap_or(i64::MAX));
    if iat.is_before(oldest) {
        return Err(DpopError::IatTooOld {
            iat: iat.floor(),
            now,
            max_age: policy.max_age,
        });
    }
    let newest = now_i.saturating_add(i64::try_from(policy.leeway).unwrap_or(i64::MAX));
    if iat.is_after(newest) {
        return Err(DpopError::IatInFuture {
            iat: iat.ceil(),
            now,
            leeway: policy.leeway,
        });
    }
    Ok(())
}
