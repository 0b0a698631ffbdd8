//! Pieces shared by the resource-server and authorization-server helpers.

use alloc::boxed::Box;
use alloc::string::String;

use keybound_dpop::nonce::{NonceError, NonceSource};
use keybound_dpop::replay::ReplayStore;
use keybound_dpop::{AlgSet, Policy, SignatureVerifier};

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
