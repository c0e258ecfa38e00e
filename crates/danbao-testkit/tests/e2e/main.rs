//! End to end: the real server on port 0 with the in-process sandbox gateway, on SQLite
//! and (when DANBAO_TEST_DATABASE_URL is set) PostgreSQL. Every scenario runs on both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(danbao_testkit::TestApp::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(t) = danbao_testkit::TestApp::postgres().await {
                    super::$name(t).await;
                }
            }
        }
    )*};
}

/// The same with the platform's `epay` rail speaking 易支付 V2 (RSA) to the in-process
/// gateway instead of V1.
macro_rules! on_both_databases_epay_v2 {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(danbao_testkit::TestApp::sqlite_epay_v2().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(t) = danbao_testkit::TestApp::postgres_epay_v2().await {
                    super::$name(t).await;
                }
            }
        }
    )*};
}

mod abuse;
mod access;
mod audit;
mod browser;
mod buyer_english;
mod buyer_find;
mod buyer_trust;
mod buyer_words;
mod complaints;
mod console_admin;
mod console_arb;
mod console_seller;
mod evidence;
mod liabilities;
mod limits;
mod no_drop;
mod openapi;
mod operations;
mod privacy;
mod protection;
mod purchase;
mod rail_alipay;
mod rail_epay;
mod rail_epay_v2;
mod rail_wechat;
mod rails_common;
mod risk;
mod shop;
mod transparency;
mod triage_reads;
mod witnesses;
