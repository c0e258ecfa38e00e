// Shared by every file in this folder. lib.rs includes the whole folder twice: once inside
// `mod sqlite` (rusqlite through `lite::shim`, which speaks sqlx's query API), once inside
// `mod postgres` (`sqlx::Postgres`). Each module defines `Conn` and `Row`. Every statement
// must be valid on both; differences go through `DIALECT`.

use danbao_domain::{ComplaintId, Money, OrderStatus, PaymentAttemptId, ProductId, RefundId, WithdrawalId};
use sqlx::Row as _;


fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}
