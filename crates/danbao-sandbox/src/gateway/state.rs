//! The gateway's own books: payments, refunds and notification attempts, kept in memory
//! and, when the gateway has a state directory, in a journal there that survives a restart.
//!
//! Everything here is synchronous and takes `now` from the caller, so the rules (idempotency,
//! refund limits, statement windows) are tested with plain data.
//!
//! # The journal
//!
//! The sandbox stands for an outside provider, so it keeps its books in its own files,
//! never in the platform's tables: `<state dir>/gateway-journal.jsonl`, one JSON line per
//! change, each line the whole new state of one payment, refund or payout (an upsert, so
//! replaying a line twice changes nothing). A change is appended and `fsync`ed before the
//! gateway answers, so whatever a caller was told survives a crash. At start the journal is
//! replayed and then compacted (written to a temporary file, `fsync`ed, renamed over the old
//! one), so it holds one line per live thing. A torn last line (a crash mid-append) was never
//! acknowledged and is skipped; a bad line anywhere else stops the start rather than forget
//! payments. The directory is 0700 and the files 0600 from the moment they exist.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::wire::{
    CreatePayment, Notification, NotificationAttempt, PaymentView, PayoutView, RefundRequest, RefundView,
};

/// A sandbox lives in memory; past this many payments it refuses new ones rather than grow
/// without bound (a load test runs far fewer).
pub(crate) const MAX_PAYMENTS: usize = 200_000;
/// Same bound for refunds.
pub(crate) const MAX_REFUNDS: usize = 200_000;
/// Attempts kept per payment: the schedule makes 8, the rest are manual resends. The oldest
/// are forgotten first.
pub(crate) const MAX_ATTEMPTS_RECORDED: usize = 200;
/// Field limits, generous next to real gateways (Alipay: out_trade_no 64, subject 256).
const OUT_TRADE_NO_LEN_MAX: usize = 64;
const SUBJECT_LEN_MAX: usize = 256;
const CURRENCY_LEN_MAX: usize = 8;
const URL_LEN_MAX: usize = 2048;
const REQUEST_ID_LEN_MAX: usize = 128;
/// The cashier's merchant name and order number (易支付's sitename is shorter still).
const LABEL_LEN_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GatewayError {
    Invalid(String),
    UnknownPayment,
    UnknownRefund,
    /// The out_trade_no exists with another amount or currency.
    OutTradeNoConflict,
    /// The request_id exists for another payment or amount.
    RefundRequestConflict,
    /// The payout request_id exists with another amount or account.
    PayoutRequestConflict,
    NotPaid,
    RefundExceedsPayment,
    Capacity,
    /// The change could not be written to the gateway's journal: it was not made.
    Storage(String),
}

/// Journals written before payers were recorded: paid by the default wallet.
fn default_payer() -> String {
    crate::wire::DEFAULT_PAYER.to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum PaymentStatus {
    Created,
    Succeeded {
        trade_no: String,
        #[serde(with = "time::serde::rfc3339")]
        paid_at: OffsetDateTime,
        /// The wallet that paid (the notification's `payer_id`).
        #[serde(default = "default_payer")]
        payer_id: String,
    },
}

/// Where a payment's notification schedule stands: the scheduled attempt made last
/// (0 = the first send, 1.. = the resends) and when. After a restart the schedule goes on
/// from here rather than from the start or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScheduleMark {
    pub(crate) step: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) at: OffsetDateTime,
}

/// Which gateway a payment was opened through, and so how its notification is worded
/// and signed: the sandbox's own merchant API (JSON, HMAC header), the 易支付 V1
/// personality (GET with the MD5-signed query string), its V2 API (GET with the query
/// string signed SHA256withRSA by the platform's key), or the Alipay personality.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum PaymentRail {
    #[default]
    Sandbox,
    Epay {
        pid: String,
        /// The channel the buyer chose (`alipay`, `wxpay`, …).
        pay_type: String,
    },
    /// The Alipay personality (form POST signed with the gateway's RSA key).
    Alipay {
        app_id: String,
        /// The method that opened it (`alipay.trade.page.pay`, …).
        method: String,
    },
    /// Opened through 易支付 V2's `api/pay/create` by the RSA merchant `pid`.
    EpayV2 {
        pid: String,
        pay_type: String,
        /// The merchant's `param`, returned as it is in the notification.
        #[serde(default)]
        param: Option<String>,
    },
    /// WeChat Pay API v3 (Native): a POST of the encrypted transaction, signed in the
    /// `Wechatpay-*` headers.
    Wechat { mchid: String, appid: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Payment {
    pub(crate) payment_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) subject: String,
    pub(crate) notify_url: String,
    /// Empty, or an http(s) URL: it ends up in a link and a redirect.
    pub(crate) return_url: String,
    pub(crate) status: PaymentStatus,
    pub(crate) refunded_minor: i64,
    pub(crate) notifications: Vec<NotificationAttempt>,
    #[serde(default)]
    pub(crate) schedule: Option<ScheduleMark>,
    #[serde(default)]
    pub(crate) site_name: Option<String>,
    #[serde(default)]
    pub(crate) order_ref: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub(crate) expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub(crate) rail: PaymentRail,
}

