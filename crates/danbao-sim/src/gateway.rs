//! The simulated payment provider: an external gateway's books kept in memory (never
//! the platform's tables), deterministic ids, HMAC-signed notifications in the sandbox
//! wire format (verified by the sandbox adapter's own code), and fault knobs the
//! simulator turns: down, refunds failing, notifications dropped, repeated, reordered,
//! late or forged.

use danbao_app::clock::Clock;
use danbao_app::payments::{
    CreatedPayment, Incoming, PaymentProvider, PaymentRequest, ProviderError, RefundCommand, SandboxProvider,
    VerifiedPayment,
};
use danbao_domain::Money;
use danbao_sandbox::wire;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const MERCHANT_KEY: &[u8] = b"simulator-merchant-key";

#[derive(Debug, Clone)]
pub struct GatewayPayment {
    pub payment_id: String,
    pub out_trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    /// Set once paid: the transaction id, when, and the signed notification.
    pub paid: Option<Paid>,
}

#[derive(Debug, Clone)]
pub struct Paid {
    pub trade_no: String,
    pub at_ms: i64,
    pub body: Vec<u8>,
    pub signature: String,
}

/// A notification the gateway has yet to have acknowledged.
#[derive(Debug, Clone)]
pub struct Pending {
    pub payment: usize,
}

#[derive(Debug, Default)]
pub struct Books {
    pub payments: Vec<GatewayPayment>,
    /// request id → (payment id, amount).
    pub refunds: BTreeMap<String, (String, i64)>,
    /// request id → (amount, account).
    pub payouts: BTreeMap<String, (i64, String)>,
    /// Notifications not yet acknowledged, in the order the gateway would send them.
    pub outbox: Vec<Pending>,
    pub down: bool,
    pub refunds_failing: bool,
    /// Refunds asked beyond what a payment took: the platform tried to give back more.
    pub over_refunds: Vec<String>,
}

impl Books {
    pub fn paid_minor(&self) -> i64 {
        self.payments
            .iter()
            .filter(|p| p.paid.is_some())
            .map(|p| p.amount_minor)
            .sum()
    }
    pub fn refunded_minor(&self) -> i64 {
        self.refunds.values().map(|(_, a)| a).sum()
    }
    pub fn paid_out_minor(&self) -> i64 {
        self.payouts.values().map(|(a, _)| a).sum()
    }
    fn refunded_for(&self, payment_id: &str) -> i64 {
        self.refunds
            .values()
            .filter(|(p, _)| p == payment_id)
            .map(|(_, a)| a)
            .sum()
    }
}

pub struct SimGateway {
    clock: Arc<dyn Clock>,
    verifier: SandboxProvider,
    books: Mutex<Books>,
}

fn unavailable<T>() -> Result<T, ProviderError> {
    Err(ProviderError::Unavailable("simulated outage".into()))
}

impl SimGateway {
    pub fn new(clock: Arc<dyn Clock>) -> SimGateway {
        SimGateway {
            clock,
            // Only its notification verification is used: pure code, no network.
            verifier: SandboxProvider::new("http://127.0.0.1:9", MERCHANT_KEY.to_vec()),
            books: Mutex::new(Books::default()),
        }
    }

