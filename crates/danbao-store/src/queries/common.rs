// Shared by every file in this folder. lib.rs includes the whole folder twice: once inside
// `mod sqlite` (rusqlite through `lite::shim`, which speaks sqlx's query API), once inside
// `mod postgres` (`sqlx::Postgres`). Each module defines `Conn` and `Row`. Every statement
// must be valid on both; differences go through `DIALECT`.

use danbao_domain::{ComplaintId, Money, OrderStatus, PaymentAttemptId, ProductId, RefundId, WithdrawalId};
use sqlx::Row as _;


fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

/// Rows written per multi-row statement: far below both databases' parameter limits.
const ROWS_PER_STATEMENT: usize = 200;

/// `($first, $first+1, …), (…)`: the VALUES list of `rows` rows of `cols` parameters.
fn values_list(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (0..cols).map(|c| format!("${}", first + r * cols + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