impl Payment {
    pub(crate) fn view(&self, public_base_url: &str) -> PaymentView {
        let (status, trade_no, paid_at) = match &self.status {
            PaymentStatus::Created => ("created", None, None),
            PaymentStatus::Succeeded { trade_no, paid_at, .. } => {
                ("succeeded", Some(trade_no.clone()), Some(rfc3339(*paid_at)))
            }
        };
        PaymentView {
            payment_id: self.payment_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            subject: self.subject.clone(),
            status: status.to_owned(),
            trade_no,
            paid_at,
            cashier_url: format!("{public_base_url}/cashier/{}", self.payment_id),
            refunded_minor: self.refunded_minor,
            notifications: self.notifications.clone(),
        }
    }

    /// The notification for this payment, or `None` while it is unpaid.
    pub(crate) fn notification(&self, notify_id: String, now: OffsetDateTime) -> Option<Notification> {
        let PaymentStatus::Succeeded {
            trade_no,
            paid_at,
            payer_id,
        } = &self.status
        else {
            return None;
        };
        Some(Notification {
            notify_id,
            payment_id: self.payment_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            trade_no: trade_no.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            status: "succeeded".to_owned(),
            paid_at: rfc3339(*paid_at),
            sent_at: rfc3339(now),
            payer_id: Some(payer_id.clone()),
        })
    }

    pub(crate) fn is_acknowledged(&self) -> bool {
        self.notifications.iter().any(|a| a.outcome == "acknowledged")
    }
}

#[derive(Debug)]
pub(crate) enum Created {
    New(String),
    Existing(String),
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    payments: HashMap<String, Payment>,
    by_out_trade_no: HashMap<String, String>,
    refunds: HashMap<String, RefundView>,
    payouts: HashMap<String, crate::wire::PayoutView>,
    /// None: in memory only (a gateway started without a state directory).
    journal: Option<Journal>,
}

/// The journal file's name in the state directory.
pub(crate) const JOURNAL_FILE: &str = "gateway-journal.jsonl";

/// One journal line: the whole new state of what changed (see the module docs).
#[derive(Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
enum Entry {
    Payment(Payment),
    /// A refund and the payment it changes, in one line so that a crash keeps both or
    /// neither.
    Refund {
        payment: Payment,
        refund: RefundView,
    },
    Payout(PayoutView),
}

#[derive(Debug)]
struct Journal {
    path: PathBuf,
    file: std::fs::File,
    /// Set when an append failed part-way: the file may end in a torn line, so nothing
    /// more is appended after it until a restart compacts the journal.
    broken: bool,
}

impl Journal {
    fn append(&mut self, entry: &Entry) -> Result<(), GatewayError> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| GatewayError::Storage(format!("{what} {}: {e}", JOURNAL_FILE));
        if self.broken {
            return Err(GatewayError::Storage(format!(
                "{} failed earlier; restart the gateway to recover",
                self.path.display()
            )));
        }
        let mut line = serde_json::to_vec(entry).map_err(|e| fail("encoding for", &e))?;
        line.push(b'\n');
        if let Err(e) = self.file.write_all(&line).and_then(|()| self.file.sync_data()) {
            self.broken = true;
            return Err(fail("writing", &e));
        }
        Ok(())
    }
}