    pub fn books(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock is already a failed run; the books stay readable.
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The buyer pays payment `index` at the cashier: the gateway takes the money and
    /// queues its notification. Paying a paid payment does nothing (a cashier does not
    /// take money twice for one payment). Returns whether money was taken.
    pub fn pay(&self, payment_id: &str, payer: &str) -> bool {
        let now = self.clock.now_ms();
        let mut books = self.books();
        if books.down {
            return false;
        }
        let Some(index) = books.payments.iter().position(|p| p.payment_id == payment_id) else {
            return false;
        };
        if books.payments[index].paid.is_some() {
            return false;
        }
        let p = &books.payments[index];
        let trade_no = format!("sim-txn-{index}");
        let at = danbao_app::clock::rfc3339(now);
        let n = wire::Notification {
            notify_id: format!("sim-notify-{index}"),
            payment_id: p.payment_id.clone(),
            out_trade_no: p.out_trade_no.clone(),
            trade_no: trade_no.clone(),
            amount_minor: p.amount_minor,
            currency: p.currency.clone(),
            status: "succeeded".into(),
            paid_at: at.clone(),
            sent_at: at,
            payer_id: Some(payer.to_string()),
        };
        let body = serde_json::to_vec(&n).unwrap_or_default();
        let signature = wire::sign(MERCHANT_KEY, &body);
        books.payments[index].paid = Some(Paid {
            trade_no,
            at_ms: now,
            body,
            signature,
        });
        books.outbox.push(Pending { payment: index });
        true
    }

    /// The signed notification of a paid payment.
    pub fn notification(&self, payment: usize) -> Option<(Vec<u8>, String)> {
        let books = self.books();
        let paid = books.payments.get(payment)?.paid.as_ref()?;
        Some((paid.body.clone(), paid.signature.clone()))
    }
}

impl PaymentProvider for SimGateway {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            let mut books = self.books();
            if books.down {
                return unavailable();
            }
            let payment_id = format!("sim-pay-{}", books.payments.len());
            books.payments.push(GatewayPayment {
                payment_id: payment_id.clone(),
                out_trade_no: req.out_trade_no,
                amount_minor: req.amount.minor(),
                currency: req.currency,
                paid: None,
            });
            Ok(CreatedPayment {
                cashier_url: format!("sim://cashier/{payment_id}"),
                provider_payment_id: payment_id,
            })
        })
    }

    fn verify_notification(&self, n: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError> {
        self.verifier.verify_notification(n)
    }

    fn acknowledgement(&self) -> &'static str {
        "success"
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let mut books = self.books();
            if books.down || books.refunds_failing {
                return unavailable();
            }
            if let Some((payment, amount)) = books.refunds.get(&cmd.request_id) {
                return if *payment == cmd.provider_payment_id && *amount == cmd.amount.minor() {
                    Ok(())
                } else {
                    Err(ProviderError::Rejected("request id reused for another refund".into()))
                };
            }
            let Some(p) = books
                .payments
                .iter()
                .find(|p| p.payment_id == cmd.provider_payment_id && p.paid.is_some())
            else {
                return Err(ProviderError::Rejected("no such paid payment".into()));
            };
            let limit = p.amount_minor;
            if books.refunded_for(&cmd.provider_payment_id) + cmd.amount.minor() > limit {
                let text = format!(
                    "refund {} of {} for payment {} exceeds what it took",
                    cmd.request_id,
                    cmd.amount.minor(),
                    cmd.provider_payment_id
                );
                books.over_refunds.push(text.clone());
                return Err(ProviderError::Rejected(text));
            }
            books
                .refunds
                .insert(cmd.request_id, (cmd.provider_payment_id, cmd.amount.minor()));
            Ok(())
        })
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let books = self.books();
            if books.down {
                return unavailable();
            }
            books
                .payments
                .iter()
                .filter(|p| p.out_trade_no == out_trade_no)
                .filter_map(|p| p.paid.as_ref())
                .map(|paid| {
                    self.verifier.verify_notification(&Incoming {
                        body: &paid.body,
                        signature: Some(&paid.signature),
                        headers: &[],
                        now_ms: 0,
                    })
                })
                .collect()
        })
    }

    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let books = self.books();
            if books.down {
                return unavailable();
            }
            books
                .payments
                .iter()
                .filter_map(|p| p.paid.as_ref())
                .filter(|paid| (from_ms..to_ms).contains(&paid.at_ms))
                .map(|paid| {
                    self.verifier.verify_notification(&Incoming {
                        body: &paid.body,
                        signature: Some(&paid.signature),
                        headers: &[],
                        now_ms: 0,
                    })
                })
                .collect()
        })
    }

    fn payout(&self, request_id: String, amount: Money, account: String) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let mut books = self.books();
            if books.down {
                return unavailable();
            }
            books.payouts.entry(request_id).or_insert((amount.minor(), account));
            Ok(())
        })
    }
}
