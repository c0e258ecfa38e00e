//! Danbao's domain: the business rules, with no IO, no SQL, no HTTP and no clock.
//!
//! Everything here is a pure function of its inputs; the time is always passed in
//! (`now_ms`, milliseconds since the Unix epoch) so deadlines are tested with data.

pub mod backoffice;
pub mod complaint;
pub mod ids;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod order;
pub mod payment;
pub mod refusal;
pub mod risk;
pub mod rules;
pub mod seller;
pub mod triage_text;

pub use ids::*;
pub use ledger::{Account, EntryKind, JournalEntry, Ledger, LedgerError, Posting};
pub use money::{FeeSplit, Money, MoneyError};
pub use order::{DeliveryKind, Effect, IllegalTransition, OrderEvent, OrderStatus};
pub use refusal::{Refusal, RefusalField};
pub use rules::{RuleSet, RulesError};
pub use seller::{Standing, StandingChange, StandingEffect};

/// Milliseconds since the Unix epoch, UTC. The one time type of the domain.
pub type TimestampMs = i64;
pub mod collective;