/// Creates the state directory (and parents) readable by this user alone from the start.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Opens a file for appending (`create_new` when asked), mode 0600 from the start.
fn open_private(path: &Path, create_new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    if create_new {
        options.write(true).create_new(true);
    } else {
        options.append(true).create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl Store {
    /// Opens the books kept in `dir` (created if missing): replays the journal, compacts
    /// it, and keeps appending to it from then on.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Store> {
        create_private_dir(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let mut store = Store::default();
        match std::fs::read_to_string(&path) {
            Ok(text) => store.replay(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Compact: write the live state to a temporary file, make it durable, then swap
        // it in with a rename (atomic), and make the rename durable too.
        let tmp = dir.join(format!("{JOURNAL_FILE}.tmp"));
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut out = std::io::BufWriter::new(open_private(&tmp, true)?);
        let mut refunded = std::collections::HashSet::new();
        for refund in store.refunds.values() {
            if let Some(payment) = store.payments.get(&refund.payment_id) {
                refunded.insert(payment.payment_id.clone());
                write_entry(
                    &mut out,
                    &Entry::Refund {
                        payment: payment.clone(),
                        refund: refund.clone(),
                    },
                )?;
            }
        }
        for payment in store.payments.values().filter(|p| !refunded.contains(&p.payment_id)) {
            write_entry(&mut out, &Entry::Payment(payment.clone()))?;
        }
        for payout in store.payouts.values() {
            write_entry(&mut out, &Entry::Payout(payout.clone()))?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()?;
        store.journal = Some(Journal {
            file: open_private(&path, false)?,
            path,
            broken: false,
        });
        Ok(store)
    }

    fn replay(&mut self, text: &str, path: &Path) -> std::io::Result<()> {
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let complete = text.ends_with('\n');
        for (i, line) in lines.iter().enumerate() {
            let entry = match serde_json::from_str::<Entry>(line) {
                Ok(entry) => entry,
                // A crash in the middle of an append leaves a torn last line: that change
                // was never acknowledged to anyone, so it is dropped.
                Err(e) if i + 1 == lines.len() && !complete => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping a torn last journal line");
                    continue;
                }
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} line {}: {e}", path.display(), i + 1),
                    ))
                }
            };
            self.apply(entry);
        }
        Ok(())
    }

    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Payment(payment) => self.put_payment(payment),
            Entry::Refund { payment, refund } => {
                self.put_payment(payment);
                self.refunds.insert(refund.request_id.clone(), refund);
            }
            Entry::Payout(payout) => {
                self.payouts.insert(payout.request_id.clone(), payout);
            }
        }
    }

    fn put_payment(&mut self, payment: Payment) {
        self.by_out_trade_no
            .insert(payment.out_trade_no.clone(), payment.payment_id.clone());
        self.payments.insert(payment.payment_id.clone(), payment);
    }

    /// Writes the change to the journal (when there is one) before it is made in memory:
    /// a change that could not be kept is not made.
    fn commit(&mut self, entry: Entry) -> Result<(), GatewayError> {
        if let Some(journal) = &mut self.journal {
            journal.append(&entry)?;
        }
        self.apply(entry);
        Ok(())
    }

    /// Records that scheduled attempt `step` of this payment's notification starts now.
    pub(crate) fn mark_scheduled(&mut self, payment_id: &str, step: usize, now: OffsetDateTime) {
        let Some(payment) = self.payments.get(payment_id) else {
            return;
        };
        let mut payment = payment.clone();
        payment.schedule = Some(ScheduleMark { step, at: now });
        if let Err(e) = self.commit(Entry::Payment(payment.clone())) {
            // The attempt is still made; after a restart it may be made once more, which
            // merchants must (and the platform does) take in their stride.
            tracing::warn!(%payment_id, step, ?e, "could not record the notification schedule");
            self.put_payment(payment);
        }
    }

    /// Paid payments whose notification schedule has not ended (not acknowledged, not
    /// given up): each with the scheduled attempt due next and how long until it is due.
    /// `delay_after(step)` is the wait after scheduled attempt `step`, or `None` after the
    /// last one. This is what a restarted gateway resumes.
    pub(crate) fn unfinished_schedules(
        &self,
        now: OffsetDateTime,
        delay_after: impl Fn(usize) -> Option<Duration>,
    ) -> Vec<(String, usize, Duration)> {
        let mut out: Vec<(String, usize, Duration)> = self
            .payments
            .values()
            .filter(|p| matches!(p.status, PaymentStatus::Succeeded { .. }) && !p.is_acknowledged())
            .filter_map(|p| match p.schedule {
                // Paid, but the first send never started: it is due now.
                None => Some((p.payment_id.clone(), 0, Duration::ZERO)),
                Some(mark) => {
                    let delay = delay_after(mark.step)?;
                    let elapsed = Duration::try_from(now - mark.at).unwrap_or(Duration::ZERO);
                    Some((p.payment_id.clone(), mark.step + 1, delay.saturating_sub(elapsed)))
                }
            })
            .collect();
        out.sort();
        out
    }

    /// Pays a merchant's seller out, once per request_id.
    pub(crate) fn payout(
        &mut self,
        req: &crate::wire::PayoutRequest,
        new_id: impl FnOnce() -> String,
    ) -> Result<crate::wire::PayoutView, GatewayError> {
        if req.request_id.is_empty() || req.request_id.chars().count() > REQUEST_ID_LEN_MAX {
            return Err(GatewayError::Invalid(format!(
                "request_id must be 1..={REQUEST_ID_LEN_MAX} characters"
            )));
        }
        if req.amount_minor <= 0 {
            return Err(GatewayError::Invalid(
                "amount_minor must be greater than zero".to_owned(),
            ));
        }
        if req.account.is_empty() || req.account.chars().count() > REQUEST_ID_LEN_MAX {
            return Err(GatewayError::Invalid("account must be 1..=64 characters".to_owned()));
        }
        if let Some(existing) = self.payouts.get(&req.request_id) {
            if existing.amount_minor != req.amount_minor || existing.account != req.account {
                return Err(GatewayError::PayoutRequestConflict);
            }
            return Ok(existing.clone());
        }
        if self.payouts.len() >= MAX_REFUNDS {
            return Err(GatewayError::Capacity);
        }
        let view = crate::wire::PayoutView {
            payout_id: new_id(),
            request_id: req.request_id.clone(),
            amount_minor: req.amount_minor,
            account: req.account.clone(),
            status: "succeeded".to_owned(),
        };
        self.commit(Entry::Payout(view.clone()))?;
        Ok(view)
    }

    pub(crate) fn payment(&self, payment_id: &str) -> Result<&Payment, GatewayError> {
        self.payments.get(payment_id).ok_or(GatewayError::UnknownPayment)
    }

    /// Opens a payment, or returns the one already open for this out_trade_no.
    pub(crate) fn create_payment(
        &mut self,
        req: CreatePayment,
        new_id: impl FnOnce() -> String,
    ) -> Result<Created, GatewayError> {
        self.create_payment_on(req, PaymentRail::Sandbox, new_id)
    }

    /// The same through one of the gateway's personalities; the out_trade_no is the
    /// merchant's whatever the rail, so one opened through another rail is a conflict.
    pub(crate) fn create_payment_on(
        &mut self,
        req: CreatePayment,
        rail: PaymentRail,
        new_id: impl FnOnce() -> String,
    ) -> Result<Created, GatewayError> {
        validate_create(&req)?;
        if let Some(existing_id) = self.by_out_trade_no.get(&req.out_trade_no) {
            let existing = self.payment(existing_id)?;
            if existing.amount_minor != req.amount_minor || existing.currency != req.currency || existing.rail != rail {
                return Err(GatewayError::OutTradeNoConflict);
            }
            return Ok(Created::Existing(existing_id.clone()));
        }
        if self.payments.len() >= MAX_PAYMENTS {
            return Err(GatewayError::Capacity);
        }
        let payment_id = new_id();
        self.commit(Entry::Payment(Payment {
            payment_id: payment_id.clone(),
            out_trade_no: req.out_trade_no,
            amount_minor: req.amount_minor,
            currency: req.currency,
            subject: req.subject,
            notify_url: req.notify_url,
            return_url: req.return_url,
            status: PaymentStatus::Created,
            refunded_minor: 0,
            notifications: Vec::new(),
            schedule: None,
            expires_at: req.expires_at.as_deref().and_then(parse_rfc3339),
            site_name: req.site_name,
            order_ref: req.order_ref,
            rail,
        }))?;
        Ok(Created::New(payment_id))
    }

    /// Marks the payment paid by the default payer (the unit tests' shorthand).
    #[cfg(test)]
    pub(crate) fn pay(
        &mut self,
        payment_id: &str,
        trade_no: impl FnOnce() -> String,
        now: OffsetDateTime,
    ) -> Result<bool, GatewayError> {
        self.pay_as(payment_id, crate::wire::DEFAULT_PAYER, trade_no, now)
    }

    /// Marks the payment paid by `payer_id`. Returns true only the first time: paying
    /// twice makes no second trade (and does not change who paid).
    pub(crate) fn pay_as(
        &mut self,
        payment_id: &str,
        payer_id: &str,
        trade_no: impl FnOnce() -> String,
        now: OffsetDateTime,
    ) -> Result<bool, GatewayError> {
        let payment = self.payments.get(payment_id).ok_or(GatewayError::UnknownPayment)?;
        match payment.status {
            PaymentStatus::Succeeded { .. } => Ok(false),
            PaymentStatus::Created => {
                let mut payment = payment.clone();
                payment.status = PaymentStatus::Succeeded {
                    trade_no: trade_no(),
                    paid_at: truncate_to_millis(now),
                    payer_id: payer_id.to_owned(),
                };
                self.commit(Entry::Payment(payment))?;
                Ok(true)
            }
        }
    }

    pub(crate) fn record_attempt(&mut self, payment_id: &str, attempt: NotificationAttempt) {
        let Some(payment) = self.payments.get(payment_id) else {
            return;
        };
        let mut payment = payment.clone();
        if payment.notifications.len() >= MAX_ATTEMPTS_RECORDED {
            payment.notifications.remove(0);
        }
        payment.notifications.push(attempt);
        if let Err(e) = self.commit(Entry::Payment(payment.clone())) {
            // The attempt happened whether or not it is written down; an unrecorded
            // acknowledgement only means a resend after a restart.
            tracing::warn!(%payment_id, ?e, "could not record a notification attempt");
            self.put_payment(payment);
        }
    }

    pub(crate) fn all_payments(&self) -> impl Iterator<Item = &Payment> {
        self.payments.values()
    }

    pub(crate) fn by_out_trade_no(&self, out_trade_no: &str) -> Vec<&Payment> {
        self.by_out_trade_no
            .get(out_trade_no)
            .and_then(|id| self.payments.get(id))
            .into_iter()
            .collect()
    }

    /// Refunds part or all of a paid payment, once per request_id.
    pub(crate) fn refund(
        &mut self,
        req: &RefundRequest,
        new_id: impl FnOnce() -> String,
    ) -> Result<RefundView, GatewayError> {
        if req.request_id.is_empty() || req.request_id.chars().count() > REQUEST_ID_LEN_MAX {
            return Err(GatewayError::Invalid(format!(
                "request_id must be 1..={REQUEST_ID_LEN_MAX} characters"
            )));
        }
        if req.amount_minor <= 0 {
            return Err(GatewayError::Invalid(
                "amount_minor must be greater than zero".to_owned(),
            ));
        }
        if let Some(existing) = self.refunds.get(&req.request_id) {
            if existing.payment_id != req.payment_id || existing.amount_minor != req.amount_minor {
                return Err(GatewayError::RefundRequestConflict);
            }
            return Ok(existing.clone());
        }
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(GatewayError::Capacity);
        }
        let mut payment = self
            .payments
            .get(&req.payment_id)
            .ok_or(GatewayError::UnknownPayment)?
            .clone();
        if matches!(payment.status, PaymentStatus::Created) {
            return Err(GatewayError::NotPaid);
        }
        let refunded = payment
            .refunded_minor
            .checked_add(req.amount_minor)
            .filter(|total| *total <= payment.amount_minor)
            .ok_or(GatewayError::RefundExceedsPayment)?;
        payment.refunded_minor = refunded;
        let view = RefundView {
            refund_id: new_id(),
            request_id: req.request_id.clone(),
            payment_id: req.payment_id.clone(),
            amount_minor: req.amount_minor,
            status: "succeeded".to_owned(),
        };
        self.commit(Entry::Refund {
            payment,
            refund: view.clone(),
        })?;
        Ok(view)
    }

    pub(crate) fn refund_by_request_id(&self, request_id: &str) -> Result<&RefundView, GatewayError> {
        self.refunds.get(request_id).ok_or(GatewayError::UnknownRefund)
    }

    /// A refund by the gateway's own refund number (易支付 V2's `refund_no`).
    pub(crate) fn refund_by_refund_id(&self, refund_id: &str) -> Result<&RefundView, GatewayError> {
        self.refunds
            .values()
            .find(|r| r.refund_id == refund_id)
            .ok_or(GatewayError::UnknownRefund)
    }

    /// Successful payments whose paid_at is in [from, to), oldest first.
    pub(crate) fn statement(&self, from: OffsetDateTime, to: OffsetDateTime, now: OffsetDateTime) -> Vec<Notification> {
        let mut lines: Vec<(OffsetDateTime, Notification)> = self
            .payments
            .values()
            // The sandbox merchant API's statement: its own payments, not those opened
            // through another personality (they are on that rail's statement).
            .filter(|p| p.rail == PaymentRail::Sandbox)
            .filter_map(|p| match &p.status {
                PaymentStatus::Succeeded { trade_no, paid_at, .. } if *paid_at >= from && *paid_at < to => {
                    let notification = p.notification(format!("statement-{trade_no}"), now)?;
                    Some((*paid_at, notification))
                }
                _ => None,
            })
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.trade_no.cmp(&b.1.trade_no)));
        lines.into_iter().map(|(_, n)| n).collect()
    }
}

