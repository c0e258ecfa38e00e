//! Typed identifiers. Each is a UUID v7 in text form: time-ordered and index-friendly,
//! and a distinct type so an order id can never be passed where a product id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh time-ordered id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Accepts only a well-formed UUID, so that arbitrary client text never
            /// reaches a query as an id.
            pub fn parse(text: &str) -> Option<Self> {
                uuid::Uuid::parse_str(text).ok().map(|u| Self(u.to_string()))
            }

            /// For ids read back from our own storage, which only ever holds parsed ids.
            pub fn from_trusted(text: String) -> Self {
                Self(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type!(
    UserId,
    ProductId,
    OrderId,
    PaymentId,
    RefundId,
    CardKeyId,
    EntryId,
    JobId,
    ComplaintId,
    WithdrawalId,
    PaymentAttemptId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_uuids() {
        let id = OrderId::generate();
        assert_eq!(OrderId::parse(id.as_str()), Some(id));
        assert_eq!(OrderId::parse("1 OR 1=1"), None);
        assert_eq!(OrderId::parse(""), None);
    }
}
