// Shared by every file in this folder. lib.rs includes the whole folder twice: once inside
// `mod sqlite` (`Db = sqlx::Sqlite`), once inside `mod postgres` (`Db = sqlx::Postgres`).
// Every statement must be valid on both; differences go through `DIALECT`.

use danbao_domain::{ComplaintId, Money, OrderStatus, PaymentAttemptId, ProductId, RefundId, WithdrawalId};
use sqlx::Row as _;

type Conn = sqlx::Transaction<'static, Db>;
type Row = <Db as sqlx::Database>::Row;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}
