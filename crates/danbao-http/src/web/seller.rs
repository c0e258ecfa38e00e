//! The seller back office (`/seller`): dashboard, products and card keys, orders (the
//! manual order's 发货 and 拒单), complaints, money (deposit, withdrawals, statement and
//! its CSV). Every page is the seller's own (`staff::console_user`); each form calls one
//! use case and comes back to its page with what happened.

use super::error::{PageError, Text};
use super::forms::{multipart_token_first, PageContext};
use super::i18n::Lang;
use super::labels::{complaint_kind, complaint_stage, kind_label, order_status, standing};
use super::seller_words::{self, Words};
use super::staff::{console_user, ConsoleNav};
use super::{private_headers, valid_id, yuan, TimeView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use danbao_app::backoffice::{seller_date, seller_day_of, OrderFilter, SellerDashboard};
use danbao_app::{App, AppError, Caller, NewProduct, OrderView, ProductEdit, ProductView, Role, User};
use danbao_domain::order::OrderAction;
use danbao_domain::{Money, OrderStatus};
use serde::Deserialize;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/seller", get(dashboard))
        .route("/seller/products", get(products_page).post(create_product))
        .route("/seller/products/{id}", get(product_page).post(edit_product))
        .route("/seller/products/{id}/keys", post(import_keys_pasted))
        .route(
            "/seller/products/{id}/keys/file",
            post(import_keys_file).layer(axum::extract::DefaultBodyLimit::max(KEY_FILE_MAX_BYTES)),
        )
        .route("/seller/products/{id}/keys/{key}/remove", post(remove_key))
        .route("/seller/orders", get(orders_page))
        .route("/seller/orders/{id}", get(order_page))
        .route(
            "/seller/orders/{id}/deliver",
            post(deliver).layer(axum::extract::DefaultBodyLimit::max(DELIVERY_FORM_MAX_BYTES)),
        )
        .route("/seller/orders/{id}/decline", post(decline))
        .route("/seller/complaints", get(complaints_page))
        .route("/seller/money", get(money_page))
        .route("/seller/money/deposit", post(deposit))
        .route("/seller/money/deposit/pay", post(pay_deposit))
        .route("/seller/money/deposit/release", post(release_deposit))
        .route("/seller/money/withdraw", post(withdraw))
        .route("/seller/money/statement.csv", get(statement_csv))
}

/// A key file: 50,000 keys of 40 characters and their line ends fit with room to spare.
const KEY_FILE_MAX_BYTES: usize = 4 * 1024 * 1024;
/// A delivery: its note and one file of at most the evidence file limit.
const DELIVERY_FORM_MAX_BYTES: usize = danbao_app::files::FILE_BYTES_MAX + 64 * 1024;
/// The statement's default period: the last 30 days.
const STATEMENT_DEFAULT_DAYS: i64 = 30;

struct Seller {
    caller: Caller,
    nav: ConsoleNav,
}

impl Seller {
    fn lang(&self) -> Lang {
        self.nav.lang()
    }

    /// The console's words in the viewer's language.
    fn words(&self) -> &'static Words {
        seller_words::of(self.lang())
    }
}

/// An error whose message is one of the console's words, in the viewer's language.
fn says(status: StatusCode, word: fn(&Words) -> &'static str) -> PageError {
    PageError::new(status, Text::by(move |w| word(seller_words::of(w.lang)).to_string()))
}

async fn seller(app: &App, headers: &HeaderMap, page: &PageContext, here: &str) -> Result<Seller, PageError> {
    let user: User = console_user(app, headers, Role::Seller).await?;
    Ok(Seller {
        nav: ConsoleNav::new(&user, here, page),
        caller: Caller::User(user),
    })
}

fn render(page: impl IntoResponse) -> Response {
    (private_headers(), page).into_response()
}

/// What a form left behind to show on the page it returns to.
#[derive(Default)]
struct Flash {
    note: Option<String>,
    error: Option<String>,
}

