//! Errors as pages: `PageError` and the mapping from the use cases' errors.

use super::private_headers;
use super::zh::{field_zh, invalid_zh, refusal_zh};
use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use danbao_app::AppError;

/// An error as a page: a status and a message fit to show a buyer.
pub(super) struct PageError {
    pub(super) status: StatusCode,
    /// The page's heading; none: the status's generic one.
    title: Option<&'static str>,
    pub(super) message: String,
    /// Seconds to wait, sent as `Retry-After` (429 pages).
    pub(super) retry_after_s: Option<i64>,
    /// Instead of a page, send the browser here (a console page without a login).
    redirect: Option<&'static str>,
}

impl PageError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            title: None,
            message: message.into(),
            retry_after_s: None,
            redirect: None,
        }
    }

    /// A console page asked for without a session: to the login page.
    pub(super) fn login_required() -> PageError {
        PageError {
            redirect: Some("/login"),
            ..PageError::new(StatusCode::SEE_OTHER, "请先登录")
        }
    }

    /// A page that is not this viewer's to see looks like one that does not exist.
    pub(super) fn page_not_found() -> PageError {
        PageError::new(StatusCode::NOT_FOUND, "您要找的页面不存在")
    }

    pub(super) fn order_not_found() -> PageError {
        PageError {
            title: Some(ORDER_NOT_FOUND),
            ..PageError::new(StatusCode::NOT_FOUND, ORDER_NOT_FOUND)
        }
    }

    pub(super) fn complaint_not_found() -> PageError {
        PageError {
            title: Some(COMPLAINT_NOT_FOUND),
            ..PageError::new(StatusCode::NOT_FOUND, COMPLAINT_NOT_FOUND)
        }
    }
}

const ORDER_NOT_FOUND: &str = "订单不存在";
const COMPLAINT_NOT_FOUND: &str = "投诉不存在";

impl From<AppError> for PageError {
    fn from(e: AppError) -> PageError {
        use StatusCode as S;
        match e {
            AppError::NotFound("order") => PageError::order_not_found(),
            AppError::NotFound("complaint") => PageError::complaint_not_found(),
            AppError::NotFound("product") => PageError::new(S::NOT_FOUND, "商品不存在或已下架"),
            AppError::NotFound(_) => PageError::new(S::NOT_FOUND, "您要找的内容不存在"),
            AppError::Validation { field, problem } => PageError::new(
                S::UNPROCESSABLE_ENTITY,
                format!("{}：{}", field_zh(field), invalid_zh(&problem)),
            ),
            AppError::Refused(r @ danbao_domain::Refusal::QueryPasswordLocked { retry_after_s, .. }) => PageError {
                retry_after_s: Some(retry_after_s),
                ..PageError::new(S::TOO_MANY_REQUESTS, refusal_zh(&r))
            },
            AppError::Refused(r) => PageError::new(S::CONFLICT, refusal_zh(&r)),
            AppError::RateLimited { retry_after_s } => PageError {
                title: Some("请求过于频繁"),
                retry_after_s: Some(retry_after_s),
                ..PageError::new(
                    S::TOO_MANY_REQUESTS,
                    format!("请求过于频繁，请 {retry_after_s} 秒后再试"),
                )
            },
            AppError::Unauthenticated | AppError::BadCredentials => {
                PageError::new(S::UNAUTHORIZED, "请先登录后再进行此操作")
            }
            AppError::Forbidden(_) => PageError::new(S::FORBIDDEN, "您无权进行此操作"),
            AppError::ProviderUnavailable(why) => {
                tracing::warn!(error = %why, "payment provider unavailable");
                PageError::new(S::BAD_GATEWAY, "支付通道暂时不可用，请稍后重试")
            }
            e @ (AppError::BadSignature
            | AppError::BadNotification(_)
            | AppError::Store(_)
            | AppError::Ledger(_)
            | AppError::Internal(_)) => {
                tracing::error!(error = %e, "web page failed");
                PageError::new(S::INTERNAL_SERVER_ERROR, "系统繁忙，请稍后重试")
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let Some(to) = self.redirect {
            return (private_headers(), axum::response::Redirect::to(to)).into_response();
        }
        let title = match (self.title, self.status) {
            (Some(t), _) => t,
            (None, StatusCode::NOT_FOUND) => "未找到",
            (None, s) if s.is_server_error() => "系统繁忙",
            (None, _) => "无法完成操作",
        };
        let page = ErrorPage {
            title: title.to_string(),
            message: self.message,
        };
        let mut resp = (self.status, private_headers(), page).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s.max(1)));
        }
        resp
    }
}

/// A complaint use case's error as a page error; `kind_message` explains a bad `kind`.
pub(super) fn complaint_error(e: AppError, kind_message: &str) -> PageError {
    match e {
        AppError::Validation { field: "kind", .. } => PageError::new(StatusCode::UNPROCESSABLE_ENTITY, kind_message),
        other => other.into(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
}
