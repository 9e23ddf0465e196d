//! Flood limits for the ceremony endpoints, built to slow the source of a
//! flood without handing anyone a way to lock someone else out.
//!
//! - **Per source** (an address; an IPv6 /64, see [`source`]): a token
//!   bucket. Every request takes a token, except a sign-in *answer*
//!   ([`Service::admit_answer`]): it is charged only if it fails, and a
//!   successful one gives back the token its options request took. So
//!   people signing in behind one NAT spend nothing; failures, abandoned
//!   ceremonies and enrolments do. An empty bucket gets `429`.
//! - **Per identity**, from any address: a bucket that never refuses. Past
//!   its rate, requests naming the account queue behind each other, each
//!   waiting at most [`RateLimits::identity_max_delay_ms`]. Someone
//!   hammering a name slows everyone using that name a little, and locks
//!   nobody out (a `429` here would let anyone behind the victim's address
//!   keep the victim from signing in).
//! - **Pending challenges** per source and in total ([`pending`]).
//!
//! All of it lives in this node's memory except the total of pending
//! challenges, which the store counts: with N nodes a source gets at most
//! N times its budget.

pub(crate) mod buckets;
mod pending;
pub(crate) mod source;
#[cfg(test)]
mod tests;

use crate::record::Record;
use crate::EventKind;
use std::future::Future;

use keybound_audit::{Outcome, Severity};
use keybound_webauthn::{PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions};

use crate::tokens::sha256;
use crate::{ClientContext, Service, ServiceError};
use buckets::{Admission, Buckets};
use pending::{Bounds, Checked, Pending, Verdict};

/// The limits; see the module documentation for what each bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Ceremony requests a minute from one source address, not counting
    /// successful sign-ins. Sized for an organisation behind one NAT.
    /// `0` turns the per-source and per-identity limits off.
    pub per_source: u32,
    /// Requests a minute naming one identity, from anywhere, before each
    /// further one is delayed; `0`: no delays.
    pub per_identity: u32,
    /// The longest a request naming an identity is delayed, ms.
    pub identity_max_delay_ms: u64,
    /// Challenges one source may hold unanswered on one node; `0`: no bound.
    pub pending_per_source: usize,
    /// Challenges outstanding on all nodes together above which the
    /// sources holding the most are refused; `0`: no bound.
    pub pending_total: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_source: 600,
            per_identity: 30,
            identity_max_delay_ms: 3000,
            pending_per_source: 512,
            pending_total: 100_000,
        }
    }
}

/// This node's buckets and pending challenges.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    pub(crate) buckets: Buckets,
    pending: Pending,
}

/// Options that carry a challenge: what [`Service::within_challenge_budget`]
/// accounts for.
pub trait IssuedChallenge {
    /// The challenge the options carry.
    fn challenge(&self) -> &[u8];
}

impl IssuedChallenge for PublicKeyCredentialCreationOptions {
    fn challenge(&self) -> &[u8] {
        &self.challenge
    }
}

impl IssuedChallenge for PublicKeyCredentialRequestOptions {
    fn challenge(&self) -> &[u8] {
        &self.challenge
    }
}

fn source_key(ctx: &ClientContext) -> String {
    format!("src {}", source::bucket_of(ctx.ip.as_deref()))
}

/// The bucket of a name. Spellings that differ only in case or
/// surrounding space share it; it is a hash, so a huge name costs no
/// memory here.
fn identity_key(name: &str) -> String {
    let folded = name.trim().to_lowercase();
    format!(
        "id {}",
        keybound_webauthn::b64::encode(&sha256(folded.as_bytes()))
    )
}

impl Service {
    /// Admits one ceremony request from `ctx`'s address, naming `identity`
    /// if it does: takes a token from the source's bucket
    /// ([`ServiceError::RateLimited`] when it is empty), then waits its turn
    /// if the name is being asked for faster than its rate. The first
    /// refusal (or delay) of a burst is audited, not every one: a flood
    /// must not flood the audit chain too.
    pub async fn admit(
        &self,
        ctx: &ClientContext,
        identity: Option<&str>,
    ) -> Result<(), ServiceError> {
        let limits = self.config.rate_limits;
        if limits.per_source == 0 {
            return Ok(());
        }
        // The bucket (memory) and the audit record hold the name in its
        // canonical form, or a bounded label: never whatever was sent.
        let identity = identity
            .filter(|n| !n.is_empty())
            .map(keybound_names::for_audit);
        let identity = identity.as_deref();
        let now = self.now_ms();
        if let Admission::Refused {
            retry_after_s,
            first,
        } = self
            .people
            .limiter
            .buckets
            .take(&source_key(ctx), limits.per_source, now)
        {
            return Err(self
                .limited(ctx, identity, first, retry_after_s, "source")
                .await);
        }
        let Some(name) = identity.filter(|n| !n.trim().is_empty()) else {
            return Ok(());
        };
        let delay = self.people.limiter.buckets.queue(
            &identity_key(name),
            limits.per_identity,
            limits.identity_max_delay_ms,
            now,
        );
        if delay.wait_ms > 0 {
            if delay.first {
                let mut event = self.event(EventKind::RateLimited, ctx);
                event.subject = Some(name.chars().take(64).collect());
                event.outcome = Some(Outcome::Failure);
                event.reason = Some(format!("identity: delayed {} ms", delay.wait_ms));
                event.severity = Some(Severity::Warning);
                self.append_alone(event).await?;
            }
            tokio::time::sleep(std::time::Duration::from_millis(delay.wait_ms)).await;
        }
        Ok(())
    }