impl Flash {
    /// The error's message in the page's language (`l`).
    fn error(e: PageError, l: Lang) -> Result<Flash, PageError> {
        // A refusal or a bad field is shown on the page; a failure is a failure.
        if e.status.is_server_error() || e.status == StatusCode::NOT_FOUND || e.status == StatusCode::FORBIDDEN {
            return Err(e);
        }
        Ok(Flash {
            note: None,
            error: Some(e.message_in(l.words())),
        })
    }

    fn note(text: impl Into<String>) -> Flash {
        Flash {
            note: Some(text.into()),
            error: None,
        }
    }
}

/// An amount typed in yuan ("12", "12.5", "12.50") as fen; none if it is not one.
fn parse_yuan(text: &str) -> Option<i64> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fen: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(fen)
}

fn bad_amount() -> PageError {
    says(StatusCode::UNPROCESSABLE_ENTITY, |s| s.bad_amount)
}

// ---- dashboard ----

struct Figure {
    label: &'static str,
    value: String,
}

struct Bar {
    x: i64,
    y: i64,
    height: i64,
    title: String,
}

struct OrderLine {
    id: String,
    short_id: String,
    status_label: &'static str,
    amount: String,
    quantity: i64,
    kind_label: &'static str,
    contact: String,
    created_at: TimeView,
    deliver_by: Option<TimeView>,
}

impl OrderLine {
    fn new(o: &OrderView, l: Lang) -> OrderLine {
        OrderLine {
            id: o.id.clone(),
            short_id: o.id.chars().take(8).collect(),
            status_label: order_status(l, o.status),
            amount: yuan(o.amount_minor),
            quantity: o.quantity,
            kind_label: kind_label(l, &o.delivery_kind),
            contact: o.contact.clone().unwrap_or_default(),
            created_at: TimeView::new(&o.created_at),
            deliver_by: o.deliver_by.as_deref().map(TimeView::new),
        }
    }
}

struct ComplaintItem {
    id: String,
    order_id: String,
    kind: String,
    stage: String,
    amount: String,
    deadline: Option<TimeView>,
    created_at: TimeView,
    open: bool,
}

impl ComplaintItem {
    fn new(c: &danbao_app::backoffice::ComplaintLine, l: Lang) -> ComplaintItem {
        ComplaintItem {
            id: c.id.clone(),
            order_id: c.order_id.clone(),
            kind: complaint_kind(l, &c.kind),
            stage: complaint_stage(l, &c.stage),
            amount: yuan(c.amount_minor),
            deadline: c.deadline_at.as_deref().map(TimeView::new),
            created_at: TimeView::new(&c.created_at),
            open: c.open,
        }
    }
}

struct LowStock {
    id: String,
    title: String,
    stock: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/dashboard.html")]
struct DashboardPage {
    nav: ConsoleNav,
    s: &'static Words,
    standing_label: &'static str,
    frozen: bool,
    sales: Vec<Figure>,
    balances: Vec<Figure>,
    bars: Vec<Bar>,
    chart_max: String,
    chart_from: String,
    chart_to: String,
    awaiting: Vec<OrderLine>,
    complaints: Vec<ComplaintItem>,
    low_stock: Vec<LowStock>,
}

/// The chart's drawing box: 30 bars of 18 px in a 600 × 160 view box.
const CHART_W: i64 = 600;
const CHART_H: i64 = 140;

fn bars(d: &SellerDashboard, s: &Words) -> (Vec<Bar>, i64) {
    let max = d.daily.iter().map(|x| x.amount.minor()).max().unwrap_or(0).max(1);
    let step = CHART_W / d.daily.len().max(1) as i64;
    let bars = d
        .daily
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let height = (x.amount.minor() * CHART_H / max).max(if x.amount.minor() > 0 { 2 } else { 0 });
            Bar {
                x: i as i64 * step + 2,
                y: CHART_H - height,
                height,
                title: s.chart_bar(seller_date(x.day), x.orders, yuan(x.amount.minor())),
            }
        })
        .collect();
    (bars, max)
}

