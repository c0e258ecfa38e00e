//! Catalog, checkout, payment capture, delivery, confirmation and refunds.

use crate::auth::{validate_password, Caller, Role, User};
use crate::clock::rfc3339;
use crate::evidence::record_event;
use crate::jobs::Job;
use crate::limits::{Action, Origin};
use crate::payments::PaymentRequest;
use crate::risk::{self, RiskView};
use crate::{App, AppError, AppResult};
use danbao_domain::collective::normalise_contact;
use danbao_domain::ledger::rules as posting;
use danbao_domain::limits::{check_hold, Holder, Holdings, QueryPasswordLock};
use danbao_domain::order::transition;
use danbao_domain::risk::RiskLevel;
use danbao_domain::{
    DeliveryKind, Effect, Money, OrderEvent, OrderId, OrderStatus, PaymentAttemptId, ProductId, RefundId, Refusal,
    RuleSet,
};
use danbao_store::HoldKey;
use danbao_store::{CardKeyRow, OrderRow, PaymentAttemptRow, ProductRow, RefundRow, Tx};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const CURRENCY: &str = "CNY";
const TITLE_LEN_MAX: usize = 120;
const DESCRIPTION_LEN_MAX: usize = 4000;
const CATEGORY_LEN_MAX: usize = 40;
const MANUAL_FIELDS_MAX: usize = 10;
const FIELD_VALUE_LEN_MAX: usize = 256;
/// A price above ¥1,000,000 is not a digital good; the bound also keeps totals far from overflow.
const PRICE_MINOR_MAX: i64 = 100_000_000;
/// One import holds at most this many keys, so one request cannot hold the writer for long.
pub const CARD_KEYS_PER_IMPORT_MAX: usize = 10_000;
const CARD_KEY_LEN_MAX: usize = 512;
const CONTACT_LEN_MAX: usize = 64;
const NOTE_LEN_MAX: usize = 2000;
pub const PAGE_SIZE_MAX: i64 = 100;
/// Payment attempts per order, the first included: a buyer who closed the cashier may
/// open it again a few times, not without end.
pub const PAYMENT_ATTEMPTS_PER_ORDER_MAX: i64 = 5;
/// A query password longer than this is not one (and argon2 is not made to chew on it).
const QUERY_PASSWORD_LEN_MAX: usize = 512;
/// 查单 without an order number checks the query password of at most this many of the
/// contact's newest orders. Each check is an argon2 verification (tens of milliseconds),
/// and every such lookup spends exactly this many, found or not (see
/// `lookup_guest_orders`); ten covers a buyer's recent purchases without making one
/// request cost a second of hashing.
pub const LOOKUP_CANDIDATES_MAX: usize = 10;
/// Order numbers drawn at checkout before giving up: with 30⁵ ≈ 24 million numbers a
/// day, a second draw is already rare.
const ORDER_NUMBER_DRAWS_MAX: usize = 8;
/// The characters of an order number's random part: digits and capitals without the
/// ones people confuse (0/O, 1/I/L) and U (read as V).
const ORDER_NUMBER_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const ORDER_NUMBER_RANDOM_LEN: usize = 5;
/// Order numbers carry the date in China time (UTC+8), the buyer's calendar.
const CHINA_OFFSET_MS: i64 = 8 * 3600 * 1000;

// ---- views ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub id: String,
    pub seller_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub price_minor: i64,
    pub currency: String,
    pub delivery_kind: String,
    pub manual_fields: Vec<String>,
    pub status: String,
    /// Units that can be bought now; null for manual products, which have no stock.
    pub stock: Option<i64>,
}

