//! Pieces shared by the resource-server and authorization-server helpers.

use alloc::boxed::Box;
use alloc::string::String;

use keybound_dpop::nonce::{NonceError, NonceSource};
use keybound_dpop::replay::{ReplayError, ReplayStore};
use keybound_dpop::{
    AlgSet, CheckedProof, DefaultVerifier, DpopError, Policy, SignatureVerifier, Verified,
};

pub(crate) type BoxedReplay<'a> = Box<dyn ReplayStore + Send + Sync + 'a>;
pub(crate) type BoxedNonce<'a> = Box<dyn NonceSource + Send + Sync + 'a>;
pub(crate) type BoxedVerifier<'a> = Box<dyn SignatureVerifier + Send + Sync + 'a>;

/// The thread-safe part of a [`Policy`]: `Policy` borrows its nonce source as a plain
/// `&dyn NonceSource`, which is not `Sync`, so servers keep the numbers and their own boxed
/// source, and rebuild the `Policy` (a few words, `Copy`) per request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PolicyParams {
    algs: AlgSet,
    max_age: u64,
    leeway: u64,
    min_rsa_bits: usize,
    /// The caller's policy named a nonce source we cannot keep: refuse every proof.
    nonce_dropped: bool,
}

impl PolicyParams {
    pub(crate) fn from_policy(p: &Policy<'_>) -> Self {
        PolicyParams {
            algs: p.algs,
            max_age: p.max_age,
            leeway: p.leeway,
            min_rsa_bits: p.min_rsa_bits,
            nonce_dropped: p.nonce.is_some(),
        }
    }

    pub(crate) fn algs(&self) -> AlgSet {
        self.algs
    }

    /// The policy with `nonce` (the server's own source) or, when the caller's policy asked
    /// for a nonce and no source was configured, a source that accepts nothing (fail closed).
    pub(crate) fn policy<'s>(&self, nonce: Option<&'s BoxedNonce<'_>>) -> Policy<'s> {
        let base = Policy::new()
            .with_algs(self.algs)
            .with_max_age(self.max_age)
            .with_leeway(self.leeway)
            .with_min_rsa_bits(self.min_rsa_bits);
        match nonce {
            Some(n) => base.with_nonce(&**n),
            None if self.nonce_dropped => base.with_nonce(&RefuseAll),
            None => base,
        }
    }
}

/// A nonce source that issues nothing and accepts nothing.
struct RefuseAll;

impl NonceSource for RefuseAll {
    fn check(&self, _nonce: &str, _now: u64) -> Result<(), NonceError> {
        Err(NonceError::Invalid)
    }

    fn issue_into<'b>(&self, _now: u64, _buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
        Err(NonceError::Invalid)
    }
}

/// A fresh nonce from the policy's source, if it issues one.
pub(crate) fn issue_nonce(policy: &Policy<'_>, now: u64) -> Option<String> {
    policy.nonce.map(|n| n.issue(now)).filter(|n| !n.is_empty())
}

/// A server's default verifier: the fastest backend per algorithm, behind the prepared-key
/// cache with std (the same client keys sign many proofs).
fn default_verifier<'a>() -> BoxedVerifier<'a> {
    #[cfg(feature = "std")]
    {
        Box::new(keybound_jose::CachedVerifier::new(
            DefaultVerifier::default(),
        ))
    }
    #[cfg(not(feature = "std"))]
    {
        Box::new(DefaultVerifier::default())
    }
}

/// The DPoP side of a server's configuration, shared by [`crate::rs::RsConfig`] and
/// [`crate::authz::AsConfig`]: policy numbers, replay store, nonce source, verifier, whether
/// proofs are accepted at all, and the other URIs `htu` may name.
pub(crate) struct DpopSettings<'a> {
    pub(crate) policy: PolicyParams,
    /// `None`: the host commits proofs to a store of its own (an async one, say) through the
    /// pending request; the configured-store paths then fail closed.
    pub(crate) replay: Option<BoxedReplay<'a>>,
    pub(crate) nonce: Option<BoxedNonce<'a>>,
    pub(crate) verifier: BoxedVerifier<'a>,
    pub(crate) accept: bool,
    pub(crate) htu_aliases: &'a [&'a str],
}

impl<'a> DpopSettings<'a> {
    /// RFC 9449 defaults ([`Policy::new`]), the [`DefaultVerifier`], no nonce, proofs
    /// accepted, no aliases.
    pub(crate) fn new(replay: impl ReplayStore + Send + Sync + 'a) -> Self {
        Self::with_replay(Some(Box::new(replay)))
    }

    /// [`DpopSettings::new`] with the store given as an option (`None`: supplied at commit).
    pub(crate) fn with_replay(replay: Option<BoxedReplay<'a>>) -> Self {
        DpopSettings {
            policy: PolicyParams::from_policy(&Policy::new()),
            replay,
            nonce: None,
            verifier: default_verifier(),
            accept: true,
            htu_aliases: &[],
        }
    }

    /// From a resolved profile: its DPoP policy, proofs accepted when DPoP is enabled, and
    /// `nonce` kept when the configuration requires nonces (an error when it is missing then).
    #[cfg(feature = "profile")]
    pub(crate) fn from_resolved(
        resolved: &keybound_profile::ResolvedConfig,
        replay: Option<BoxedReplay<'a>>,
        nonce: Option<BoxedNonce<'a>>,
    ) -> Result<Self, keybound_profile::PolicyError> {
        let accept = resolved.is_enabled(keybound_profile::Feature::Dpop);
        let nonce_required = accept && resolved.nonce_required();
        if nonce_required && nonce.is_none() {
            return Err(keybound_profile::PolicyError::NonceSourceRequired {
                profile: resolved.profile().name(),
            });
        }
        let mut settings = DpopSettings::with_replay(replay);
        settings.policy = PolicyParams::from_policy(&resolved.dpop_base_policy());
        settings.accept = accept;
        settings.nonce = if nonce_required { nonce } else { None };
        Ok(settings)
    }

    /// Step 11 through the configured store; without one the proof is refused as a server
    /// fault (fail closed: the host was meant to commit to its own store).
    pub(crate) fn commit(&self, proof: CheckedProof) -> Result<Verified, DpopError> {
        match &self.replay {
            Some(store) => proof.commit(&**store),
            None => Err(DpopError::ReplayStore(ReplayError::Unavailable)),
        }
    }

    /// The effective policy, with the configured nonce source.
    pub(crate) fn policy(&self) -> Policy<'_> {
        self.policy.policy(self.nonce.as_ref())
    }

    /// The policy's algorithms that the verifier supports.
    pub(crate) fn supported_algs(&self) -> AlgSet {
        keybound_dpop::signing_alg_values_supported(self.policy.algs(), &*self.verifier)
    }

    /// The settings' fields for a `Debug` implementation (the boxed parts are opaque).
    pub(crate) fn debug_fields(&self, d: &mut core::fmt::DebugStruct<'_, '_>) {
        d.field("policy", &self.policy)
            .field("nonce_required", &self.nonce.is_some())
            .field("accept_dpop", &self.accept)
            .field("replay_store", &self.replay.is_some())
            .field("htu_aliases", &self.htu_aliases);
    }
}