fn balance_figures(b: &danbao_app::money::BalanceView, s: &'static Words) -> Vec<Figure> {
    vec![
        Figure {
            label: s.bal_escrow,
            value: yuan(b.escrow_minor),
        },
        Figure {
            label: s.bal_available,
            value: yuan(b.available_minor),
        },
        Figure {
            label: s.bal_reserved,
            value: yuan(b.reserved_minor),
        },
        Figure {
            label: s.bal_frozen,
            value: yuan(b.frozen_minor),
        },
        Figure {
            label: s.bal_deposit,
            value: yuan(b.deposit_minor),
        },
        Figure {
            label: s.bal_owed,
            value: yuan(b.owed_minor),
        },
    ]
}

async fn dashboard(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let seller = seller(&app, &headers, &page, "/seller").await?;
    let (s, l) = (seller.words(), seller.lang());
    let d = app.seller_dashboard(&seller.caller).await?;
    let (chart, max) = bars(&d, s);
    let html = DashboardPage {
        s,
        standing_label: standing(l, d.balance.standing),
        frozen: !d.balance.standing.is_active(),
        sales: vec![
            Figure {
                label: s.sales_today,
                value: format!("¥{}", yuan(d.today.amount.minor())),
            },
            Figure {
                label: s.orders_today,
                value: d.today.orders.to_string(),
            },
            Figure {
                label: s.sales_30_days,
                value: format!("¥{}", yuan(d.last_30_days_minor)),
            },
            Figure {
                label: s.orders_30_days,
                value: d.last_30_days_orders.to_string(),
            },
        ],
        balances: balance_figures(&d.balance, s),
        bars: chart,
        chart_max: yuan(max),
        chart_from: d.daily.first().map(|x| seller_date(x.day)).unwrap_or_default(),
        chart_to: d.daily.last().map(|x| seller_date(x.day)).unwrap_or_default(),
        awaiting: d.awaiting_delivery.iter().map(|o| OrderLine::new(o, l)).collect(),
        complaints: d.open_complaints.iter().map(|c| ComplaintItem::new(c, l)).collect(),
        low_stock: d
            .low_stock
            .iter()
            .map(|p| LowStock {
                id: p.id.clone(),
                title: p.title.clone(),
                stock: p.stock.unwrap_or(0),
            })
            .collect(),
        nav: seller.nav,
    };
    Ok(render(html))
}

// ---- products and card keys ----

struct ProductLine {
    id: String,
    title: String,
    category: String,
    price: String,
    kind_label: &'static str,
    status_label: &'static str,
    stock: Option<i64>,
    low: bool,
}

impl ProductLine {
    fn new(p: &ProductView, s: &Words) -> ProductLine {
        ProductLine {
            id: p.id.clone(),
            title: p.title.clone(),
            category: p.category.clone(),
            price: yuan(p.price_minor),
            kind_label: kind_label(s.lang, &p.delivery_kind),
            status_label: s.product_status(&p.status),
            stock: p.stock,
            low: p.status == "active" && p.stock.is_some_and(|s| s < danbao_app::backoffice::LOW_STOCK_BELOW),
        }
    }
}

/// The product form, as typed (kept when a submission is refused).
#[derive(Deserialize, Default)]
struct ProductForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    delivery_kind: String,
    /// The manual fields, one per line (or comma-separated).
    #[serde(default)]
    manual_fields: String,
    #[serde(default)]
    status: String,
}

fn field_list(text: &str) -> Vec<String> {
    text.split(['\n', ',', '，'])
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/products.html")]
struct ProductsPage {
    nav: ConsoleNav,
    s: &'static Words,
    products: Vec<ProductLine>,
    form: ProductForm,
    flash: Flash,
}

async fn products_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    render_products(&app, s, ProductForm::default(), Flash::default(), StatusCode::OK).await
}

async fn render_products(
    app: &App,
    s: Seller,
    form: ProductForm,
    flash: Flash,
    status: StatusCode,
) -> Result<Response, PageError> {
    let products = app.seller_products(&s.caller).await?;
    let w = s.words();
    let html = ProductsPage {
        nav: s.nav,
        s: w,
        products: products.iter().map(|p| ProductLine::new(p, w)).collect(),
        form,
        flash,
    };
    Ok((status, render(html)).into_response())
}