impl ProductView {
    pub(crate) fn from_row(p: ProductRow) -> ProductView {
        let stock = (p.delivery_kind == "card_key").then_some(p.stock);
        ProductView {
            manual_fields: serde_json::from_str(&p.manual_fields).unwrap_or_default(),
            id: p.id.to_string(),
            seller_id: p.seller_id.to_string(),
            title: p.title,
            description: p.description,
            category: p.category,
            price_minor: p.price.minor(),
            currency: p.currency,
            delivery_kind: p.delivery_kind,
            status: p.status,
            stock,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentInfo {
    pub provider: String,
    pub payment_id: String,
    pub cashier_url: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: String,
    pub amount_minor: i64,
    pub reason: String,
    pub status: String,
    pub created_at: String,
    pub confirmed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: String,
    /// The short order number people read and type (`DB20261130-7K3Q9`); accepted
    /// wherever an order id is.
    pub number: String,
    #[schema(value_type = String)]
    pub status: OrderStatus,
    pub status_label: String,
    pub product_id: String,
    pub seller_id: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub delivery_kind: String,
    pub rule_version: i64,
    /// Which party is looking: `buyer` or `seller`.
    pub viewer: &'static str,
    pub guest: bool,
    pub delivery_fields: BTreeMap<String, String>,
    /// A guest buyer's contact (QQ, phone…), for the seller of a manual order to reach
    /// them; none for account holders.
    pub contact: Option<String>,
    pub delivery_note: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub paid_at: Option<String>,
    pub deliver_by: Option<String>,
    pub delivered_at: Option<String>,
    pub auto_confirm_at: Option<String>,
    pub completed_at: Option<String>,
    pub payment: Option<PaymentInfo>,
    pub refunds: Vec<RefundView>,
    /// What the viewer may do now (the domain's rules; the use cases check again).
    /// e.g. `pay`, `cancel`, `reveal`, `confirm`, `complain`, `deliver`, `decline`.
    #[schema(value_type = Vec<String>)]
    pub actions: Vec<OrderAction>,
    /// The complaint kinds offered to the buyer, when `complain` is an action.
    #[schema(value_type = Vec<String>)]
    pub complaint_kinds: Vec<danbao_domain::complaint::ComplaintKind>,
    /// How the order was scored at checkout (SPEC §8); on a single order's view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlacedOrder {
    pub id: String,
    /// The short order number, shown to the buyer before payment.
    pub number: String,
    #[schema(value_type = String)]
    pub status: OrderStatus,
    pub amount_minor: i64,
    pub currency: String,
    pub rule_version: i64,
    /// None for a `step_up` order until its buyer confirms it (`confirm-risk`).
    pub payment: Option<PaymentInfo>,
    pub risk: RiskView,
    /// For guests: the secret that opens the order (`?access_token=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryItem {
    /// `card_key`, `note`, or `file` (content: the file's SHA-256).
    pub kind: &'static str,
    pub content: String,
    /// A file's media type and size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    pub seq: i64,
    pub kind: String,
    pub at: String,
    pub detail: serde_json::Value,
}

impl From<danbao_store::OrderEventRow> for TimelineEvent {
    fn from(e: danbao_store::OrderEventRow) -> TimelineEvent {
        TimelineEvent {
            seq: e.seq,
            kind: e.kind,
            at: rfc3339(e.at),
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub imported: usize,
    /// Keys the product already had (refused: a key is sold once).
    pub duplicates: usize,
    /// Blank lines skipped.
    pub blank_lines: usize,
    /// Lines (1-based) that repeat an earlier line of the same import (refused).
    pub repeated_lines: Vec<usize>,
}

// ---- inputs ----

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub title: String,
    pub description: String,
    pub category: String,
    pub price_minor: i64,
    pub delivery_kind: String,
    pub manual_fields: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price_minor: Option<i64>,
    pub status: Option<String>,
    /// A manual product's fields for the buyer (replaces the list; orders already placed
    /// keep what their buyer entered).
    pub manual_fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct PlaceOrder {
    pub product_id: String,
    pub quantity: i64,
    pub contact: Option<String>,
    pub query_password: Option<String>,
    pub delivery_fields: BTreeMap<String, String>,
    /// One of the configured rails' methods (`App::payment_methods`); none: the default.
    pub payment_method: Option<String>,
}

use danbao_domain::order::{OrderAction, Party};

fn check_len(field: &'static str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(AppError::invalid(field, crate::Invalid::Length { min, max }));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(AppError::invalid(field, crate::Invalid::ControlCharacters));
    }
    Ok(())
}

/// The fields a manual product asks its buyer for: a few short names, and none for
/// card keys (delivered without asking).
fn check_manual_fields(kind: DeliveryKind, fields: &[String]) -> AppResult<()> {
    if fields.len() > MANUAL_FIELDS_MAX {
        return Err(AppError::invalid(
            "manual_fields",
            format!("at most {MANUAL_FIELDS_MAX} fields"),
        ));
    }
    for f in fields {
        check_len("manual_fields", f, 1, 40)?;
    }
    if kind == DeliveryKind::CardKey && !fields.is_empty() {
        return Err(AppError::invalid(
            "manual_fields",
            "only manual products ask the buyer for fields",
        ));
    }
    Ok(())
}

pub(crate) fn require_role(caller: &Caller, role: Role) -> AppResult<&User> {
    match caller {
        Caller::User(u) if u.role == role => Ok(u),
        Caller::User(_) => Err(AppError::Forbidden("this needs another role")),
        _ => Err(AppError::Unauthenticated),
    }
}

pub(crate) fn delivery_kind(order: &OrderRow) -> AppResult<DeliveryKind> {
    DeliveryKind::parse(&order.delivery_kind)
        .ok_or_else(|| AppError::Internal(format!("order {} has an unknown delivery kind", order.id)))
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl App {
    // ---- catalog ----

    pub async fn create_product(&self, caller: &Caller, new: NewProduct) -> AppResult<ProductView> {
        let seller = require_role(caller, Role::Seller)?;
        check_len("title", &new.title, 1, TITLE_LEN_MAX)?;
        check_len("description", &new.description, 0, DESCRIPTION_LEN_MAX)?;
        check_len("category", &new.category, 1, CATEGORY_LEN_MAX)?;
        if !(1..=PRICE_MINOR_MAX).contains(&new.price_minor) {
            return Err(AppError::invalid(
                "price_minor",
                format!("must be 1 to {PRICE_MINOR_MAX} minor units"),
            ));
        }
        let kind = DeliveryKind::parse(&new.delivery_kind)
            .ok_or_else(|| AppError::invalid("delivery_kind", "must be card_key or manual"))?;
        check_manual_fields(kind, &new.manual_fields)?;
        let row = ProductRow {
            id: ProductId::generate(),
            seller_id: seller.id.clone(),
            title: new.title,
            description: new.description,
            category: new.category,
            price: Money::from_minor(new.price_minor),
            currency: CURRENCY.to_string(),
            delivery_kind: kind.as_str().to_string(),
            manual_fields: serde_json::to_string(&new.manual_fields).map_err(|e| AppError::Internal(e.to_string()))?,
            status: "active".into(),
            stock: 0,
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        self.check_deposit_for_listing(&mut tx, &seller.id).await?;
        tx.insert_product(&row).await?;
        tx.commit().await?;
        Ok(ProductView::from_row(row))
    }

    pub async fn list_products(
        &self,
        cursor: Option<&str>,
        limit: i64,
    ) -> AppResult<(Vec<ProductView>, Option<String>)> {
        let limit = limit.clamp(1, PAGE_SIZE_MAX);
        let cursor = match cursor {
            Some(c) => Some(ProductId::parse(c).ok_or_else(|| AppError::invalid("cursor", crate::Invalid::BadCursor))?),
            None => None,
        };
        let mut tx = self.store.begin_read().await?;
        let rows = tx.list_products(cursor.as_ref().map(|c| c.as_str()), limit + 1).await?;
        tx.commit().await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let mut items: Vec<ProductView> = rows.into_iter().map(ProductView::from_row).collect();
        if more {
            items.truncate(usize::try_from(limit).unwrap_or(0));
        }
        let next = if more { items.last().map(|p| p.id.clone()) } else { None };
        Ok((items, next))
    }

    /// The storefront's page of products, newest first: of one category and matching a
    /// search if given; the cursor is the last product id of the previous page.
    pub async fn storefront(
        &self,
        category: Option<&str>,
        search: Option<&str>,
        cursor: Option<&str>,
        limit: i64,
    ) -> AppResult<(Vec<ProductView>, Option<String>)> {
        let limit = limit.clamp(1, PAGE_SIZE_MAX);
        let cursor = match cursor {
            Some(c) => Some(ProductId::parse(c).ok_or_else(|| AppError::invalid("cursor", crate::Invalid::BadCursor))?),
            None => None,
        };
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > 64) {
            return Err(AppError::invalid("search", "at most 64 characters"));
        }
        let category = category.map(str::trim).filter(|c| !c.is_empty());
        let mut tx = self.store.begin_read().await?;
        let rows = tx
            .storefront_products(cursor.as_ref().map(|c| c.as_str()), category, search, limit + 1)
            .await?;
        tx.commit().await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let mut items: Vec<ProductView> = rows.into_iter().map(ProductView::from_row).collect();
        if more {
            items.truncate(usize::try_from(limit).unwrap_or(0));
        }
        let next = if more { items.last().map(|p| p.id.clone()) } else { None };
        Ok((items, next))
    }

    /// The storefront's categories with how many listings each has.
    pub async fn storefront_categories(&self) -> AppResult<Vec<(String, i64)>> {
        let mut tx = self.store.begin_read().await?;
        let rows = tx.storefront_categories().await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// A product as a shopper sees it: hidden or suspended listings are not found.
    pub async fn product(&self, id: &str) -> AppResult<ProductView> {
        let id = ProductId::parse(id).ok_or(AppError::NotFound("product"))?;
        let mut tx = self.store.begin_read().await?;
        let row = tx.product(&id, false).await?;
        // A frozen or banned seller's listings are hidden.
        let listed = match &row {
            Some(p) => p.status == "active" && self.seller_active(&mut tx, &p.seller_id).await?,
            None => false,
        };
        tx.commit().await?;
        match row {
            Some(p) if listed => Ok(ProductView::from_row(p)),
            _ => Err(AppError::NotFound("product")),
        }
    }

    /// Bulk import, one key per line. Blank lines are skipped; duplicates (within the
    /// text, or already stocked) are refused and counted.
    pub async fn import_card_keys(&self, caller: &Caller, product_id: &str, text: &str) -> AppResult<ImportReport> {
        let seller = require_role(caller, Role::Seller)?;
        let id = ProductId::parse(product_id).ok_or(AppError::NotFound("product"))?;
        let paste = danbao_domain::backoffice::read_key_paste(text);
        let keys = &paste.keys;
        if keys.is_empty() {
            return Err(AppError::invalid("body", "no keys: send one key per line"));
        }
        if keys.len() > CARD_KEYS_PER_IMPORT_MAX {
            return Err(AppError::invalid(
                "body",
                format!("at most {CARD_KEYS_PER_IMPORT_MAX} keys per import"),
            ));
        }
        for k in keys {
            check_len("card key", k, 1, CARD_KEY_LEN_MAX)?;
        }
        let now = self.now();
        // Encrypt before the transaction: it is CPU work that need not hold the writer.
        let mut prepared = Vec::with_capacity(keys.len());
        for k in keys {
            let (key_id, nonce, ciphertext) = self.vault.encrypt(k).map_err(|e| AppError::Internal(e.to_string()))?;
            prepared.push((
                self.vault.card_key_fingerprint(id.as_str(), k),
                key_id,
                nonce,
                ciphertext,
                sha256_hex(k),
            ));
        }
        let mut tx = self.store.begin().await?;
        let product = tx
            .product(&id, true)
            .await?
            .filter(|p| p.seller_id == seller.id)
            .ok_or(AppError::NotFound("product"))?;
        if product.delivery_kind != "card_key" {
            return Err(AppError::invalid("product", "only card_key products hold keys"));
        }
        let mut seq = tx.next_card_key_seq(&id).await?;
        let (mut imported, mut duplicates) = (0, 0);
        for (fingerprint, key_id, nonce, ciphertext, content_hash) in prepared {
            let row = CardKeyRow {
                id: uuid::Uuid::now_v7().to_string(),
                product_id: id.clone(),
                seq,
                fingerprint,
                key_id,
                nonce,
                ciphertext,
                content_hash,
                order_id: None,
                allocated_at: None,
                created_at: now,
            };
            if tx.insert_card_key(&row).await? {
                imported += 1;
                seq += 1;
            } else {
                duplicates += 1;
            }
        }
        tx.commit().await?;
        Ok(ImportReport {
            imported,
            duplicates,
            blank_lines: paste.blank_lines,
            repeated_lines: paste.repeated_lines,
        })
    }

    /// Edits a listing. Changing the price never changes existing orders: each order
    /// keeps the unit price it was created with.
    pub async fn update_product(&self, caller: &Caller, product_id: &str, edit: ProductEdit) -> AppResult<ProductView> {
        let seller = require_role(caller, Role::Seller)?;
        let id = ProductId::parse(product_id).ok_or(AppError::NotFound("product"))?;
        if let Some(t) = &edit.title {
            check_len("title", t, 1, TITLE_LEN_MAX)?;
        }
        if let Some(d) = &edit.description {
            check_len("description", d, 0, DESCRIPTION_LEN_MAX)?;
        }
        if let Some(c) = &edit.category {
            check_len("category", c, 1, CATEGORY_LEN_MAX)?;
        }
        if let Some(p) = edit.price_minor {
            if !(1..=PRICE_MINOR_MAX).contains(&p) {
                return Err(AppError::invalid(
                    "price_minor",
                    format!("must be 1 to {PRICE_MINOR_MAX} minor units"),
                ));
            }
        }
        if let Some(st) = &edit.status {
            // `suspended` is the platform's to set, not the seller's.
            if st != "active" && st != "hidden" {
                return Err(AppError::invalid("status", "must be active or hidden"));
            }
        }
        let mut tx = self.store.begin().await?;
        let mut product = tx
            .product(&id, true)
            .await?
            .filter(|p| p.seller_id == seller.id)
            .ok_or(AppError::NotFound("product"))?;
        if product.status == "suspended" {
            return Err(AppError::Forbidden("the platform suspended this listing"));
        }
        if let Some(t) = edit.title {
            product.title = t;
        }
        if let Some(d) = edit.description {
            product.description = d;
        }
        if let Some(c) = edit.category {
            product.category = c;
        }
        if let Some(p) = edit.price_minor {
            product.price = Money::from_minor(p);
        }
        if let Some(st) = edit.status {
            if st == "active" && product.status != "active" {
                self.check_deposit_for_listing(&mut tx, &seller.id).await?;
            }
            product.status = st;
        }
        if let Some(fields) = edit.manual_fields {
            let kind = DeliveryKind::parse(&product.delivery_kind)
                .ok_or_else(|| AppError::Internal(format!("product {} has an unknown delivery kind", product.id)))?;
            check_manual_fields(kind, &fields)?;
            product.manual_fields = serde_json::to_string(&fields).map_err(|e| AppError::Internal(e.to_string()))?;
        }
        tx.update_product(&product).await?;
        tx.commit().await?;
        Ok(ProductView::from_row(product))
    }

    pub async fn seller_products(&self, caller: &Caller) -> AppResult<Vec<ProductView>> {
        let seller = require_role(caller, Role::Seller)?;
        let mut tx = self.store.begin().await?;
        let rows = tx.products_by_seller(&seller.id).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(ProductView::from_row).collect())
    }

    // ---- checkout ----

    /// Creates an order: validates, reserves stock, computes the amount from the price
    /// (the client never sends one), then asks the provider for a cashier — after the
    /// transaction, never inside it.
    pub async fn place_order(&self, caller: &Caller, origin: &Origin, req: PlaceOrder) -> AppResult<PlacedOrder> {
        let rules = self.current_rules();
        let product_id = ProductId::parse(&req.product_id).ok_or(AppError::NotFound("product"))?;
        let (rail, method) = self.rail_for_method(req.payment_method.as_deref())?;
        if !(1..=rules.orders.max_quantity).contains(&req.quantity) {
            return Err(AppError::invalid(
                "quantity",
                crate::Invalid::Range {
                    min: 1,
                    max: rules.orders.max_quantity,
                },
            ));
        }
        let (buyer, guest) = match caller {
            Caller::User(u) => (Some(u.clone()), None),
            Caller::Anonymous | Caller::GuestToken(_) => {
                let contact = req.contact.clone().unwrap_or_default();
                check_len("contact", contact.trim(), 3, CONTACT_LEN_MAX)?;
                let password = req.query_password.clone().unwrap_or_default();
                validate_password("query_password", &password)?;
                (None, Some((contact.trim().to_string(), password)))
            }
        };
        // Limited per address and per buyer (account, or contact as one person) before the
        // query password is hashed.
        let buyer_key = match (&buyer, &guest) {
            (Some(b), _) => b.id.to_string(),
            (None, Some((contact, _))) => normalise_contact(contact),
            (None, None) => String::new(),
        };
        self.guard.admit(Action::Checkout, origin, &buyer_key)?;
        let guest = match guest {
            Some((contact, password)) => Some((contact, self.hash_password(password).await?)),
            None => None,
        };
        let now = self.now();
        let order_id = OrderId::generate();
        let mut tx = self.store.begin().await?;
        // Read without a lock: the product's row is locked last (below), so that one busy
        // product's checkouts take turns only for the stock check and the commit.
        let product = tx
            .product(&product_id, false)
            .await?
            .filter(|p| p.status == "active")
            .ok_or(AppError::NotFound("product"))?;
        if buyer.as_ref().is_some_and(|b| b.id == product.seller_id) {
            return Err(AppError::Forbidden("sellers cannot buy their own products"));
        }
        self.refuse_self_purchase(
            &mut tx,
            &product.seller_id,
            buyer.as_ref(),
            guest.as_ref().map(|g| g.0.as_str()),
        )
        .await?;
        if !self.seller_active(&mut tx, &product.seller_id).await? {
            // A frozen or banned seller's listings are hidden; a direct link finds nothing.
            return Err(AppError::NotFound("product"));
        }
        let kind = DeliveryKind::parse(&product.delivery_kind)
            .ok_or_else(|| AppError::Internal("bad delivery kind".into()))?;
        let fields = validate_delivery_fields(&product, &req.delivery_fields)?;
        let amount = product
            .price
            .checked_mul(req.quantity)
            .map_err(|_| AppError::invalid("quantity", crate::Invalid::AmountTooLarge))?;
        let address = origin.address().map(|a| a.to_string());
        // Scored before the order is written, so the buyer's recent orders are the others.
        let (assessment, factors) = risk::assess_checkout(
            &mut tx,
            &rules,
            &product,
            risk::buyer_key(buyer.as_ref().map(|b| &b.id), &buyer_key),
            amount.minor(),
            now,
        )
        .await?;
        if assessment.level == RiskLevel::Block {
            // Nothing is written: the transaction is dropped uncommitted.
            return Err(risk::blocked(&assessment));
        }
        let step_up = assessment.level == RiskLevel::StepUp;
        let number = free_order_number(&mut tx, now).await?;
        let order = OrderRow {
            id: order_id.clone(),
            number,
            product_id: product_id.clone(),
            seller_id: product.seller_id.clone(),
            buyer_id: buyer.as_ref().map(|b| b.id.clone()),
            guest_contact: guest.as_ref().map(|g| g.0.clone()),
            guest_password_hash: guest.as_ref().map(|g| g.1.clone()),
            quantity: req.quantity,
            unit_price: product.price,
            amount,
            currency: product.currency.clone(),
            delivery_kind: product.delivery_kind.clone(),
            category: product.category.clone(),
            status: OrderStatus::PendingPayment,
            rule_version: rules.version,
            delivery_fields: serde_json::to_string(&fields).map_err(|e| AppError::Internal(e.to_string()))?,
            delivery_note: None,
            created_at: now,
            expires_at: now + rules.payment_window_ms(),
            paid_at: None,
            delivered_at: None,
            deliver_by: None,
            auto_confirm_at: None,
            completed_at: None,
            updated_at: now,
        };
        tx.insert_order(&order).await?;
        let contact = guest.as_ref().map(|_| buyer_key.as_str());
        tx.set_order_client(&order_id, address.as_deref(), contact).await?;
        tx.set_order_risk(&order_id, &risk::risk_row(&assessment, &factors)?)
            .await?;
        let mut created = serde_json::json!({"amount_minor": order.amount.minor(), "quantity": order.quantity, "rule_version": order.rule_version});
        if assessment.level != RiskLevel::Low {
            // In the evidence log too: what the buyer was warned of cannot be rewritten later.
            created["risk_level"] = serde_json::json!(assessment.level.as_str());
            created["risk_reasons"] = serde_json::json!(assessment
                .reasons
                .iter()
                .map(danbao_domain::risk::RiskReason::code)
                .collect::<Vec<_>>());
        }
        record_event(&mut tx, &order_id, "created", created, now).await?;
        Job::ExpireOrder(order_id.clone())
            .enqueue(&mut tx, order.expires_at, now)
            .await?;
        // A step_up order has no payment at all until its buyer confirms it: no cashier
        // exists that could be paid around the confirmation.
        let attempt = if step_up {
            None
        } else {
            Some(self.new_attempt(&mut tx, &order, (rail, method), &rules, now).await?)
        };
        if kind == DeliveryKind::CardKey {
            // Last, under the product's row lock (held to the commit), so its stock and the
            // share of it held by unpaid orders are counted exactly. This order is already
            // written (pending payment) and so counted; `check_hold` counts it once.
            let locked = tx
                .product(&product_id, true)
                .await?
                .filter(|p| p.status == "active")
                .ok_or(AppError::NotFound("product"))?;
            self.check_hold(
                &mut tx,
                &rules,
                &locked,
                buyer.as_ref(),
                &buyer_key,
                address.as_deref(),
                req.quantity,
            )
            .await?;
            if !tx.reserve_stock(&product_id, req.quantity).await? {
                return Err(Refusal::OutOfStock.into());
            }
        }
        tx.commit().await?;

        let access_token = guest.as_ref().map(|_| self.vault.order_access_token(order_id.as_str()));
        let risk = RiskView::new(&assessment, false);
        let Some(attempt) = attempt else {
            return Ok(PlacedOrder {
                id: order_id.to_string(),
                number: order.number.clone(),
                status: OrderStatus::PendingPayment,
                amount_minor: order.amount.minor(),
                currency: order.currency,
                rule_version: order.rule_version,
                payment: None,
                risk,
                access_token,
            });
        };
        let payment = match self.start_payment(&order, &attempt, &product.title).await {
            Ok(p) => p,
            Err(e @ AppError::ProviderUnavailable(_)) => {
                // No cashier, so nobody can pay it: give the stock back now rather than
                // after the payment window. Should the provider have created the payment
                // after all and the buyer pay it, the late payment is fulfilled or refunded.
                self.cancel_unpaid(&order_id, "provider_unavailable").await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        Ok(PlacedOrder {
            id: order_id.to_string(),
            number: order.number.clone(),
            status: OrderStatus::PendingPayment,
            amount_minor: order.amount.minor(),
            currency: order.currency,
            rule_version: order.rule_version,
            payment: Some(payment),
            risk,
            access_token,
        })
    }

    /// Records a payment attempt (its id is the out_trade_no the provider will see) and
    /// schedules the active queries for it, in the caller's transaction.
    async fn new_attempt(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        (rail, method): (&str, Option<&str>),
        rules: &RuleSet,
        now: i64,
    ) -> AppResult<PaymentAttemptRow> {
        let attempt = PaymentAttemptRow {
            id: PaymentAttemptId::generate(),
            order_id: order.id.clone(),
            provider: rail.to_string(),
            method: method.map(str::to_string),
            provider_payment_id: None,
            cashier_url: None,
            amount: order.amount,
            created_at: now,
        };
        tx.insert_payment_attempt(&attempt).await?;
        let times = rules.active_query_times(now, order.expires_at);
        Job::QueryPayment(attempt.id.clone())
            .enqueue_at_times(tx, &times, now)
            .await?;
        Ok(attempt)
    }

    /// Asks the provider for a cashier, after the transaction that recorded the attempt.
    async fn start_payment(
        &self,
        order: &OrderRow,
        attempt: &PaymentAttemptRow,
        subject: &str,
    ) -> AppResult<PaymentInfo> {
        let base = &self.config.public_url;
        // The gateway sees (and its cashier may print) the return URL, so it carries no
        // secret: a guest's browser holds the order's access in a cookie instead.
        let return_url = format!("{base}/orders/{}", order.id);
        let rail = self.rail(&attempt.provider)?;
        let created = rail
            .create_payment(PaymentRequest {
                out_trade_no: attempt.id.to_string(),
                amount: order.amount,
                currency: order.currency.clone(),
                subject: subject.to_string(),
                notify_url: format!("{base}/api/v1/payments/{}/notify", rail.name()),
                return_url,
                // The short order number the buyer was shown, so the cashier prints the same one.
                order_ref: order.number.clone(),
                expires_at_ms: order.expires_at,
                method: attempt.method.clone(),
            })
            .await
            .map_err(|e| AppError::ProviderUnavailable(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        tx.set_attempt_provider_payment(&attempt.id, &created.provider_payment_id, &created.cashier_url)
            .await?;
        tx.commit().await?;
        Ok(PaymentInfo {
            provider: attempt.provider.clone(),
            payment_id: created.provider_payment_id,
            cashier_url: created.cashier_url,
        })
    }

    /// The rail of a payment method the buyer chose (none: the default rail). With no
    /// rail configured at all, the order is taken and then cancelled for want of a
    /// cashier, as when the rail is down (`none` names no rail).
    fn rail_for_method(&self, method: Option<&str>) -> AppResult<(&'static str, Option<&'static str>)> {
        match self.rails.for_method(method) {
            Some(rail) => {
                let methods = rail.methods();
                let chosen = match method {
                    Some(m) => methods.into_iter().find(|x| *x == m),
                    None => methods.first().copied(),
                };
                Ok((rail.name(), chosen))
            }
            None if method.is_none() => Ok(("none", None)),
            None => Err(AppError::invalid(
                "payment_method",
                format!("one of: {}", self.rails.methods().join(", ")),
            )),
        }
    }

    /// Cancels an order nobody can pay (retried whole if the database aborts it).
    async fn cancel_unpaid(&self, id: &OrderId, reason: &str) -> AppResult<()> {
        self.retrying(|| self.cancel_unpaid_once(id, reason)).await
    }

    async fn cancel_unpaid_once(&self, id: &OrderId, reason: &str) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(mut order) = tx.order(id, true).await? else {
            return Ok(());
        };
        if order.status == OrderStatus::PendingPayment {
            let rules = self.rules_version(&mut tx, order.rule_version).await?;
            self.apply_event(&mut tx, &mut order, OrderEvent::Cancelled, &rules, now)
                .await?;
            record_event(&mut tx, id, "cancelled", serde_json::json!({"reason": reason}), now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The buyer cancels an order they have not paid; the stock goes back at once
    /// (retried whole if the database aborts it).
    pub async fn cancel(&self, caller: &Caller, id: &str) -> AppResult<OrderView> {
        self.retrying(|| self.cancel_once(caller, id)).await
    }

    async fn cancel_once(&self, caller: &Caller, id: &str) -> AppResult<OrderView> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (mut order, rules) = self.order_as(&mut tx, caller, id, Party::Buyer).await?;
        let party = Party::Buyer;
        self.apply_event(&mut tx, &mut order, OrderEvent::Cancelled, &rules, now)
            .await?;
        record_event(
            &mut tx,
            &order.id,
            "cancelled",
            serde_json::json!({"reason": "buyer"}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(order_view(order, party, None, Vec::new()))
    }

    /// A fresh payment attempt for an unpaid order (the buyer reopens the cashier).
    pub async fn new_payment_attempt(&self, caller: &Caller, id: &str) -> AppResult<PaymentInfo> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (order, party) = self.order_for(&mut tx, caller, id, true).await?;
        if party != Party::Buyer {
            return Err(AppError::NotFound("order"));
        }
        if order.status != OrderStatus::PendingPayment {
            return Err(Refusal::NoPaymentExpected { status: order.status }.into());
        }
        if risk::awaiting_confirmation(tx.order_risk(&order.id).await?.as_ref()) {
            return Err(Refusal::RiskConfirmationRequired.into());
        }
        // Each attempt adds state at the gateway and four active-query jobs.
        if tx.count_payment_attempts(&order.id).await? >= PAYMENT_ATTEMPTS_PER_ORDER_MAX {
            return Err(Refusal::TooManyPaymentAttempts {
                max: PAYMENT_ATTEMPTS_PER_ORDER_MAX,
            }
            .into());
        }
        let rules = self.rules_version(&mut tx, order.rule_version).await?;
        // The buyer chose a rail at checkout: a new cashier is of the same rail.
        let (rail, method) = match tx.payment_attempt_for_order(&order.id).await? {
            Some(last) => (last.provider, last.method),
            None => {
                let (rail, method) = self.rail_for_method(None)?;
                (rail.to_string(), method.map(str::to_string))
            }
        };
        let attempt = self
            .new_attempt(&mut tx, &order, (&rail, method.as_deref()), &rules, now)
            .await?;
        let product = tx
            .product(&order.product_id, false)
            .await?
            .ok_or(AppError::NotFound("product"))?;
        tx.commit().await?;
        self.start_payment(&order, &attempt, &product.title).await
    }

    /// 查单: a guest proves who they are with contact + query password and gets the
    /// order's access token. Every failure looks the same, so nothing can be probed.
    /// Limited per address and contact; after repeated wrong guesses the order is locked
    /// (stored, so the lock holds across restarts and processes), the right password too.
    pub async fn lookup_guest_order(
        &self,
        origin: &Origin,
        order_id: &str,
        contact: &str,
        password: &str,
    ) -> AppResult<String> {
        let not_found = || AppError::NotFound("order");
        self.guard.admit(Action::Lookup, origin, &normalise_contact(contact))?;
        if password.len() > QUERY_PASSWORD_LEN_MAX {
            return Err(not_found());
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let order = find_order(&mut tx, order_id, false).await?;
        let lock = match &order {
            Some(o) => tx.query_password_lock(&o.id).await?,
            None => None,
        };
        tx.commit().await?;
        let Some(order) = order else { return Err(not_found()) };
        let id = order.id.clone();
        let (Some(c), Some(hash)) = (order.guest_contact.as_deref(), order.guest_password_hash.clone()) else {
            return Err(not_found());
        };
        QueryPasswordLock::check(lock.as_ref(), now)?;
        let contact_ok = normalise_contact(c) == normalise_contact(contact);
        let password_ok = self.verify_password(password.to_string(), hash).await?;
        if contact_ok && password_ok {
            if lock.is_some() {
                // The right password: earlier mistakes are forgiven.
                let mut tx = self.store.begin().await?;
                tx.clear_query_password_lock(&id).await?;
                tx.commit().await?;
            }
            return Ok(self.vault.order_access_token(id.as_str()));
        }
        // Read again (under its row lock on PostgreSQL): concurrent guesses each count. The
        // lock follows today's rules: it protects the order now, whatever it was bought under.
        let mut tx = self.store.begin().await?;
        let current = tx.query_password_lock(&id).await?;
        let next = QueryPasswordLock::after_failure(current.as_ref(), self.now(), &self.current_rules().limits);
        tx.set_query_password_lock(&id, &next).await?;
        tx.commit().await?;
        Err(not_found())
    }

    /// 查单 without an order number: the guest's orders whose contact matches (normalised:
    /// "QQ10086123" finds "qq 10086123") and whose query password verifies, newest first,
    /// each with its access token. Limited like `lookup_guest_order`. No contact, a wrong
    /// password and locked orders all give the same empty answer, and every call spends
    /// the same `LOOKUP_CANDIDATES_MAX` verifications (padded with a dummy hash), so
    /// neither the answer nor its time tells whether a contact has bought here. A lookup
    /// that matches nothing counts as a wrong guess on each candidate (the per-order lock).
    pub async fn lookup_guest_orders(
        &self,
        origin: &Origin,
        contact: &str,
        password: &str,
    ) -> AppResult<Vec<(OrderView, String)>> {
        let contact = normalise_contact(contact);
        self.guard.admit(Action::Lookup, origin, &contact)?;
        if password.len() > QUERY_PASSWORD_LEN_MAX || contact.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let limit = i64::try_from(LOOKUP_CANDIDATES_MAX).unwrap_or(i64::MAX);
        let mut tx = self.store.begin().await?;
        let mut candidates = Vec::new();
        for order in tx.guest_orders_by_contact(&contact, limit).await? {
            let lock = tx.query_password_lock(&order.id).await?;
            candidates.push((order, lock));
        }
        tx.commit().await?;
        let mut found = Vec::new();
        let mut guessed = Vec::new();
        for i in 0..LOOKUP_CANDIDATES_MAX {
            let candidate = candidates.get(i);
            let hash = candidate
                .and_then(|(o, _)| o.guest_password_hash.clone())
                .unwrap_or_else(|| crate::auth::DUMMY_HASH.to_string());
            let verified = self.verify_password(password.to_string(), hash).await?;
            let Some((order, lock)) = candidate else { continue };
            // A locked order stays shut, the right password too, until its lock runs out.
            if QueryPasswordLock::check(lock.as_ref(), now).is_err() {
                continue;
            }
            if verified && order.guest_password_hash.is_some() {
                found.push((order.clone(), lock.is_some()));
            } else {
                guessed.push(order.id.clone());
            }
        }
        let mut tx = self.store.begin().await?;
        if found.is_empty() {
            for id in &guessed {
                let current = tx.query_password_lock(id).await?;
                let next = QueryPasswordLock::after_failure(current.as_ref(), now, &self.current_rules().limits);
                tx.set_query_password_lock(id, &next).await?;
            }
        }
        let mut items = Vec::new();
        for (order, was_locked) in found {
            if was_locked {
                // The right password: earlier mistakes are forgiven.
                tx.clear_query_password_lock(&order.id).await?;
            }
            let token = self.vault.order_access_token(order.id.as_str());
            let attempt = tx.payment_attempt_for_order(&order.id).await?;
            items.push((order_view(order, Party::Buyer, attempt, Vec::new()), token));
        }
        tx.commit().await?;
        Ok(items)
    }

    /// Refuses an order that would make its buyer (or its address) hold more stock unpaid
    /// than the caps allow (issue 8 item 8), in the order's transaction, after the order
    /// itself was written (its `quantity` is taken out of every sum).
    #[expect(
        clippy::too_many_arguments,
        reason = "the counts of one checkout, read in its transaction"
    )]
    async fn check_hold(
        &self,
        tx: &mut Tx,
        rules: &RuleSet,
        product: &danbao_store::ProductRow,
        buyer: Option<&User>,
        buyer_key: &str,
        address: Option<&str>,
        quantity: i64,
    ) -> AppResult<()> {
        let (holder, who) = match buyer {
            Some(b) => (Holder::Account, HoldKey::Buyer(&b.id)),
            None => (Holder::Contact, HoldKey::Contact(buyer_key)),
        };
        // The order being placed is written already, and counted in each sum: held is
        // what the others hold.
        let others = |units: i64| units.saturating_sub(quantity).max(0);
        let held = Holdings {
            buyer: others(tx.unpaid_units(who, None).await?),
            buyer_of_product: others(tx.unpaid_units(who, Some(&product.id)).await?),
            address: match address {
                Some(a) => others(tx.unpaid_units(HoldKey::Address(a), None).await?),
                None => 0,
            },
            product: others(tx.unpaid_units(HoldKey::Everyone, Some(&product.id)).await?),
            product_free: product.stock,
        };
        let address_max = address.map(|_| self.guard.limits().unpaid_units_per_address_max);
        check_hold(&held, quantity, holder, address_max, &rules.limits)?;
        Ok(())
    }

    // ---- reading orders ----

    fn party(&self, caller: &Caller, order: &OrderRow) -> Option<Party> {
        match caller {
            Caller::User(u) if order.buyer_id.as_ref() == Some(&u.id) => Some(Party::Buyer),
            Caller::User(u) if order.seller_id == u.id => Some(Party::Seller),
            Caller::GuestToken(t)
                if order.buyer_id.is_none() && self.vault.check_order_access_token(order.id.as_str(), t) =>
            {
                Some(Party::Buyer)
            }
            _ => None,
        }
    }

    /// Loads an order the caller is a party to; anyone else gets "not found", so ids
    /// cannot be probed.
    pub(crate) async fn order_for(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        id: &str,
        lock: bool,
    ) -> AppResult<(OrderRow, Party)> {
        let order = find_order(tx, id, lock).await?.ok_or(AppError::NotFound("order"))?;
        let party = self.party(caller, &order).ok_or(AppError::NotFound("order"))?;
        Ok((order, party))
    }

    /// Locks an order in the lock order (ARCHITECTURE.md): its seller's standing first,
    /// then the order. The seller is read without a lock (an order's seller never
    /// changes); the order is read again under its lock.
    pub(crate) async fn lock_order(&self, tx: &mut Tx, id: &OrderId) -> AppResult<Option<OrderRow>> {
        let Some(seen) = tx.order(id, false).await? else {
            return Ok(None);
        };
        self.lock_standing(tx, &seen.seller_id).await?;
        Ok(tx.order(id, true).await?)
    }

    /// Loads and locks (standing, then order) an order for an action only `party` may
    /// take, with its rule set. Who may act is checked before any lock is taken.
    async fn order_as(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        id: &str,
        party: Party,
    ) -> AppResult<(OrderRow, std::sync::Arc<RuleSet>)> {
        let (seen, is) = self.order_for(tx, caller, id, false).await?;
        if is != party {
            return Err(AppError::NotFound("order"));
        }
        let order = self
            .lock_order(tx, &seen.id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        let rules = self.rules_version(tx, order.rule_version).await?;
        Ok((order, rules))
    }

    pub async fn order(&self, caller: &Caller, id: &str) -> AppResult<OrderView> {
        let mut tx = self.store.begin_read().await?;
        let (order, party) = self.order_for(&mut tx, caller, id, false).await?;
        let attempt = tx.payment_attempt_for_order(&order.id).await?;
        let refunds = tx.refunds_for_order(&order.id).await?;
        let risk = tx.order_risk(&order.id).await?;
        tx.commit().await?;
        let mut view = order_view(order, party, attempt, refunds);
        if let Some(r) = risk.filter(|_| party == Party::Buyer) {
            let risk = RiskView::from_row(&r);
            if risk.confirmation_required && view.status == OrderStatus::PendingPayment {
                // Paying waits for the second confirmation.
                view.actions.retain(|a| *a != OrderAction::Pay);
                view.actions.insert(0, OrderAction::ConfirmRisk);
            }
            view.risk = Some(risk);
        }
        Ok(view)
    }

    pub async fn orders_of(&self, caller: &Caller) -> AppResult<Vec<OrderView>> {
        let user = caller.user().ok_or(AppError::Unauthenticated)?;
        let mut tx = self.store.begin().await?;
        let (rows, party) = match user.role {
            Role::Seller => (tx.orders_for_seller(&user.id, PAGE_SIZE_MAX).await?, Party::Seller),
            _ => (tx.orders_for_buyer(&user.id, PAGE_SIZE_MAX).await?, Party::Buyer),
        };
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|o| order_view(o, party, None, Vec::new()))
            .collect())
    }

    pub async fn timeline(&self, caller: &Caller, id: &str) -> AppResult<Vec<TimelineEvent>> {
        let mut tx = self.store.begin().await?;
        let (order, _) = self.order_for(&mut tx, caller, id, false).await?;
        let events = tx.order_events(&order.id).await?;
        tx.commit().await?;
        Ok(events.into_iter().map(TimelineEvent::from).collect())
    }

    /// The id of an order the caller is a party to (anyone else: not found).
    pub(crate) async fn visible_order_id(&self, caller: &Caller, id: &str) -> AppResult<OrderId> {
        let mut tx = self.store.begin().await?;
        let (order, _) = self.order_for(&mut tx, caller, id, false).await?;
        tx.commit().await?;
        Ok(order.id)
    }

    /// Shows the delivered goods to the buyer, and records that they were shown: a
    /// reveal is evidence of delivery.
    pub async fn reveal_delivery(&self, caller: &Caller, id: &str) -> AppResult<Vec<DeliveryItem>> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (order, party) = self.order_for(&mut tx, caller, id, true).await?;
        if party != Party::Buyer {
            return Err(AppError::NotFound("order"));
        }
        if !matches!(
            order.status,
            OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Disputed
        ) {
            return Err(Refusal::NothingDelivered { status: order.status }.into());
        }
        let mut items = Vec::new();
        match delivery_kind(&order)? {
            DeliveryKind::CardKey => {
                for k in tx.card_keys_for_order(&order.id).await? {
                    let content = self
                        .vault
                        .decrypt(&k.key_id, &k.nonce, &k.ciphertext)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    items.push(DeliveryItem {
                        kind: "card_key",
                        content,
                        media_type: None,
                        size_bytes: None,
                    });
                }
            }
            DeliveryKind::Manual => {
                items.push(DeliveryItem {
                    kind: "note",
                    content: order.delivery_note.clone().unwrap_or_default(),
                    media_type: None,
                    size_bytes: None,
                });
                if let Some((sha256, media_type, size)) = tx.delivery_file(&order.id).await? {
                    items.push(DeliveryItem {
                        kind: "file",
                        content: sha256,
                        media_type: Some(media_type),
                        size_bytes: Some(size),
                    });
                }
            }
        }
        let viewer = match caller {
            Caller::User(u) => format!("user:{}", u.id),
            _ => "guest".to_string(),
        };
        tx.insert_key_reveal(&order.id, &viewer, now).await?;
        record_event(
            &mut tx,
            &order.id,
            "delivery_revealed",
            serde_json::json!({"viewer": viewer, "items": items.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(items)
    }

    /// The file a manual order was delivered with: for its buyer once the delivery was
    /// revealed (the reveal is the recorded proof of delivery), and for its seller.
    pub async fn delivery_file(&self, caller: &Caller, id: &str) -> AppResult<(Vec<u8>, String)> {
        let mut tx = self.store.begin().await?;
        let (order, party) = self.order_for(&mut tx, caller, id, false).await?;
        if party == Party::Buyer && tx.count_key_reveals(&order.id).await? == 0 {
            return Err(AppError::NotFound("file"));
        }
        let (sha256, media_type, _) = tx.delivery_file(&order.id).await?.ok_or(AppError::NotFound("file"))?;
        tx.commit().await?;
        let store = self.files.as_ref().ok_or(AppError::NotFound("file"))?;
        let bytes = store
            .get(&sha256)
            .map_err(|e| AppError::Internal(e.to_string()))?
            .ok_or(AppError::NotFound("file"))?;
        Ok((bytes, media_type))
    }

    // ---- buyer and seller actions ----

    /// The buyer accepts (retried whole if the database aborts it as a deadlock victim).
    pub async fn confirm(&self, caller: &Caller, id: &str) -> AppResult<OrderView> {
        self.retrying(|| self.confirm_once(caller, id)).await
    }

    async fn confirm_once(&self, caller: &Caller, id: &str) -> AppResult<OrderView> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (mut order, rules) = self.order_as(&mut tx, caller, id, Party::Buyer).await?;
        let party = Party::Buyer;
        self.apply_event(&mut tx, &mut order, OrderEvent::Confirmed, &rules, now)
            .await?;
        record_event(&mut tx, &order.id, "confirmed", serde_json::json!({"by": "buyer"}), now).await?;
        tx.commit().await?;
        Ok(order_view(order, party, None, Vec::new()))
    }

    /// The seller delivers a manual order (retried whole if the database aborts it).
    pub async fn seller_deliver(&self, caller: &Caller, id: &str, note: &str) -> AppResult<OrderView> {
        self.seller_deliver_with_file(caller, id, note, None).await
    }

    /// 发货 with a file beside the note (a recharge receipt, a screenshot). The order is
    /// checked before the file is stored, so nobody fills the disk through an order that
    /// is not theirs to deliver; the file is content-addressed, so a retry stores nothing new.
    pub async fn seller_deliver_with_file(
        &self,
        caller: &Caller,
        id: &str,
        note: &str,
        file: Option<crate::complaints::Attachment>,
    ) -> AppResult<OrderView> {
        require_role(caller, Role::Seller)?;
        check_len("note", note, 1, NOTE_LEN_MAX)?;
        let stored = match file {
            Some(f) => {
                let mut tx = self.store.begin().await?;
                let (order, rules) = self.order_as(&mut tx, caller, id, Party::Seller).await?;
                tx.commit().await?;
                let kind = delivery_kind(&order)?;
                if kind != DeliveryKind::Manual {
                    return Err(Refusal::DeliveredAutomatically.into());
                }
                // The order's own transition decides whether it can be delivered now; the
                // transaction below asks it again.
                transition(order.status, OrderEvent::Delivered, kind, &rules, self.now())?;
                let store = self
                    .files
                    .as_ref()
                    .ok_or(AppError::Forbidden("this server accepts no files"))?;
                Some(store.put(&f.bytes, f.claimed_sha256.as_deref()).map_err(|e| match e {
                    crate::files::FileError::Io(io) => AppError::Internal(io.to_string()),
                    other => AppError::invalid("file", other.to_string()),
                })?)
            }
            None => None,
        };
        self.retrying(|| self.seller_deliver_once(caller, id, note, stored.as_ref()))
            .await
    }

    async fn seller_deliver_once(
        &self,
        caller: &Caller,
        id: &str,
        note: &str,
        file: Option<&crate::files::StoredFile>,
    ) -> AppResult<OrderView> {
        let seller = require_role(caller, Role::Seller)?.clone();
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (mut order, rules) = self.order_as(&mut tx, &Caller::User(seller), id, Party::Seller).await?;
        let party = Party::Seller;
        if delivery_kind(&order)? != DeliveryKind::Manual {
            return Err(Refusal::DeliveredAutomatically.into());
        }
        order.delivery_note = Some(note.to_string());
        self.apply_event(&mut tx, &mut order, OrderEvent::Delivered, &rules, now)
            .await?;
        let mut detail = serde_json::json!({"by": "seller", "content_sha256": sha256_hex(note)});
        if let Some(f) = file {
            let size = i64::try_from(f.size).unwrap_or(i64::MAX);
            tx.insert_delivery_file(&order.id, &f.sha256, &f.media_type, size, now)
                .await?;
            detail["file_sha256"] = serde_json::Value::String(f.sha256.clone());
        }
        record_event(&mut tx, &order.id, "delivered", detail, now).await?;
        tx.commit().await?;
        Ok(order_view(order, party, None, Vec::new()))
    }

    /// The seller declines a paid order rather than deliver it: a full refund, at once
    /// (retried whole if the database aborts it).
    pub async fn seller_decline(&self, caller: &Caller, id: &str, reason: &str) -> AppResult<OrderView> {
        self.retrying(|| self.seller_decline_once(caller, id, reason)).await
    }

    async fn seller_decline_once(&self, caller: &Caller, id: &str, reason: &str) -> AppResult<OrderView> {
        let seller = require_role(caller, Role::Seller)?.clone();
        check_len("reason", reason, 1, NOTE_LEN_MAX)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (mut order, rules) = self.order_as(&mut tx, &Caller::User(seller), id, Party::Seller).await?;
        let party = Party::Seller;
        record_event(
            &mut tx,
            &order.id,
            "declined_by_seller",
            // The reason is for the buyer to read on their order page.
            serde_json::json!({"seller_reason": reason}),
            now,
        )
        .await?;
        self.apply_event(&mut tx, &mut order, OrderEvent::SellerDeclined, &rules, now)
            .await?;
        tx.commit().await?;
        Ok(order_view(order, party, None, Vec::new()))
    }

    /// Runs the order's one transition function and carries out its effects.
    pub(crate) async fn apply_event(
        &self,
        tx: &mut Tx,
        order: &mut OrderRow,
        event: OrderEvent,
        rules: &RuleSet,
        now: i64,
    ) -> AppResult<()> {
        let kind = delivery_kind(order)?;
        let (next, effects) = transition(order.status, event, kind, rules, now)?;
        order.status = next;
        order.updated_at = now;
        let mut follow_up = None;
        for effect in effects {
            match effect {
                Effect::ReleaseStock => {
                    if kind == DeliveryKind::CardKey {
                        tx.release_stock(&order.product_id, order.quantity).await?;
                    }
                }
                Effect::AllocateKeys => {
                    let keys = tx
                        .allocate_card_keys(&order.product_id, &order.id, order.quantity, now)
                        .await?;
                    follow_up = Some(if keys.is_empty() {
                        OrderEvent::FulfilmentFailed
                    } else {
                        let hashes: Vec<&str> = keys.iter().map(|k| k.content_hash.as_str()).collect();
                        record_event(
                            tx,
                            &order.id,
                            "delivered",
                            serde_json::json!({"by": "system", "content_sha256": hashes}),
                            now,
                        )
                        .await?;
                        OrderEvent::Delivered
                    });
                }
                Effect::ScheduleDeliveryDeadline { at } => {
                    order.deliver_by = Some(at);
                    Job::DeliveryDeadline(order.id.clone()).enqueue_at(tx, at, now).await?;
                    // When the buyer may escalate (not_delivered opens), the seller is
                    // reminded; past the deadline itself the order is refunded anyway.
                    let remind_at = order
                        .paid_at
                        .unwrap_or(now)
                        .saturating_add(rules.not_delivered_after_ms());
                    if remind_at < at {
                        Job::DeliveryReminder(order.id.clone())
                            .enqueue(tx, remind_at, now)
                            .await?;
                    }
                }
                Effect::ScheduleAutoConfirm { at } => {
                    // Set on delivery; a withdrawn complaint resuming the window keeps it.
                    order.delivered_at.get_or_insert(now);
                    order.auto_confirm_at = Some(at);
                    Job::AutoConfirm(order.id.clone()).enqueue_at(tx, at, now).await?;
                }
                Effect::ReleaseEscrowToSeller => {
                    let fee_bps = rules.fee_bps(&order.category);
                    let amount = order.amount;
                    // The seller's part goes to their reserve, withdrawable when the longest
                    // after-sales window has passed (a frozen seller's is held then).
                    let entry = posting::release(&order.id, &order.seller_id, amount, fee_bps)?;
                    tx.post_entry(&entry, now).await?;
                    self.schedule_reserve_release(tx, &order.id, now, rules.reserve_ms(), now)
                        .await?;
                    order.completed_at = Some(now);
                    record_event(
                        tx,
                        &order.id,
                        "completed",
                        serde_json::json!({"fee_bps": fee_bps, "released_minor": order.amount.minor()}),
                        now,
                    )
                    .await?;
                }
                Effect::RefundEscrowInFull => {
                    self.refund_escrow(tx, order, now).await?;
                }
            }
        }
        tx.update_order(order).await?;
        if let Some(next_event) = follow_up {
            Box::pin(self.apply_event(tx, order, next_event, rules, now)).await?;
        }
        Ok(())
    }

    async fn refund_escrow(&self, tx: &mut Tx, order: &OrderRow, now: i64) -> AppResult<()> {
        let payments = tx.payments_for_order(&order.id).await?;
        let payment = payments
            .iter()
            .find(|p| p.outcome == "received" || p.outcome.starts_with("captured"))
            .ok_or_else(|| {
                AppError::Internal(format!("order {} holds escrow but has no captured payment", order.id))
            })?;
        let refund_id = RefundId::generate();
        let entry =
            posting::refund_from_escrow(&order.id, &refund_id, &order.seller_id, &payment.provider, order.amount)?;
        tx.post_entry(&entry, now).await?;
        tx.insert_refund(&RefundRow {
            id: refund_id.to_string(),
            order_id: Some(order.id.to_string()),
            payment_id: payment.id.clone(),
            provider: payment.provider.clone(),
            provider_payment_id: payment.provider_payment_id.clone(),
            amount: order.amount,
            reason: "order_refunded".into(),
            status: "requested".into(),
            created_at: now,
            confirmed_at: None,
        })
        .await?;
        Job::Refund(refund_id.clone()).enqueue(tx, now, now).await?;
        record_event(
            tx,
            &order.id,
            "refund_requested",
            serde_json::json!({"refund_id": refund_id.as_str(), "amount_minor": order.amount.minor()}),
            now,
        )
        .await?;
        Ok(())
    }
}

fn validate_delivery_fields(
    product: &ProductRow,
    given: &BTreeMap<String, String>,
) -> AppResult<BTreeMap<String, String>> {
    let wanted: Vec<String> = serde_json::from_str(&product.manual_fields).unwrap_or_default();
    let mut out = BTreeMap::new();
    for name in &wanted {
        let value = given.get(name).map(|v| v.trim()).unwrap_or("");
        if value.is_empty() {
            return Err(AppError::invalid(
                "delivery_fields",
                crate::Invalid::Required { name: name.clone() },
            ));
        }
        check_len("delivery_fields", value, 1, FIELD_VALUE_LEN_MAX)?;
        out.insert(name.clone(), value.to_string());
    }
    if let Some(extra) = given.keys().find(|k| !wanted.contains(k)) {
        return Err(AppError::invalid(
            "delivery_fields",
            crate::Invalid::NotAField { name: extra.clone() },
        ));
    }
    Ok(out)
}

/// The order as an operator sees it (the seller's view, with the delivery note).
/// An order by its id or by its order number; `None` for anything else.
async fn find_order(tx: &mut Tx, id_or_number: &str, lock: bool) -> AppResult<Option<OrderRow>> {
    let text = id_or_number.trim();
    if let Some(id) = OrderId::parse(text) {
        return Ok(tx.order(&id, lock).await?);
    }
    let number = text.to_ascii_uppercase();
    if !looks_like_order_number(&number) {
        return Ok(None);
    }
    let Some(seen) = tx.order_by_number(&number).await? else {
        return Ok(None);
    };
    // Found by number, read again by id so that a lock is taken the usual way.
    if lock {
        return Ok(tx.order(&seen.id, true).await?);
    }
    Ok(Some(seen))
}

/// `DB` + eight digits + `-` + letters and digits (five for new orders, the UUID's hex
/// for those from before order numbers): cheap to check before asking the database.
fn looks_like_order_number(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("DB") else {
        return false;
    };
    let Some((date, suffix)) = rest.split_once('-') else {
        return false;
    };
    date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && (1..=32).contains(&suffix.len())
        && suffix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A new order number for an order placed at `now_ms`: the date in China time and five
/// random characters of `ORDER_NUMBER_ALPHABET`.
fn draw_order_number(now_ms: i64) -> String {
    use rand::Rng;
    let day = time::OffsetDateTime::from_unix_timestamp(now_ms.saturating_add(CHINA_OFFSET_MS).div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    let mut rng = rand::thread_rng();
    let suffix: String = (0..ORDER_NUMBER_RANDOM_LEN)
        .map(|_| char::from(ORDER_NUMBER_ALPHABET[rng.gen_range(0..ORDER_NUMBER_ALPHABET.len())]))
        .collect();
    format!(
        "DB{:04}{:02}{:02}-{suffix}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// An order number no order has yet, drawn again on a collision. (Two checkouts drawing
/// the same free number at the same instant meet the unique index instead.)
async fn free_order_number(tx: &mut Tx, now_ms: i64) -> AppResult<String> {
    for _ in 0..ORDER_NUMBER_DRAWS_MAX {
        let number = draw_order_number(now_ms);
        if tx.order_by_number(&number).await?.is_none() {
            return Ok(number);
        }
    }
    Err(AppError::Internal("no free order number after several draws".into()))
}

pub(crate) fn admin_order_view(o: OrderRow, attempt: Option<PaymentAttemptRow>, refunds: Vec<RefundRow>) -> OrderView {
    let mut v = order_view(o, Party::Seller, attempt, refunds);
    v.viewer = "admin";
    v.actions.clear();
    v
}

pub(crate) fn order_view(
    o: OrderRow,
    party: Party,
    attempt: Option<PaymentAttemptRow>,
    refunds: Vec<RefundRow>,
) -> OrderView {
    let opt = |t: Option<i64>| t.map(rfc3339);
    let kind = DeliveryKind::parse(&o.delivery_kind);
    let actions = kind.map_or_else(Vec::new, |k| danbao_domain::order::actions(o.status, k, party));
    let complaint_kinds = match (kind, actions.contains(&OrderAction::Complain)) {
        (Some(delivery_kind), true) => danbao_domain::complaint::offered_kinds(&danbao_domain::complaint::OrderFacts {
            status: o.status,
            delivery_kind,
            paid_at: o.paid_at,
            delivered_at: o.delivered_at,
            completed_at: o.completed_at,
        }),
        _ => Vec::new(),
    };
    OrderView {
        actions,
        complaint_kinds,
        id: o.id.to_string(),
        number: o.number,
        status: o.status,
        status_label: o.status.label_zh().to_string(),
        product_id: o.product_id.to_string(),
        seller_id: o.seller_id.to_string(),
        quantity: o.quantity,
        unit_price_minor: o.unit_price.minor(),
        amount_minor: o.amount.minor(),
        currency: o.currency,
        delivery_kind: o.delivery_kind,
        rule_version: o.rule_version,
        viewer: match party {
            Party::Buyer => "buyer",
            Party::Seller => "seller",
        },
        guest: o.buyer_id.is_none(),
        delivery_fields: serde_json::from_str(&o.delivery_fields).unwrap_or_default(),
        contact: o.guest_contact,
        // The note is the delivered goods: the buyer sees it through the recorded reveal.
        delivery_note: match party {
            Party::Seller => o.delivery_note,
            Party::Buyer => None,
        },
        created_at: rfc3339(o.created_at),
        expires_at: rfc3339(o.expires_at),
        paid_at: opt(o.paid_at),
        deliver_by: opt(o.deliver_by),
        delivered_at: opt(o.delivered_at),
        auto_confirm_at: opt(o.auto_confirm_at),
        completed_at: opt(o.completed_at),
        // The payment id and cashier open the buyer's payment at the gateway: only the
        // buyer sees them, never the seller or an operator.
        payment: attempt.filter(|_| party == Party::Buyer).and_then(|a| {
            Some(PaymentInfo {
                provider: a.provider,
                payment_id: a.provider_payment_id?,
                cashier_url: a.cashier_url?,
            })
        }),
        refunds: refunds
            .into_iter()
            .map(|r| RefundView {
                id: r.id,
                amount_minor: r.amount.minor(),
                reason: r.reason,
                status: r.status,
                created_at: rfc3339(r.created_at),
                confirmed_at: r.confirmed_at.map(rfc3339),
            })
            .collect(),
        risk: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_short_readable_and_dated_in_china_time() {
        // 2026-11-30 17:00 UTC is already 1 December in Shanghai.
        let at = 1_796_058_000_000;
        let n = draw_order_number(at);
        assert!(n.starts_with("DB20261201-"), "{n}");
        assert_eq!(n.len(), "DB20261201-7K3Q9".len());
        assert!(n[11..].bytes().all(|b| ORDER_NUMBER_ALPHABET.contains(&b)));
        assert!(looks_like_order_number(&n));
        assert!(looks_like_order_number("DB20261130-0190A1B2C3D4E5F60718293A4B5C6D7E"));
        assert!(!looks_like_order_number("DB2026113-7K3Q9"));
        assert!(!looks_like_order_number("DB20261130-7k3q9"));
        assert!(!looks_like_order_number("XX20261130-7K3Q9"));
        assert!(!looks_like_order_number("DB20261130-"));
    }
}
