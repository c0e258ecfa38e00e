//! The platform's public API, from the outside, as the chaos run's buyers, seller and
//! admin use it.

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{backoff, str_field};

pub(super) struct Api {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: Value,
}

impl Answer {
    pub(super) fn problem_type(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }
}

impl Api {
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// For setup and checks, while no process is being killed: retries transport errors
    /// and 5xx a few times, then insists on `expect`.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        let answer = self.call_raw(method.clone(), path, token, body).await?;
        if answer.status != expect {
            bail!(
                "{method} {path}: expected {expect}, got {} {}",
                answer.status,
                answer.body
            );
        }
        Ok(answer.body)
    }

    pub(super) async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        const ATTEMPTS_MAX: u32 = 20;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(method.clone(), path, token, body).await {
                Ok(a) if !a.status.is_server_error() => return Ok(a),
                Ok(a) if attempt >= ATTEMPTS_MAX => return Ok(a),
                Err(e) if attempt >= ATTEMPTS_MAX => return Err(e).with_context(|| format!("{method} {path}")),
                _ => backoff().await,
            }
        }
    }

    pub(super) async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({"username": username, "password": password});
        let v = self
            .call(Method::POST, "/api/v1/sessions", None, Some(&body), StatusCode::OK)
            .await?;
        str_field(&v, "token")
    }

    pub(super) async fn register(&self, username: &str, password: &str, role: &str) -> anyhow::Result<String> {
        let body = json!({"username": username, "password": password, "role": role});
        self.call(Method::POST, "/api/v1/accounts", None, Some(&body), StatusCode::CREATED)
            .await?;
        self.login(username, password).await
    }
}