async fn create_product(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<ProductForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    let Some(price_minor) = parse_yuan(&form.price) else {
        let flash = Flash::error(bad_amount(), s.lang())?;
        return render_products(&app, s, form, flash, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let new = NewProduct {
        title: form.title.trim().to_string(),
        description: form.description.clone(),
        category: form.category.trim().to_string(),
        price_minor,
        delivery_kind: form.delivery_kind.clone(),
        manual_fields: field_list(&form.manual_fields),
    };
    match app.create_product(&s.caller, new).await {
        Ok(p) => Ok(Redirect::to(&format!("/seller/products/{}", p.id)).into_response()),
        Err(e) => {
            let flash = Flash::error(e.into(), s.lang())?;
            render_products(&app, s, form, flash, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

struct KeyItem {
    id: String,
    masked: String,
    sold: bool,
    order_id: Option<String>,
    imported_at: TimeView,
}

/// What the last import did, shown above the keys.
struct ImportSummary {
    imported: i64,
    duplicates: i64,
    blank_lines: i64,
    repeated_lines: String,
    repeated: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/product.html")]
struct ProductPage {
    nav: ConsoleNav,
    s: &'static Words,
    product: ProductLine,
    is_card_key: bool,
    form: ProductForm,
    keys: Vec<KeyItem>,
    unsold: i64,
    total: i64,
    import: Option<ImportSummary>,
    flash: Flash,
}

async fn render_product(
    app: &App,
    s: Seller,
    id: &str,
    form: Option<ProductForm>,
    import: Option<ImportSummary>,
    flash: Flash,
    status: StatusCode,
) -> Result<Response, PageError> {
    let product = app
        .seller_products(&s.caller)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound("product"))?;
    let is_card_key = product.delivery_kind == "card_key";
    let keys = if is_card_key {
        app.card_keys(&s.caller, id).await?
    } else {
        Vec::new()
    };
    let form = form.unwrap_or_else(|| ProductForm {
        title: product.title.clone(),
        description: product.description.clone(),
        category: product.category.clone(),
        price: yuan(product.price_minor),
        delivery_kind: product.delivery_kind.clone(),
        manual_fields: product.manual_fields.join("\n"),
        status: product.status.clone(),
    });
    let w = s.words();
    let html = ProductPage {
        nav: s.nav,
        s: w,
        product: ProductLine::new(&product, w),
        is_card_key,
        form,
        unsold: keys.iter().filter(|k| !k.sold).count() as i64,
        total: keys.len() as i64,
        keys: keys
            .into_iter()
            .map(|k| KeyItem {
                id: k.id,
                masked: k.masked,
                sold: k.sold,
                order_id: k.order_id,
                imported_at: TimeView::new(&k.imported_at),
            })
            .collect(),
        import,
        flash,
    };
    Ok((status, render(html)).into_response())
}

async fn product_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    render_product(&app, s, &id, None, None, Flash::default(), StatusCode::OK).await
}

async fn edit_product(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ProductForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    let Some(price_minor) = parse_yuan(&form.price) else {
        let flash = Flash::error(bad_amount(), s.lang())?;
        return render_product(&app, s, &id, Some(form), None, flash, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let is_manual = form.delivery_kind == "manual";
    let edit = ProductEdit {
        title: Some(form.title.trim().to_string()),
        description: Some(form.description.clone()),
        category: Some(form.category.trim().to_string()),
        price_minor: Some(price_minor),
        status: Some(form.status.clone()),
        manual_fields: is_manual.then(|| field_list(&form.manual_fields)),
    };
    match app.update_product(&s.caller, &id, edit).await {
        Ok(_) => {
            let saved = Flash::note(s.words().product_saved);
            render_product(&app, s, &id, None, None, saved, StatusCode::OK).await
        }
        Err(e) => {
            let flash = Flash::error(e.into(), s.lang())?;
            render_product(&app, s, &id, Some(form), None, flash, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Deserialize)]
struct KeysForm {
    #[serde(default)]
    keys: String,
}

async fn import_and_render(app: &App, s: Seller, id: &str, text: &str) -> Result<Response, PageError> {
    match app.import_card_keys(&s.caller, id, text).await {
        Ok(r) => {
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            let summary = ImportSummary {
                imported: count(r.imported),
                duplicates: count(r.duplicates),
                blank_lines: count(r.blank_lines),
                repeated: count(r.repeated_lines.len()),
                repeated_lines: r
                    .repeated_lines
                    .iter()
                    .take(50)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(s.words().list_sep),
            };
            render_product(app, s, id, None, Some(summary), Flash::default(), StatusCode::OK).await
        }
        Err(e) => {
            let flash = Flash::error(e.into(), s.lang())?;
            render_product(app, s, id, None, None, flash, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn import_keys_pasted(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<KeysForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    import_and_render(&app, s, &id, &form.keys).await
}

/// A text file of keys, one per line (multipart: the form token first, then `file`).
async fn import_keys_file(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let unreadable = || says(StatusCode::BAD_REQUEST, |s| s.unreadable_form);
    multipart_token_first(&app, &page, &mut multipart).await?;
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    let mut bytes = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        if field.name() == Some("file") {
            bytes = Some(field.bytes().await.map_err(|_| unreadable())?);
        }
    }
    let bytes = bytes.unwrap_or_default();
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let flash = Flash::error(
            says(StatusCode::UNPROCESSABLE_ENTITY, |s| s.key_file_not_text),
            s.lang(),
        )?;
        return render_product(&app, s, &id, None, None, flash, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let text = text.trim_start_matches('\u{feff}').to_string();
    import_and_render(&app, s, &id, &text).await
}

async fn remove_key(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/products").await?;
    let flash = match app.remove_card_key(&s.caller, &id, &key).await {
        Ok(()) => Flash::note(s.words().key_removed),
        Err(AppError::NotFound("card key")) => Flash::error(says(StatusCode::CONFLICT, |s| s.key_gone), s.lang())?,
        Err(e) => Flash::error(e.into(), s.lang())?,
    };
    let status = if flash.error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    render_product(&app, s, &id, None, None, flash, status).await
}

// ---- orders ----

#[derive(Deserialize, Default)]
struct OrdersQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
}

struct StatusOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/orders.html")]
struct OrdersPage {
    nav: ConsoleNav,
    s: &'static Words,
    statuses: Vec<StatusOption>,
    q: String,
    orders: Vec<OrderLine>,
    filtered: bool,
}

async fn orders_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Query(query): Query<OrdersQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/orders").await?;
    let status = OrderStatus::parse(query.status.trim());
    let filter = OrderFilter {
        status,
        search: Some(query.q.clone()),
    };
    let orders = app.seller_orders(&s.caller, &filter).await?;
    let l = s.lang();
    let html = OrdersPage {
        s: s.words(),
        nav: s.nav,
        statuses: OrderStatus::ALL
            .iter()
            .map(|st| StatusOption {
                value: st.as_str(),
                label: order_status(l, *st),
                selected: Some(*st) == status,
            })
            .collect(),
        filtered: status.is_some() || !query.q.trim().is_empty(),
        q: query.q.trim().chars().take(64).collect(),
        orders: orders.iter().map(|o| OrderLine::new(o, l)).collect(),
    };
    Ok(render(html))
}

struct FieldRow {
    label: String,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/order.html")]
struct SellerOrderPage {
    nav: ConsoleNav,
    s: &'static Words,
    order: OrderLine,
    unit_price: String,
    paid_at: Option<TimeView>,
    delivered_at: Option<TimeView>,
    fields: Vec<FieldRow>,
    delivery_note: Option<String>,
    can_deliver: bool,
    can_decline: bool,
    note: String,
    reason: String,
    flash: Flash,
}

#[derive(Deserialize, Default)]
struct DeclineForm {
    #[serde(default)]
    reason: String,
}

async fn render_order(
    app: &App,
    s: Seller,
    id: &str,
    typed: (String, String),
    flash: Flash,
    status: StatusCode,
) -> Result<Response, PageError> {
    if !valid_id(id) {
        return Err(PageError::order_not_found());
    }
    let o = app.order(&s.caller, id).await?;
    let html = SellerOrderPage {
        s: s.words(),
        order: OrderLine::new(&o, s.lang()),
        nav: s.nav,
        unit_price: yuan(o.unit_price_minor),
        paid_at: o.paid_at.as_deref().map(TimeView::new),
        delivered_at: o.delivered_at.as_deref().map(TimeView::new),
        fields: o
            .delivery_fields
            .iter()
            .map(|(k, v)| FieldRow {
                label: k.clone(),
                value: v.clone(),
            })
            .collect(),
        delivery_note: o.delivery_note.clone(),
        can_deliver: o.actions.contains(&OrderAction::Deliver),
        can_decline: o.actions.contains(&OrderAction::Decline),
        note: typed.0,
        reason: typed.1,
        flash,
    };
    Ok((status, render(html)).into_response())
}

async fn order_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/orders").await?;
    render_order(&app, s, &id, Default::default(), Flash::default(), StatusCode::OK).await
}

/// 发货 (multipart: the form token first, then the note and an optional file).
async fn deliver(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let unreadable = || says(StatusCode::BAD_REQUEST, |s| s.unreadable_form);
    multipart_token_first(&app, &page, &mut multipart).await?;
    let s = seller(&app, &headers, &page, "/seller/orders").await?;
    let (mut note, mut file) = (String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("note") => note = field.text().await.map_err(|_| unreadable())?,
            Some("file") => {
                let bytes = field.bytes().await.map_err(|_| unreadable())?;
                // A form whose file input was left empty sends an empty part.
                if !bytes.is_empty() {
                    file = Some(danbao_app::complaints::Attachment {
                        bytes: bytes.to_vec(),
                        claimed_sha256: None,
                    });
                }
            }
            _ => {}
        }
    }
    match app.seller_deliver_with_file(&s.caller, &id, note.trim(), file).await {
        Ok(_) => {
            let done = Flash::note(s.words().delivered);
            render_order(&app, s, &id, Default::default(), done, StatusCode::OK).await
        }
        Err(e) => {
            let flash = Flash::error(e.into(), s.lang())?;
            render_order(&app, s, &id, (note, String::new()), flash, StatusCode::CONFLICT).await
        }
    }
}

async fn decline(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DeclineForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/orders").await?;
    match app.seller_decline(&s.caller, &id, form.reason.trim()).await {
        Ok(_) => {
            let done = Flash::note(s.words().declined);
            render_order(&app, s, &id, Default::default(), done, StatusCode::OK).await
        }
        Err(e) => {
            let flash = Flash::error(e.into(), s.lang())?;
            render_order(&app, s, &id, (String::new(), form.reason), flash, StatusCode::CONFLICT).await
        }
    }
}

// ---- complaints ----

#[derive(Template, WebTemplate)]
#[template(path = "seller/complaints.html")]
struct ComplaintsPage {
    nav: ConsoleNav,
    s: &'static Words,
    complaints: Vec<ComplaintItem>,
}

async fn complaints_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/complaints").await?;
    let lines = app.seller_complaints(&s.caller).await?;
    let html = ComplaintsPage {
        s: s.words(),
        complaints: lines.iter().map(|c| ComplaintItem::new(c, s.lang())).collect(),
        nav: s.nav,
    };
    Ok(render(html))
}

// ---- money ----

struct WithdrawalItem {
    amount: String,
    status: &'static str,
    requested_at: TimeView,
    settled_at: Option<TimeView>,
}

struct StatementItem {
    at: TimeView,
    what: &'static str,
    account: &'static str,
    amount: String,
    order_id: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/money.html")]
struct MoneyPage {
    nav: ConsoleNav,
    s: &'static Words,
    balances: Vec<Figure>,
    deposit_required: String,
    deposit_held: String,
    /// The formula of the rules in force, in words.
    deposit_rule: String,
    deposit_short: bool,
    /// The shortfall, to prefill the cashier form.
    deposit_shortfall: String,
    frozen: bool,
    min_withdrawal: String,
    withdrawals: Vec<WithdrawalItem>,
    from: String,
    to: String,
    statement: Vec<StatementItem>,
    statement_total: String,
    flash: Flash,
}

#[derive(Deserialize, Default)]
struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The statement's period from the form: a from date and a to date (both included), by
/// default the last 30 days up to today.
fn period(app: &App, q: &PeriodQuery) -> Result<(String, String, i64, i64), PageError> {
    let today = seller_date(app.now());
    let to = if q.to.trim().is_empty() {
        today
    } else {
        q.to.trim().to_string()
    };
    let to_ms = seller_day_of(&to).ok_or_else(bad_date)?;
    let from = if q.from.trim().is_empty() {
        seller_date(to_ms - (STATEMENT_DEFAULT_DAYS - 1) * danbao_domain::backoffice::DAY_MS)
    } else {
        q.from.trim().to_string()
    };
    let from_ms = seller_day_of(&from).ok_or_else(bad_date)?;
    if from_ms > to_ms {
        return Err(says(StatusCode::UNPROCESSABLE_ENTITY, |s| s.from_after_to));
    }
    Ok((from, to, from_ms, to_ms + danbao_domain::backoffice::DAY_MS))
}

fn bad_date() -> PageError {
    says(StatusCode::UNPROCESSABLE_ENTITY, |s| s.bad_date)
}

async fn render_money(
    app: &App,
    s: Seller,
    q: &PeriodQuery,
    flash: Flash,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (from, to, from_ms, to_ms) = period(app, q)?;
    let b = app.seller_balance(&s.caller).await?;
    let withdrawals = app.seller_withdrawals(&s.caller).await?;
    let lines = app.seller_statement(&s.caller, from_ms, to_ms).await?;
    let total: i64 = lines.iter().map(|l| l.amount_minor).sum();
    let words = s.words();
    let html = MoneyPage {
        nav: s.nav,
        s: words,
        balances: balance_figures(&b, words),
        deposit_required: yuan(b.deposit_required_minor),
        deposit_held: yuan(b.deposit_minor),
        deposit_rule: {
            let d = &app.current_rules().deposit;
            words.deposit_rule(yuan(d.required_minor), d.volume_share_bps, d.volume_window_days)
        },
        deposit_short: b.deposit_minor < b.deposit_required_minor,
        deposit_shortfall: if b.deposit_minor < b.deposit_required_minor {
            yuan(b.deposit_required_minor - b.deposit_minor)
        } else {
            String::new()
        },
        frozen: !b.standing.is_active(),
        min_withdrawal: yuan(danbao_app::money::WITHDRAWAL_MINOR_MIN),
        withdrawals: withdrawals
            .iter()
            .map(|w| WithdrawalItem {
                amount: yuan(w.amount_minor),
                status: words.withdrawal_status(&w.status),
                requested_at: TimeView::new(&w.requested_at),
                settled_at: w.settled_at.as_deref().map(TimeView::new),
            })
            .collect(),
        from,
        to,
        statement: lines
            .iter()
            .map(|l| StatementItem {
                at: TimeView::new(&l.at),
                what: words.entry_kind(&l.kind),
                account: words.account(&l.account),
                amount: signed_yuan(l.amount_minor),
                order_id: l.order_id.clone(),
            })
            .collect(),
        statement_total: signed_yuan(total),
        flash,
    };
    Ok((status, render(html)).into_response())
}

fn signed_yuan(minor: i64) -> String {
    if minor > 0 {
        format!("+{}", yuan(minor))
    } else if minor < 0 {
        format!("-{}", yuan(-minor))
    } else {
        yuan(0)
    }
}

async fn money_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Query(q): Query<PeriodQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/money").await?;
    render_money(&app, s, &q, Flash::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct AmountForm {
    #[serde(default)]
    amount: String,
}

async fn deposit(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<AmountForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/money").await?;
    let result = match parse_yuan(&form.amount) {
        None => Err(bad_amount()),
        Some(minor) => app.lock_deposit(&s.caller, minor).await.map_err(PageError::from),
    };
    let (flash, status) = match result {
        Ok(_) => (
            Flash::note(s.words().deposited(yuan(parse_yuan(&form.amount).unwrap_or(0)))),
            StatusCode::OK,
        ),
        Err(e) => (Flash::error(e, s.lang())?, StatusCode::UNPROCESSABLE_ENTITY),
    };
    render_money(&app, s, &PeriodQuery::default(), flash, status).await
}

/// Pays into the deposit at the cashier: a redirect to the provider's cashier, whose
/// notification books the money.
async fn pay_deposit(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<AmountForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/money").await?;
    let result = match parse_yuan(&form.amount) {
        None => Err(bad_amount()),
        Some(minor) => app.pay_deposit(&s.caller, minor, None).await.map_err(PageError::from),
    };
    match result {
        Ok(d) => match d.cashier_url {
            Some(url) => Ok(axum::response::Redirect::to(&url).into_response()),
            None => render_money(&app, s, &PeriodQuery::default(), Flash::default(), StatusCode::OK).await,
        },
        Err(e) => {
            let flash = Flash::error(e, s.lang())?;
            render_money(
                &app,
                s,
                &PeriodQuery::default(),
                flash,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn release_deposit(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/money").await?;
    let (flash, status) = match app.release_deposit(&s.caller).await {
        Ok(_) => (Flash::note(s.words().released.to_string()), StatusCode::OK),
        Err(e) => (Flash::error(PageError::from(e), s.lang())?, StatusCode::CONFLICT),
    };
    render_money(&app, s, &PeriodQuery::default(), flash, status).await
}

async fn withdraw(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<AmountForm>,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/money").await?;
    let result = match parse_yuan(&form.amount) {
        None => Err(bad_amount()),
        Some(minor) => app.withdraw(&s.caller, minor).await.map_err(PageError::from),
    };
    let (flash, status) = match result {
        Ok(w) => (
            Flash::note(s.words().withdrawal_requested(yuan(w.amount_minor))),
            StatusCode::OK,
        ),
        Err(e) => (Flash::error(e, s.lang())?, StatusCode::UNPROCESSABLE_ENTITY),
    };
    render_money(&app, s, &PeriodQuery::default(), flash, status).await
}

/// The statement as CSV (UTF-8 with a BOM, so that Excel opens the Chinese right).
async fn statement_csv(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Query(q): Query<PeriodQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let s = seller(&app, &headers, &page, "/seller/money").await?;
    let (from, to, from_ms, to_ms) = period(&app, &q)?;
    let lines = app.seller_statement(&s.caller, from_ms, to_ms).await?;
    let mut csv = String::from("\u{feff}time,entry,account,amount_yuan,order_id\r\n");
    for l in &lines {
        csv.push_str(&format!(
            "{},{},{},{},{}\r\n",
            csv_cell(&l.at),
            csv_cell(&l.kind),
            csv_cell(&l.account),
            Money::from_minor(l.amount_minor),
            csv_cell(l.order_id.as_deref().unwrap_or("")),
        ));
    }
    let disposition = format!("attachment; filename=\"statement-{from}-{to}.csv\"");
    Ok((
        private_headers(),
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

/// A CSV cell: quoted when it needs to be, and never read as a formula by a spreadsheet.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_amounts_are_read_exactly() {
        assert_eq!(parse_yuan("12"), Some(1200));
        assert_eq!(parse_yuan(" 12.5 "), Some(1250));
        assert_eq!(parse_yuan("0.07"), Some(7));
        assert_eq!(parse_yuan("12.345"), None);
        assert_eq!(parse_yuan("-1"), None);
        assert_eq!(parse_yuan("1e3"), None);
        assert_eq!(parse_yuan(""), None);
        assert_eq!(parse_yuan(".5"), None);
        assert_eq!(parse_yuan("99999999999999999"), None);
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn manual_fields_are_read_from_lines_or_commas() {
        assert_eq!(
            field_list("充值账号\n区服， 角色名,\n"),
            vec!["充值账号", "区服", "角色名"]
        );
    }
}
