//! The storefront (`/`): categories by name, a search, product cards with price and
//! stock, as a 发卡 storefront is expected to look; newest first, paged by cursor.

use super::error::PageError;
use super::forms::PageContext;
use super::i18n::Ui;
use super::labels::{category as category_label, kind_label};
use super::yuan;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use danbao_app::{App, ProductView};
use serde::Deserialize;

/// Products per storefront page.
const PAGE_SIZE: i64 = 24;

#[derive(Deserialize, Default)]
pub(super) struct StorefrontQuery {
    cursor: Option<String>,
    #[serde(default)]
    category: String,
    #[serde(default)]
    q: String,
}

struct Card {
    id: String,
    title: String,
    category: String,
    price: String,
    kind_label: &'static str,
    stock: Option<i64>,
    sold_out: bool,
}

struct CategoryLink {
    href: String,
    label: String,
    count: i64,
    here: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct IndexPage {
    products: Vec<Card>,
    categories: Vec<CategoryLink>,
    all_here: bool,
    q: String,
    category: String,
    next_href: Option<String>,
    first_href: Option<String>,
    w: Ui,
}

/// A storefront address with its filters (each part percent-encoded).
fn href(category: &str, q: &str, cursor: Option<&str>) -> String {
    let mut pairs = Vec::new();
    if !category.is_empty() {
        pairs.push(("category", category));
    }
    if !q.is_empty() {
        pairs.push(("q", q));
    }
    if let Some(c) = cursor {
        pairs.push(("cursor", c));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("/?{query}"),
        _ => "/".to_string(),
    }
}

pub(super) async fn index(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Query(query): Query<StorefrontQuery>,
) -> Result<Response, PageError> {
    let l = page.ui.lang();
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let category = query.category.trim().chars().take(40).collect::<String>();
    let q = query.q.trim().chars().take(64).collect::<String>();
    let (items, next) = app.storefront(Some(&category), Some(&q), cursor, PAGE_SIZE).await?;
    let categories = app.storefront_categories().await?;
    let html = IndexPage {
        products: items.iter().map(|p| card(l, p)).collect(),
        all_here: category.is_empty(),
        categories: categories
            .into_iter()
            .map(|(code, count)| CategoryLink {
                href: href(&code, &q, None),
                label: category_label(l, &code),
                here: code == category,
                count,
            })
            .collect(),
        next_href: next.as_deref().map(|c| href(&category, &q, Some(c))),
        first_href: cursor.map(|_| href(&category, &q, None)),
        q,
        category,
        w: page.ui,
    };
    Ok(html.into_response())
}

fn card(l: super::i18n::Lang, p: &ProductView) -> Card {
    Card {
        id: p.id.clone(),
        title: p.title.clone(),
        category: category_label(l, &p.category),
        price: yuan(p.price_minor),
        kind_label: kind_label(l, &p.delivery_kind),
        stock: p.stock,
        sold_out: p.stock.is_some_and(|n| n <= 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storefront_addresses_carry_their_filters_encoded() {
        assert_eq!(href("", "", None), "/");
        assert_eq!(href("game_cards", "", None), "/?category=game_cards");
        assert_eq!(href("", "王者 60", Some("c1")), "/?q=%E7%8E%8B%E8%80%85+60&cursor=c1");
    }
}