impl Store {
    /// What the gateway holds for the merchant on the sandbox merchant API: every
    /// succeeded payment less what was refunded of it, less every payout. (Payments opened
    /// through another personality are that rail's.) Checked sums: an overflow is an
    /// error, not a wrapped figure.
    pub(crate) fn balance(&self) -> Option<i64> {
        let mut total: i64 = 0;
        for p in self.payments.values().filter(|p| p.rail == PaymentRail::Sandbox) {
            if matches!(p.status, PaymentStatus::Succeeded { .. }) {
                total = total.checked_add(p.amount_minor.checked_sub(p.refunded_minor)?)?;
            }
        }
        for payout in self.payouts.values() {
            total = total.checked_sub(payout.amount_minor)?;
        }
        Some(total)
    }
}

fn write_entry(out: &mut impl std::io::Write, entry: &Entry) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, entry)?;
    out.write_all(b"\n")
}

fn validate_create(req: &CreatePayment) -> Result<(), GatewayError> {
    let invalid = |m: &str| Err(GatewayError::Invalid(m.to_owned()));
    if req.out_trade_no.is_empty() || req.out_trade_no.chars().count() > OUT_TRADE_NO_LEN_MAX {
        return invalid("out_trade_no must be 1..=64 characters");
    }
    if req.amount_minor <= 0 {
        return invalid("amount_minor must be greater than zero");
    }
    if req.currency.is_empty()
        || req.currency.len() > CURRENCY_LEN_MAX
        || !req.currency.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return invalid("currency must be a short non-empty code such as CNY");
    }
    if req.subject.chars().count() > SUBJECT_LEN_MAX {
        return invalid("subject must be at most 256 characters");
    }
    if !is_http_url(&req.notify_url) {
        return invalid("notify_url must be an http(s) URL");
    }
    if !req.return_url.is_empty() && !is_http_url(&req.return_url) {
        return invalid("return_url must be empty or an http(s) URL");
    }
    if req
        .site_name
        .as_ref()
        .is_some_and(|s| s.chars().count() > LABEL_LEN_MAX)
    {
        return invalid("site_name must be at most 64 characters");
    }
    if req
        .order_ref
        .as_ref()
        .is_some_and(|s| s.chars().count() > LABEL_LEN_MAX)
    {
        return invalid("order_ref must be at most 64 characters");
    }
    if req.expires_at.as_deref().is_some_and(|t| parse_rfc3339(t).is_none()) {
        return invalid("expires_at must be an RFC 3339 time");
    }
    Ok(())
}

fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn is_http_url(s: &str) -> bool {
    s.len() <= URL_LEN_MAX
        && reqwest::Url::parse(s)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false)
}

/// RFC 3339 in UTC.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // Formatting fails only for years outside 0..=9999, which a clock does not produce;
    // the Unix timestamp is a readable fallback rather than a panic.
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Real gateways report whole seconds or milliseconds; keeping milliseconds makes a time
/// survive a round trip through any database the merchant keeps it in.
fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn create(out_trade_no: &str, amount_minor: i64) -> CreatePayment {
        CreatePayment {
            out_trade_no: out_trade_no.to_owned(),
            amount_minor,
            currency: "CNY".to_owned(),
            subject: "card".to_owned(),
            notify_url: "http://127.0.0.1:1/notify".to_owned(),
            return_url: "http://127.0.0.1:1/return".to_owned(),
            site_name: None,
            order_ref: None,
            expires_at: None,
        }
    }

    fn id(s: &'static str) -> impl FnOnce() -> String {
        move || s.to_owned()
    }

    fn check_invalid(edit: impl FnOnce(&mut CreatePayment)) {
        let mut req = create("o", 100);
        edit(&mut req);
        let got = Store::default().create_payment(req, id("p1"));
        assert!(matches!(got, Err(GatewayError::Invalid(_))), "{got:?}");
    }

    #[test]
    fn create_validates_its_input() {
        check_invalid(|r| r.amount_minor = 0);
        check_invalid(|r| r.amount_minor = -5);
        check_invalid(|r| r.currency.clear());
        check_invalid(|r| r.out_trade_no.clear());
        check_invalid(|r| r.notify_url = "ftp://x/y".to_owned());
        check_invalid(|r| r.notify_url = "not a url".to_owned());
        check_invalid(|r| r.return_url = "javascript:alert(1)".to_owned());
        check_invalid(|r| r.subject = "x".repeat(257));
    }

    #[test]
    fn create_is_idempotent_on_out_trade_no() {
        let mut store = Store::default();
        assert!(matches!(
            store.create_payment(create("o1", 100), id("p1")),
            Ok(Created::New(p)) if p == "p1"
        ));
        assert!(matches!(
            store.create_payment(create("o1", 100), id("p2")),
            Ok(Created::Existing(p)) if p == "p1"
        ));
        store.pay("p1", id("t1"), datetime!(2025-01-01 0:00 UTC)).unwrap();
        assert!(matches!(
            store.create_payment(create("o1", 100), id("p3")),
            Ok(Created::Existing(p)) if p == "p1"
        ));
        assert_eq!(
            store.create_payment(create("o1", 101), id("p4")).unwrap_err(),
            GatewayError::OutTradeNoConflict
        );
    }

    #[test]
    fn paying_twice_makes_one_trade() {
        let mut store = Store::default();
        store.create_payment(create("o1", 100), id("p1")).unwrap();
        let now = datetime!(2025-01-01 0:00 UTC);
        assert!(store.pay("p1", id("t1"), now).unwrap());
        assert!(!store.pay("p1", id("t2"), now).unwrap());
        let view = store.payment("p1").unwrap().view("http://gw");
        assert_eq!(view.trade_no.as_deref(), Some("t1"));
        assert_eq!(view.cashier_url, "http://gw/cashier/p1");
        assert_eq!(
            store.pay("nope", id("t3"), now).unwrap_err(),
            GatewayError::UnknownPayment
        );
    }

    #[test]
    fn refunds_are_idempotent_and_bounded_by_the_payment() {
        let mut store = Store::default();
        store.create_payment(create("o1", 100), id("p1")).unwrap();
        let refund = |amount_minor, request_id: &str| RefundRequest {
            payment_id: "p1".to_owned(),
            amount_minor,
            request_id: request_id.to_owned(),
        };
        assert_eq!(
            store.refund(&refund(10, "r1"), id("rf1")).unwrap_err(),
            GatewayError::NotPaid
        );
        store.pay("p1", id("t1"), datetime!(2025-01-01 0:00 UTC)).unwrap();
        let first = store.refund(&refund(60, "r1"), id("rf1")).unwrap();
        let again = store.refund(&refund(60, "r1"), id("rf2")).unwrap();
        assert_eq!(first, again);
        assert_eq!(store.payment("p1").unwrap().refunded_minor, 60);
        assert_eq!(
            store.refund(&refund(61, "r1"), id("rf3")).unwrap_err(),
            GatewayError::RefundRequestConflict
        );
        assert_eq!(
            store.refund(&refund(41, "r2"), id("rf4")).unwrap_err(),
            GatewayError::RefundExceedsPayment
        );
        assert_eq!(
            store.refund(&refund(i64::MAX, "r3"), id("rf5")).unwrap_err(),
            GatewayError::RefundExceedsPayment
        );
        store.refund(&refund(40, "r4"), id("rf6")).unwrap();
        assert_eq!(store.payment("p1").unwrap().refunded_minor, 100);
        assert!(matches!(
            store.refund(&refund(0, "r5"), id("rf7")),
            Err(GatewayError::Invalid(_))
        ));
    }

    #[test]
    fn statement_is_half_open_and_ordered() {
        let mut store = Store::default();
        for (o, p, t, at) in [
            ("o1", "p1", "t1", datetime!(2025-01-01 10:00 UTC)),
            ("o2", "p2", "t2", datetime!(2025-01-01 09:00 UTC)),
            ("o3", "p3", "t3", datetime!(2025-01-01 11:00 UTC)),
        ] {
            store.create_payment(create(o, 100), id(p)).unwrap();
            store.pay(p, id(t), at).unwrap();
        }
        store.create_payment(create("o4", 100), id("p4")).unwrap();
        let now = datetime!(2025-01-02 0:00 UTC);
        let lines = store.statement(datetime!(2025-01-01 09:00 UTC), datetime!(2025-01-01 11:00 UTC), now);
        let trades: Vec<_> = lines.iter().map(|n| n.trade_no.as_str()).collect();
        assert_eq!(trades, ["t2", "t1"]);
        assert_eq!(lines[0].paid_at, "2025-01-01T09:00:00Z");
    }

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("danbao-sandbox-state-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn the_journal_keeps_everything_across_an_open() {
        let dir = temp_dir();
        let now = datetime!(2025-01-01 0:00 UTC);
        {
            let mut store = Store::open(&dir).unwrap();
            store.create_payment(create("o1", 100), id("p1")).unwrap();
            store.create_payment(create("o2", 300), id("p2")).unwrap();
            store.pay("p1", id("t1"), now).unwrap();
            let refund = RefundRequest {
                payment_id: "p1".to_owned(),
                amount_minor: 40,
                request_id: "r1".to_owned(),
            };
            store.refund(&refund, id("rf1")).unwrap();
            store.mark_scheduled("p1", 2, now);
        }
        let mut store = Store::open(&dir).unwrap();
        let p1 = store.payment("p1").unwrap();
        assert!(matches!(&p1.status, PaymentStatus::Succeeded { trade_no, .. } if trade_no == "t1"));
        assert_eq!(p1.refunded_minor, 40);
        assert_eq!(p1.schedule, Some(ScheduleMark { step: 2, at: now }));
        assert_eq!(store.refund_by_request_id("r1").unwrap().refund_id, "rf1");
        assert_eq!(store.payment("p2").unwrap().amount_minor, 300);
        // Idempotency keys came back too: the same out_trade_no is the same payment.
        assert!(matches!(
            store.create_payment(create("o2", 300), id("p9")),
            Ok(Created::Existing(p)) if p == "p2"
        ));
        // Compaction left one line per live thing (two payments, one of them with its refund).
        let text = std::fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_middle_line_stops_the_start() {
        let dir = temp_dir();
        {
            let mut store = Store::open(&dir).unwrap();
            store.create_payment(create("o1", 100), id("p1")).unwrap();
        }
        let path = dir.join(JOURNAL_FILE);
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{good}{{\"entry\":\"payment\",\"paym")).unwrap();
        let store = Store::open(&dir).unwrap();
        assert!(store.payment("p1").is_ok());
        drop(store);
        std::fs::write(&path, format!("not json\n{good}")).unwrap();
        assert_eq!(Store::open(&dir).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unfinished_schedules_resume_where_they_stopped() {
        let mut store = Store::default();
        let t0 = datetime!(2025-01-01 0:00 UTC);
        let delay_after = |step: usize| [10u64, 20].get(step).map(|s| Duration::from_secs(*s));
        for p in ["p0", "p1", "p2", "p3", "p4"] {
            store.create_payment(create(p, 100), id(p)).unwrap();
        }
        for p in ["p1", "p2", "p3", "p4"] {
            store.pay(p, id("t"), t0).unwrap();
        }
        // p1: paid, the first send never started. p2: first send at t0, 4 s ago.
        store.mark_scheduled("p2", 0, t0);
        // p3: the last scheduled attempt made: the gateway has given up.
        store.mark_scheduled("p3", 2, t0);
        // p4: acknowledged: nothing to resume.
        store.mark_scheduled("p4", 0, t0);
        store.record_attempt(
            "p4",
            NotificationAttempt {
                notify_id: "n".to_owned(),
                at: rfc3339(t0),
                outcome: "acknowledged".to_owned(),
            },
        );
        let now = t0 + time::Duration::seconds(4);
        assert_eq!(
            store.unfinished_schedules(now, delay_after),
            vec![
                ("p1".to_owned(), 0, Duration::ZERO),
                ("p2".to_owned(), 1, Duration::from_secs(6)),
            ]
        );
        // Overdue: due at once.
        let late = t0 + time::Duration::seconds(60);
        assert_eq!(
            store.unfinished_schedules(late, delay_after)[1],
            ("p2".to_owned(), 1, Duration::ZERO)
        );
    }

    #[test]
    fn the_balance_is_payments_less_refunds_less_payouts() {
        let mut store = Store::default();
        assert_eq!(store.balance(), Some(0));
        store.create_payment(create("o1", 100), id("p1")).unwrap();
        store.create_payment(create("o2", 250), id("p2")).unwrap();
        // An unpaid payment holds nothing.
        assert_eq!(store.balance(), Some(0));
        let now = datetime!(2025-01-01 0:00 UTC);
        store.pay("p1", id("t1"), now).unwrap();
        store.pay("p2", id("t2"), now).unwrap();
        assert_eq!(store.balance(), Some(350));
        let refund = RefundRequest {
            payment_id: "p2".to_owned(),
            amount_minor: 40,
            request_id: "r1".to_owned(),
        };
        store.refund(&refund, id("rf1")).unwrap();
        assert_eq!(store.balance(), Some(310));
        let payout = crate::wire::PayoutRequest {
            request_id: "w1".to_owned(),
            amount_minor: 10,
            account: "seller-1".to_owned(),
        };
        store.payout(&payout, id("po1")).unwrap();
        // A payout made twice is made once.
        store.payout(&payout, id("po2")).unwrap();
        assert_eq!(store.balance(), Some(300));
    }
}