    /// Runs `answer` (a sign-in: `finish_authentication` or `step_up`)
    /// under the source's budget: refused when the bucket is empty;
    /// otherwise a failure takes a token and a success gives back the one
    /// its options request took. (Enrolments go through [`Service::admit`]:
    /// open registration must not create accounts at full speed.)
    pub async fn admit_answer<T>(
        &self,
        ctx: &ClientContext,
        answer: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        let per_source = self.config.rate_limits.per_source;
        if per_source == 0 {
            return answer.await;
        }
        let key = source_key(ctx);
        if let Admission::Refused {
            retry_after_s,
            first,
        } = self
            .people
            .limiter
            .buckets
            .peek(&key, per_source, self.now_ms())
        {
            return Err(self
                .limited(ctx, None, first, retry_after_s, "source")
                .await);
        }
        let result = answer.await;
        let tokens = match &result {
            Ok(_) => 1.0,
            // Our own failure is not the client's.
            Err(ServiceError::Internal(_)) => 0.0,
            Err(_) => -1.0,
        };
        self.people
            .limiter
            .buckets
            .adjust(&key, per_source, self.now_ms(), tokens);
        result
    }

    /// Runs `begin` (`begin_registration` or `begin_authentication`) if
    /// `ctx`'s source may hold one more unanswered challenge, and accounts
    /// for the challenge it issues; otherwise
    /// [`ServiceError::RateLimited`] until the source's oldest challenge
    /// expires. See [`RateLimits::pending_per_source`] and
    /// [`RateLimits::pending_total`].
    pub async fn within_challenge_budget<O: IssuedChallenge>(
        &self,
        ctx: &ClientContext,
        begin: impl Future<Output = Result<O, ServiceError>>,
    ) -> Result<O, ServiceError> {
        let limits = self.config.rate_limits;
        let bounds = Bounds {
            per_source: limits.pending_per_source,
            total: limits.pending_total,
        };
        if bounds.per_source == 0 && bounds.total == 0 {
            return begin.await;
        }
        let source = source::bucket_of(ctx.ip.as_deref());
        let now = self.now_ms();
        let questions = self.people.limiter.pending.questions(&source, bounds, now);
        if questions.outstanding.is_some() || questions.total {
            let mut tx = self.kernel.store.read().await?;
            let live = match &questions.outstanding {
                Some(asked) => Some(tx.live_challenges_among(asked, now).await?),
                None => None,
            };
            let total = match questions.total {
                true => Some(tx.count_live_challenges(now).await?),
                false => None,
            };
            drop(tx);
            let asked = questions
                .outstanding
                .as_deref()
                .zip(live.as_deref())
                .map(|(asked, live)| Checked { asked, live });
            self.people
                .limiter
                .pending
                .answers(&source, asked, total, bounds, now);
        }
        let expires = now.saturating_add(self.config.challenge_ttl_ms);
        let id = match self
            .people
            .limiter
            .pending
            .reserve(&source, bounds, expires, now)
        {
            Verdict::Reserved(id) => id,
            Verdict::Refused {
                retry_after_s,
                first,
            } => {
                return Err(self
                    .limited(ctx, None, first, retry_after_s, "pending challenges")
                    .await)
            }
        };
        let issued = begin.await;
        match &issued {
            Ok(options) => {
                self.people
                    .limiter
                    .pending
                    .issued(&source, id, sha256(options.challenge()))
            }
            Err(_) => self.people.limiter.pending.abandoned(&source, id),
        }
        issued
    }

    /// The refusal of a rate-limited request, audited if it is the first of
    /// its burst.
    async fn limited(
        &self,
        ctx: &ClientContext,
        identity: Option<&str>,
        first: bool,
        retry_after_s: u64,
        limit: &str,
    ) -> ServiceError {
        if first {
            let mut event = self.event(EventKind::RateLimited, ctx);
            event.subject = identity.map(|n| n.chars().take(64).collect());
            event.outcome = Some(Outcome::Failure);
            event.reason = Some(format!("{limit}: retry after {retry_after_s} s"));
            event.severity = Some(Severity::Warning);
            if let Err(e) = self.append_alone(event).await {
                return e;
            }
        }
        ServiceError::RateLimited { retry_after_s }
    }

    /// Appends `event` in a transaction of its own.
    async fn append_alone(&self, event: keybound_audit::NewEvent) -> Result<(), ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }
}
